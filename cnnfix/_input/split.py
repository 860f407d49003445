"""The stratified validation split and the per-sample training weights."""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight


def stratified_split(y, fraction, rng):
    """Indices (train, validation) from a stratified shuffle of labels ``y``.

    Each class gives ``round(fraction * count)`` samples to validation but
    always keeps one for training, so rare classes are never lost from
    training. Returns an empty validation set when ``fraction`` is 0 or the
    data are too small to spare any sample.
    """
    train, val = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = min(int(np.floor(fraction * len(idx) + 0.5)), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))


def subset(idx, X, y, weights):
    """Rows ``idx`` of X, y and weights; the arrays themselves when idx is all."""
    if len(idx) == len(y):
        return X, y, weights
    return X[idx], y[idx], None if weights is None else weights[idx]


def sample_weights(y, classes, class_weight=None, sample_weight=None):
    """Per-sample training weights: ``sample_weight`` times ``class_weight``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Encoded labels: positions in ``classes``.
    classes : ndarray of shape (n_classes,)
        The original labels, sorted.
    class_weight : None, "balanced" or dict, default=None
        "balanced" weights each class by ``n_samples / (n_classes * count)``;
        a dict maps original labels to weights (unnamed classes get 1).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Validated per-sample weights.

    Returns
    -------
    weights : ndarray of shape (n_samples,) or None
        float32 weights, or None when neither kind of weight is given.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix._input.split import sample_weights
    >>> sample_weights(np.array([0, 0, 0, 1]), np.array(["cat", "dog"]), "balanced")
    array([0.6666667, 0.6666667, 0.6666667, 2.       ], dtype=float32)
    """
    if class_weight is None:
        return sample_weight
    if isinstance(class_weight, str):  # "balanced"
        per_class = compute_class_weight(
            "balanced", classes=np.arange(len(classes)), y=y
        )
    else:
        unknown = [k for k in class_weight if k not in set(classes)]
        if unknown:
            raise ValueError(
                f"class_weight names labels {unknown} that are not in y; the "
                f"classes are {classes.tolist()}. Use labels of y as the dict keys."
            )
        per_class = np.array([float(class_weight.get(c, 1.0)) for c in classes])
        if np.any(per_class < 0) or not np.all(np.isfinite(per_class)):
            raise ValueError(
                "class_weight values must be finite and non-negative; got "
                f"{class_weight!r}."
            )
    per_sample = per_class[y].astype(np.float32)
    return per_sample if sample_weight is None else sample_weight * per_sample
