"""Checks that need a trained model: label noise and the training run."""

import numpy as np

from .report import Finding

__all__ = [
    "check_fit",
    "check_label_noise",
    "check_learning_rate",
    "check_predictions",
]

#: Share of suspected label errors above which label noise is a warning.
NOISE_WARN_FRACTION = 0.05

#: Training minus held-out accuracy above which the model overfits.
OVERFIT_GAP = 0.10

#: Training accuracy below which (with a small gap) the model underfits.
UNDERFIT_ACCURACY = 0.80

#: Relative drop of the training loss below which the learning rate is too low.
MIN_LOSS_DROP = 0.05

#: Mean epoch-to-epoch change of a stuck loss, relative to its level, above
#: which it oscillates (learning rate too high) rather than creeps (too low).
MAX_SWING = 0.05


def check_label_noise(proba, y_encoded, classes):
    """Suspected label errors by confident learning (Northcutt et al. 2021).

    ``proba`` are out-of-fold predicted probabilities. A sample is suspect
    when the model is confident, by each class's own threshold (the mean
    probability it gives that class on samples labelled with it), of a class
    other than its label, and that class is also its top prediction
    (cleanlab's "both" rule). Suspects are ranked by the margin of the
    confident class over the given one.
    """
    n, k = proba.shape
    thresholds = np.array(
        [
            proba[y_encoded == j, j].mean() if np.any(y_encoded == j) else 1.0
            for j in range(k)
        ]
    )
    above = proba >= thresholds
    confident = np.where(above, proba, -1.0).argmax(axis=1)
    suspect = above.any(axis=1) & (confident != y_encoded)
    suspect &= proba.argmax(axis=1) != y_encoded
    rows = np.flatnonzero(suspect)
    if not len(rows):
        return []
    margin = proba[rows, confident[rows]] - proba[rows, y_encoded[rows]]
    rows = rows[np.argsort(-margin)]
    share = len(rows) / n
    pairs = {}
    for i in rows:
        key = f"{classes[y_encoded[i]]} -> {classes[confident[i]]}"
        pairs[key] = pairs.get(key, 0) + 1
    return [
        Finding(
            "label_noise",
            "warning" if share >= NOISE_WARN_FRACTION else "info",
            f"{len(rows)} labels ({share:.1%}) look wrong: out-of-fold, the model "
            "is confident of another class.",
            {
                "n_suspects": len(rows),
                "fraction": share,
                "given -> suggested": dict(
                    sorted(pairs.items(), key=lambda kv: -kv[1])[:10]
                ),
                "suggested_labels": [str(classes[confident[i]]) for i in rows[:50]],
            },
            "Review and relabel these samples (most suspect first), or drop "
            "them: X, y = np.delete(X, idx, 0), np.delete(y, idx)",
            rows,
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
    """A learning rate too high (the training loss diverges or oscillates)
    or too low (it barely falls), from the training-loss curves: one Keras
    history dict per cross-validation fit. No curves, no finding."""
    losses = [np.asarray(h["loss"], dtype=float) for h in histories if h.get("loss")]
    if not losses:
        return []
    evidence = _loss_evidence(losses, n_classes)
    diverged = [not np.all(np.isfinite(loss)) for loss in losses]
    exploded = [
        bool(np.any(loss[np.isfinite(loss)] > 3 * evidence["chance_loss"]))
        for loss in losses
    ]
    stuck = np.median(evidence["relative_drop"]) < MIN_LOSS_DROP
    swinging = np.median(evidence["relative_swing"]) > MAX_SWING
    if any(diverged) or any(exploded) or (stuck and swinging):
        return [
            Finding(
                "learning_rate_too_high",
                "error",
                "The training loss "
                + ("became NaN/inf" if any(diverged) else "diverges or oscillates")
                + " instead of falling.",
                {**evidence, "diverged": diverged},
                "Lower the learning rate (10x) or find one: "
                "lr_find(DropoutCNN(), X, y).suggestion",
            )
        ]
    if stuck:
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


def _loss_evidence(losses, n_classes):
    """First and last loss of each curve, how far it fell (relative to its
    start) and how much it swings from epoch to epoch (relative to its
    level: a loss that jumps around oscillates; one that creeps does not),
    and the loss of a chance-level guess."""
    drops = [
        (loss[0] - np.nanmin(loss)) / abs(loss[0]) if np.isfinite(loss[0]) else 0.0
        for loss in losses
    ]
    finite = [loss[np.isfinite(loss)] for loss in losses]
    swings = [
        float(np.mean(np.abs(np.diff(f))) / np.mean(np.abs(f))) if len(f) > 2 else 0.0
        for f in finite
    ]
    return {
        "first_loss": [float(loss[0]) for loss in losses],
        "last_loss": [float(loss[-1]) for loss in losses],
        "relative_drop": [float(d) for d in drops],
        "relative_swing": swings,
        "chance_loss": float(np.log(n_classes)),
    }
