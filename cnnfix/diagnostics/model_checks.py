"""Checks that need a trained model: label noise and the training run.

Each reads what the cross-validation fits of :func:`cnnfix.diagnose` left
(out-of-fold probabilities, accuracies, loss curves) and returns a list of
:class:`~cnnfix.diagnostics.report.Finding`; the numbers of their rules are
the ``thresholds`` argument (:class:`~.thresholds.ModelThresholds`).
"""

from collections import Counter

import numpy as np
from scipy.ndimage import median_filter

from .calibration import reliability
from .report import Finding, counted
from .thresholds import MODEL_THRESHOLDS


def check_label_noise(proba, y_encoded, classes, *, thresholds=MODEL_THRESHOLDS):
    """Suspected label errors, from out-of-fold probabilities, most certain
    first.

    A sample is suspect when a model that did not train on it predicts
    another class and gives its label less than half the probability of a
    uniform guess, ``1 / (2 * n_classes)`` (0.05 for ten classes). Suspects
    are ranked by that probability, lowest first, and it is given per
    suspect as ``label_quality`` in the evidence. The rule looks for very
    low probabilities because a model unsure between similar classes
    (shirts and T-shirts) gives moderate ones to its own errors, and a
    flipped label a very low one; benchmarks/bench_diagnose.py measures its
    recall and precision.
    """
    n, k = proba.shape
    given = proba[np.arange(n), y_encoded]
    predicted = proba.argmax(axis=1)
    rows = np.flatnonzero((predicted != y_encoded) & (given < 1 / (2 * k)))
    if not len(rows):
        return []
    rows = rows[np.argsort(given[rows], kind="stable")]
    share = len(rows) / n
    pairs = Counter(f"{classes[y_encoded[i]]} -> {classes[predicted[i]]}" for i in rows)
    return [
        Finding(
            "label_noise",
            "warning" if share >= thresholds.noise_warn_fraction else "info",
            f"{counted(len(rows), 'label')} ({share:.1%}) "
            f"{'looks' if len(rows) == 1 else 'look'} wrong: out of fold, the model "
            f"predicts another class and gives the label under {1 / (2 * k):.2g}.",
            {
                "n_suspects": len(rows),
                "fraction": share,
                "given -> suggested": dict(pairs.most_common(10)),
                "suggested_labels": [str(classes[predicted[i]]) for i in rows[:50]],
                "label_quality": [round(float(given[i]), 4) for i in rows[:50]],
            },
            "Review and relabel these samples (most suspect first), or drop "
            "them: X, y = np.delete(X, idx, 0), np.delete(y, idx)",
            rows,
        )
    ]


def check_calibration(proba, y_encoded, *, thresholds=MODEL_THRESHOLDS):
    """Probabilities more confident than the model is right.

    From out-of-fold probabilities: their expected calibration error
    (:func:`~cnnfix.diagnostics.calibration.reliability` over
    ``calibration_bins`` bins) above ``max_calibration_error``, with a mean
    confidence above the accuracy. It is "info": it does not lower
    accuracy, but thresholds, rankings and costs computed from the
    probabilities are off.
    """
    n_bins = thresholds.calibration_bins
    result = reliability(proba, y_encoded, n_bins=n_bins)
    ece, confidence = result["ece"], result["mean_confidence"]
    accuracy = result["accuracy_overall"]
    if ece <= thresholds.max_calibration_error or confidence <= accuracy:
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
                "n_bins": n_bins,
            },
            "Calibrate the probabilities on held-out folds: "
            'CalibratedClassifierCV(estimator, method="temperature", cv=3) '
            "(scikit-learn 1.9 misreads integer labels other than 0..k-1 "
            "there: fit it on LabelEncoder().fit_transform(y))",
        )
    ]


def check_predictions(folds, classes, *, thresholds=MODEL_THRESHOLDS):
    """A model that predicts (almost) only one class.

    ``folds`` holds one ``(predicted, true)`` pair of encoded labels per
    cross-validation fit; the fit whose top class takes the largest share of
    its predictions is reported when that share is at least
    ``collapse_share`` and the class is at most ``collapse_true_share`` of
    the data.
    """
    counted = [(np.bincount(p, minlength=len(classes)), t) for p, t in folds]
    counts, true = max(counted, key=lambda fold: fold[0].max() / fold[0].sum())
    top = int(counts.argmax())
    share, true_share = counts[top] / counts.sum(), float(np.mean(true == top))
    if share < thresholds.collapse_share or true_share > thresholds.collapse_true_share:
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
                "predicted_counts": dict(zip(classes, counts, strict=True)),
            },
            "Balance the classes and check the learning rate: "
            "make_pipeline(ClassBalancer(), DropoutCNN(class_weight='balanced'))",
        )
    ]


