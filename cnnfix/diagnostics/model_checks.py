"""Checks that need a trained model: label noise and the training run."""

import numpy as np

from .report import Finding

__all__ = [
    "check_calibration",
    "check_fit",
    "check_label_noise",
    "check_learning_rate",
    "check_predictions",
    "reliability",
]

#: Share of suspected label errors above which label noise is a warning.
NOISE_WARN_FRACTION = 0.05

#: Training minus held-out accuracy above which the model overfits.
OVERFIT_GAP = 0.10

#: Training accuracy below which (with a small gap) the model underfits.
UNDERFIT_ACCURACY = 0.80

#: Relative drop of the training loss below which the learning rate is too low.
MIN_LOSS_DROP = 0.05

#: Mean distance of the training loss from its smoothed curve, relative to
#: its level, above which it oscillates rather than falls or creeps.
MAX_SWING = 0.05

#: Equal-width bins of the top probability, for the calibration error.
CALIBRATION_BINS = 15

#: Expected calibration error above which out-of-fold probabilities are
#: reported as overconfident. Measured out of fold (cv=3): a default
#: DropoutCNN 0.007 on digits, 0.038 on 1,500 Fashion-MNIST images; one
#: trained 60 epochs without dropout or early stopping 0.104 on the latter.
MAX_CALIBRATION_ERROR = 0.05

#: A training loss above this many times the chance loss has blown up.
EXPLODED_LOSS = 3.0


def check_label_noise(proba, y_encoded, classes):
    """Suspected label errors, from out-of-fold probabilities, most certain
    first.

    A sample is suspect when a model that did not train on it predicts
    another class and gives its label less than half the probability of a
    uniform guess, ``1 / (2 * n_classes)`` (0.05 for ten classes). Suspects
    are ranked by that probability, lowest first, and it is given per
    suspect as ``label_quality`` in the evidence.

    Measured on Fashion-MNIST (10,000 images, 10% of labels flipped to
    another class, the quick CNN, 3 folds) and digits (1,797, likewise),
    recall / precision: this rule 0.839 / 0.911 and 0.922 / 1.000;
    confident learning's per-class thresholds (Northcutt et al. 2021, the
    previous rule) 0.732 / 0.631 and 0.771 / 0.979; its
    ``prune_by_noise_rate`` 0.895 / 0.590 and 0.883 / 0.946. Harder data
    make the model itself unsure between similar classes (shirts and
    T-shirts): those errors carry moderate probabilities, a flipped label a
    very low one.
    """
    n, k = proba.shape
    given = proba[np.arange(n), y_encoded]
    predicted = proba.argmax(axis=1)
    rows = np.flatnonzero((predicted != y_encoded) & (given < 1 / (2 * k)))
    if not len(rows):
        return []
    rows = rows[np.argsort(given[rows], kind="stable")]
    share = len(rows) / n
    pairs = {}
    for i in rows:
        key = f"{classes[y_encoded[i]]} -> {classes[predicted[i]]}"
        pairs[key] = pairs.get(key, 0) + 1
    return [
        Finding(
            "label_noise",
            "warning" if share >= NOISE_WARN_FRACTION else "info",
            f"{len(rows)} labels ({share:.1%}) look wrong: out of fold, the model "
            f"predicts another class and gives the label under {1 / (2 * k):.2g}.",
            {
                "n_suspects": len(rows),
                "fraction": share,
                "given -> suggested": dict(
                    sorted(pairs.items(), key=lambda kv: -kv[1])[:10]
                ),
                "suggested_labels": [str(classes[predicted[i]]) for i in rows[:50]],
                "label_quality": [round(float(given[i]), 4) for i in rows[:50]],
            },
            "Review and relabel these samples (most suspect first), or drop "
            "them: X, y = np.delete(X, idx, 0), np.delete(y, idx)",
            rows,
        )
    ]


