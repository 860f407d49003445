"""Calibration: how far predicted probabilities are from the accuracy they
promise. Pure NumPy, so the checks and the plots both build on it."""

import numpy as np


def reliability(proba, y_encoded, n_bins=15):
    """How far predicted probabilities are from the accuracy they promise.

    The images are put in ``n_bins`` equal-width bins of their top
    probability (the confidence of the prediction).

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities.
    y_encoded : ndarray of shape (n_samples,)
        True classes, as column numbers of ``proba``.
    n_bins : int, default=15
        Number of bins over [0, 1].

    Returns
    -------
    result : dict
        ``confidence`` and ``accuracy``: mean top probability and accuracy
        per bin (NaN for an empty bin); ``count`` per bin; ``edges``
        (``n_bins + 1``); ``ece``: the expected calibration error, the mean
        over bins of ``|accuracy - confidence|`` weighted by their share of
        the images (Guo et al. 2017); ``mean_confidence`` and
        ``accuracy_overall``.
    """
    proba = np.asarray(proba, dtype=float)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y_encoded)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(bins, confidence, n_bins) / count
        accuracy = np.bincount(bins, correct, n_bins) / count
    return {
        "confidence": mean_conf,
        "accuracy": accuracy,
        "count": count,
        "edges": edges,
        "ece": float(np.nansum(np.abs(accuracy - mean_conf) * count) / len(proba)),
        "mean_confidence": float(confidence.mean()),
        "accuracy_overall": float(correct.mean()),
    }