def check_fit(train_accuracy, test_accuracy, *, thresholds=MODEL_THRESHOLDS):
    """Over- or underfitting, from the mean training and held-out accuracy
    of the cross-validation fits (``overfit_gap``, ``underfit_accuracy``)."""
    gap = train_accuracy - test_accuracy
    accuracies = {
        "train_accuracy": float(train_accuracy),
        "held_out_accuracy": float(test_accuracy),
        "gap": float(gap),
    }
    if gap > thresholds.overfit_gap:
        code, title, suggestion = (
            "overfitting",
            f"Training accuracy {train_accuracy:.3f} is {gap:.3f} above "
            f"held-out accuracy {test_accuracy:.3f}: the model memorises.",
            "Regularise: DropoutCNN(dropout=0.5, augmentation='standard', "
            "weight_decay=1e-4, early_stopping=True)",
        )
    elif train_accuracy < thresholds.underfit_accuracy:
        code, title, suggestion = (
            "underfitting",
            f"Training accuracy is only {train_accuracy:.3f}: the model "
            "does not fit the training data.",
            "Give it more capacity and time, or search for it: "
            "TunedCNNClassifier(max_epochs=20)",
        )
    else:
        return []
    return [Finding(code, "warning", title, accuracies, suggestion)]


def check_learning_rate(histories, n_classes, *, thresholds=MODEL_THRESHOLDS):
    """A learning rate too high (the training loss diverges, or it ends no
    better than a guess after jumping around) or too low (it barely falls),
    from the training-loss curves: one Keras history dict per
    cross-validation fit. No curves, no finding.

    Only the training loss is judged: the validation loss of a small set
    swings from epoch to epoch however well the model learns. Each curve is
    smoothed (a running median of 3 epochs), and a learning rate is too
    high only on evidence that noise cannot give: a loss that became
    NaN/inf in any fit, or, in most fits, a smoothed loss that ends at or
    above chance level (``log(n_classes)``) after a peak over
    ``exploded_loss`` times chance or oscillations (``max_swing``). A loss
    that falls to well below chance is never a learning-rate problem,
    whatever its first epochs did; one that falls by less than
    ``min_loss_drop`` is too low.
    """
    losses = [np.asarray(h["loss"], dtype=float) for h in histories if h.get("loss")]
    if not losses:
        return []
    evidence = _loss_evidence(losses, n_classes)
    chance = evidence["chance_loss"]
    diverged = [not np.all(np.isfinite(loss)) for loss in losses]
    exploded = evidence["peak_loss"] > thresholds.exploded_loss * chance
    unstable = exploded | (evidence["relative_swing"] > thresholds.max_swing)
    failing = unstable & (evidence["end_loss"] >= chance)  # and no better than chance
    drop = np.median(evidence["relative_drop"])
    if any(diverged) or 2 * sum(failing) > len(losses):
        code, severity, verb = "learning_rate_too_high", "error", "Lower"
        evidence = {**evidence, "diverged": diverged}
        how = "jumps around and ends no better than chance"
        if any(diverged):
            how = "became NaN/inf"
        title = f"The training loss {how} instead of falling."
    elif drop < thresholds.min_loss_drop:
        code, severity, verb = "learning_rate_too_low", "warning", "Raise"
        title = f"The training loss fell by only {drop:.1%} over training."
    else:
        return []
    suggestion = (
        f"{verb} the learning rate (10x) or find one: "
        "lr_find(DropoutCNN(), X, y).suggestion"
    )
    return [Finding(code, severity, title, evidence, suggestion)]


def _loss_evidence(losses, n_classes):
    """Per curve: its first and last loss, its smoothed end (``end_loss``),
    its peak, how far it fell (smoothed end against the start), and how much
    it swings around its smoothed curve (relative to its level: a loss that
    jumps around oscillates; one that falls or creeps does not). With the
    loss of a chance-level guess."""
    finite = [loss[np.isfinite(loss)] for loss in losses]
    # A running median of 3 epochs (the ends kept): one bad epoch does not move it.
    smooth = [median_filter(f, size=3, mode="nearest") if len(f) else f for f in finite]
    drops = [
        (loss[0] - s[-1]) / abs(loss[0]) if np.isfinite(loss[0]) and len(s) else 0.0
        for loss, s in zip(losses, smooth, strict=True)
    ]
    swings = [
        float(np.mean(np.abs(f - s)) / np.mean(np.abs(s))) if len(f) > 2 else 0.0
        for f, s in zip(finite, smooth, strict=True)
    ]
    return {  # arrays for the rules; the Finding makes them lists
        "first_loss": np.array([loss[0] for loss in losses]),
        "last_loss": np.array([loss[-1] for loss in losses]),
        "end_loss": np.array([s[-1] if len(s) else np.nan for s in smooth]),
        "peak_loss": np.array([f.max() if len(f) else np.nan for f in finite]),
        "relative_drop": np.array(drops, dtype=float),
        "relative_swing": np.array(swings),
        "chance_loss": float(np.log(n_classes)),
    }