def reliability(proba, y_encoded, n_bins=CALIBRATION_BINS):
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
    gaps = np.where(count > 0, np.abs(accuracy - mean_conf), 0.0)
    return {
        "confidence": mean_conf,
        "accuracy": accuracy,
        "count": count,
        "edges": edges,
        "ece": float(np.sum(gaps * count) / len(proba)),
        "mean_confidence": float(confidence.mean()),
        "accuracy_overall": float(correct.mean()),
    }


def check_calibration(proba, y_encoded):
    """Probabilities more confident than the model is right.

    From out-of-fold probabilities: their expected calibration error
    (:func:`reliability`, 15 bins) above :data:`MAX_CALIBRATION_ERROR`,
    with a mean confidence above the accuracy. It is "info": it does not
    lower accuracy, but thresholds, rankings and costs computed from the
    probabilities are off.
    """
    result = reliability(proba, y_encoded)
    ece, confidence = result["ece"], result["mean_confidence"]
    accuracy = result["accuracy_overall"]
    if ece <= MAX_CALIBRATION_ERROR or confidence <= accuracy:
        return []
    return [
        Finding(
            "overconfident",
            "info",
            f"The predicted probabilities are overconfident: {confidence:.1%} "
            f"sure on average, {accuracy:.1%} right (calibration error "
            f"{ece:.3f}).",
            {
                "ece": ece,
                "mean_confidence": confidence,
                "accuracy": accuracy,
                "n_bins": CALIBRATION_BINS,
            },
            "Calibrate the probabilities on held-out folds: "
            'CalibratedClassifierCV(estimator, method="temperature", cv=3) '
            "(scikit-learn 1.9 misreads integer labels other than 0..k-1 "
            "there: fit it on LabelEncoder().fit_transform(y))",
        )
    ]


def check_predictions(folds, classes):
    """A model that predicts (almost) only one class.

    ``folds`` holds one ``(predicted, true)`` pair of encoded labels per
    cross-validation fit; the fit whose top class takes the largest share of
    its predictions is reported.
    """
    worst = None
    for predicted, true in folds:
        counts = np.bincount(predicted, minlength=len(classes))
        top = int(counts.argmax())
        share = counts[top] / len(predicted)
        if worst is None or share > worst[0]:
            worst = (share, top, counts, float(np.mean(true == top)))
    share, top, counts, true_share = worst
    if share < 0.9 or true_share > 0.75:
        return []
    return [
        Finding(
            "majority_class_collapse",
            "error",
            f"The model predicts class {classes[top]!s} for {share:.0%} of images, "
            f"which make up {true_share:.0%} of the data.",
            {
                "predicted_class": str(classes[top]),
                "predicted_share": float(share),
                "true_share": true_share,
                "predicted_counts": {
                    str(c): int(n) for c, n in zip(classes, counts, strict=True)
                },
            },
            "Balance the classes and check the learning rate: "
            "make_pipeline(ClassBalancer(), DropoutCNN(class_weight='balanced'))",
        )
    ]


def check_fit(train_accuracy, test_accuracy):
    """Over- or underfitting, from the mean training and held-out accuracy
    of the cross-validation fits."""
    gap = train_accuracy - test_accuracy
    accuracies = {
        "train_accuracy": float(train_accuracy),
        "held_out_accuracy": float(test_accuracy),
        "gap": float(gap),
    }
    if gap > OVERFIT_GAP:
        return [
            Finding(
                "overfitting",
                "warning",
                f"Training accuracy {train_accuracy:.3f} is {gap:.3f} above "
                f"held-out accuracy {test_accuracy:.3f}: the model memorises.",
                accuracies,
                "Regularise: DropoutCNN(dropout=0.5, augmentation='standard', "
                "weight_decay=1e-4, early_stopping=True)",
            )
        ]
    if train_accuracy < UNDERFIT_ACCURACY:
        return [
            Finding(
                "underfitting",
                "warning",
                f"Training accuracy is only {train_accuracy:.3f}: the model "
                "does not fit the training data.",
                accuracies,
                "Give it more capacity and time, or search for it: "
                "TunedCNNClassifier(max_epochs=20)",
            )
        ]
    return []


