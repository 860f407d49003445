"""The finalists' weighted average: greedy ensemble selection, in numpy.

Given each finalist's class probabilities on the validation part,
:func:`ensemble_weights` chooses the weights of their average by greedy
forward selection with replacement (Caruana et al., 2004, "Ensemble
selection from libraries of models"). The Keras model that averages them is
:func:`cnnfix.architectures.average_models`.
"""

import numpy as np


def accuracy(proba, y, sample_weight):
    """The (weighted) share of rows whose most probable class is ``y``."""
    return float(np.average(proba.argmax(axis=1) == y, weights=sample_weight))


def negative_loss(proba, y, sample_weight):
    """Minus the (weighted) cross-entropy of ``proba`` for labels ``y``."""
    picked = np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0)
    return float(np.average(np.log(picked), weights=sample_weight))


#: What the selection maximises, by the objective's metric: the accuracy, or
#: minus the cross-entropy for the loss.
SCORES = {"accuracy": accuracy, "loss": negative_loss}


def ensemble_weights(probabilities, y, sample_weight, metric, *, rounds, margin):
    """Weights of the finalists' average, or ``(None, None)``.

    Start from the finalist whose ``probabilities`` score best on the labels
    ``y`` (the earlier on a tie), then for ``rounds - 1`` rounds add one
    more copy of the finalist that makes the average score best; the weights
    are the copies' shares at the best-scoring round. Return ``(weights,
    score)`` (the score of the loss as the cross-entropy) when that average
    holds more than one finalist and scores better than the best finalist
    alone by more than ``margin``; else ``(None, None)``: the single
    finalist is kept.
    """
    scored = SCORES[metric]
    singles = [scored(p, y, sample_weight) for p in probabilities]
    first = int(np.argmax(singles))
    counts = np.eye(len(probabilities))[first]  # one copy of the first
    total = probabilities[first].copy()
    best, best_counts = singles[first], None
    for _ in range(rounds - 1):
        n = counts.sum() + 1
        scores = [scored((total + p) / n, y, sample_weight) for p in probabilities]
        added = int(np.argmax(scores))
        counts[added] += 1
        total += probabilities[added]
        if np.count_nonzero(counts) > 1 and scores[added] > best + margin:
            best, best_counts = scores[added], counts.copy()
    if best_counts is None:
        return None, None
    return best_counts / best_counts.sum(), -best if metric == "loss" else best