def check_learning_rate(histories, n_classes):
    """A learning rate too high (the training loss diverges, or it ends no
    better than a guess after jumping around) or too low (it barely falls),
    from the training-loss curves: one Keras history dict per
    cross-validation fit. No curves, no finding.

    Only the training loss is judged: the validation loss of a small set
    swings from epoch to epoch however well the model learns. Each curve is
    smoothed (a running median of 3 epochs), and a learning rate is too
    high only on evidence that noise cannot give: a loss that became
    NaN/inf in any fit, or, in most fits, a smoothed loss that ends at or
    above chance level (``log(n_classes)``) after a peak over 3 times chance
    or oscillations (see :data:`MAX_SWING`). A loss that falls to well
    below chance is never a learning-rate problem, whatever its first
    epochs did.
    """
    losses = [np.asarray(h["loss"], dtype=float) for h in histories if h.get("loss")]
    if not losses:
        return []
    evidence = _loss_evidence(losses, n_classes)
    chance = evidence["chance_loss"]
    diverged = [not np.all(np.isfinite(loss)) for loss in losses]
    unstable = [
        peak > EXPLODED_LOSS * chance or swing > MAX_SWING
        for peak, swing in zip(
            evidence["peak_loss"], evidence["relative_swing"], strict=True
        )
    ]
    not_learning = [end >= chance for end in evidence["end_loss"]]
    failing = [u and n for u, n in zip(unstable, not_learning, strict=True)]
    if any(diverged) or 2 * sum(failing) > len(losses):
        return [
            Finding(
                "learning_rate_too_high",
                "error",
                "The training loss "
                + (
                    "became NaN/inf"
                    if any(diverged)
                    else "jumps around and ends no better than chance"
                )
                + " instead of falling.",
                {**evidence, "diverged": diverged},
                "Lower the learning rate (10x) or find one: "
                "lr_find(DropoutCNN(), X, y).suggestion",
            )
        ]
    if np.median(evidence["relative_drop"]) < MIN_LOSS_DROP:
        return [
            Finding(
                "learning_rate_too_low",
                "warning",
                "The training loss fell by only "
                f"{np.median(evidence['relative_drop']):.1%} over training.",
                evidence,
                "Raise the learning rate (10x) or find one: "
                "lr_find(DropoutCNN(), X, y).suggestion",
            )
        ]
    return []


def _smoothed(loss):
    """Running median of 3 epochs (the ends kept): one bad epoch does not
    move it."""
    if len(loss) < 3:
        return loss
    middle = np.median(np.stack([loss[:-2], loss[1:-1], loss[2:]]), axis=0)
    return np.concatenate([loss[:1], middle, loss[-1:]])


def _loss_evidence(losses, n_classes):
    """Per curve: its first and last loss, its smoothed end (``end_loss``),
    its peak, how far it fell (smoothed end against the start), and how much
    it swings around its smoothed curve (relative to its level: a loss that
    jumps around oscillates; one that falls or creeps does not). With the
    loss of a chance-level guess."""
    finite = [loss[np.isfinite(loss)] for loss in losses]
    smooth = [_smoothed(f) if len(f) else f for f in finite]
    drops = [
        (loss[0] - s[-1]) / abs(loss[0]) if np.isfinite(loss[0]) and len(s) else 0.0
        for loss, s in zip(losses, smooth, strict=True)
    ]
    swings = [
        float(np.mean(np.abs(f - s)) / np.mean(np.abs(s))) if len(f) > 2 else 0.0
        for f, s in zip(finite, smooth, strict=True)
    ]
    return {
        "first_loss": [float(loss[0]) for loss in losses],
        "last_loss": [float(loss[-1]) for loss in losses],
        "end_loss": [float(s[-1]) if len(s) else float("nan") for s in smooth],
        "peak_loss": [float(f.max()) if len(f) else float("nan") for f in finite],
        "relative_drop": [float(d) for d in drops],
        "relative_swing": swings,
        "chance_loss": float(np.log(n_classes)),
    }
