"""What a fitted CNN looks at, and where it goes wrong.

- :func:`gradcam`: Grad-CAM heat maps (Selvaraju et al. 2017), the regions
  of each image that raised the score of a class;
- :func:`top_losses`: the images the model gets most confidently wrong;
- :func:`most_confused`: which true class is taken for which, and how often.

They accept a fitted cnnfix CNN (DropoutCNN, TunedCNNClassifier) or a
Pipeline ending in one; :func:`top_losses` and :func:`most_confused` accept
any fitted classifier.
"""

from collections import Counter
from itertools import takewhile
from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._keras import import_keras
from .._validation import check_labels, validate_images
from ..architectures import ensemble_members
from .fixes import final_step

#: Layer types that do not count as "the last feature map": Grad-CAM looks at
#: the map before they shrink or drop it.
_SKIPPED_LAYERS = ("Pooling", "Dropout")


def gradcam(estimator, X, *, y=None, layer=None, batch_size=256):
    """Grad-CAM heat maps: where in each image the network found its class.

    The gradient of a class's score (the logit before the softmax) with
    respect to a convolutional feature map weighs that map; the weighted
    sum over its channels, through a ReLU, is the heat map. It is resized
    to the input (bilinear) and scaled to [0, 1] per image.

    The gradient weighs each position of the map (HiResCAM, Draelos and
    Carin 2020) rather than being averaged over the positions first (the
    original Grad-CAM, Selvaraju et al. 2017). Behind a global-average head
    the two are the same map; behind the Flatten head that cnnfix's CNNs
    use on small images, where each position has weights of its own, only
    the per-position form shows what the model used (on a planted shortcut,
    averaging first can lose the marker entirely).

    Parameters
    ----------
    estimator : DropoutCNN, TunedCNNClassifier or Pipeline
        A fitted cnnfix CNN, or a fitted Pipeline ending in one (X goes
        through the earlier steps' ``transform`` first; resamplers are
        skipped, as in ``predict``).
    X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features)
        Images of the shape the estimator was fitted on (never modified).
    y : label, array-like of shape (n_samples,) or None, default=None
        The class to explain for each image, as a label of the training
        data (one label for all images, or one per image; the true labels
        show what made the model see the right class). None explains the
        predicted class.
    layer : str or None, default=None
        Name of the layer whose output is the feature map. None takes the
        last layer with a 4-D output before the head, skipping pooling and
        dropout layers after it: for cnnfix's CNNs the ReLU of the last
        convolutional block; for a pretrained backbone nested as one layer,
        the backbone's output. Layers inside a nested model cannot be named.
        An average of models (a TunedCNNClassifier's finalists, see
        ``ensemble``) is explained through its heaviest member.
    batch_size : int, default=256
        Images per forward and backward pass: bounds the memory the
        gradients take; the maps do not depend on it.

    Returns
    -------
    heatmaps : ndarray of shape (n_samples, height, width)
        Values in [0, 1], float32; 1 is the hottest position of each image.
        An image whose class score no position raises gets zeros.

    Raises
    ------
    ValueError
        If ``layer`` names no 4-D layer of the model, ``y`` holds labels the
        estimator was not fitted on, or X has the wrong image shape.
    TypeError
        If the estimator is not a cnnfix CNN (it has no ``model_``).

    See Also
    --------
    cnnfix.plotting.plot_gradcam : The heat maps over the images.

    Examples
    --------
    >>> from cnnfix import DropoutCNN
    >>> from cnnfix.diagnostics import gradcam
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> cnn = DropoutCNN(conv_filters=(8,), epochs=2, random_state=0).fit(X, y)
    >>> maps = gradcam(cnn, X[:5])
    >>> maps.shape, bool(maps.min() >= 0), bool(maps.max() <= 1)
    ((5, 8, 8), True, True)
    """
    import tensorflow as tf

    _check_positive_int(batch_size, "batch_size", 256)
    check_is_fitted(estimator)
    cnn = final_step(estimator)
    if not hasattr(cnn, "model_"):
        raise TypeError(
            "gradcam needs a fitted cnnfix CNN (DropoutCNN, TunedCNNClassifier) "
            f"or a Pipeline ending in one; got {type(cnn).__name__}, which has "
            "no Keras model_. Fit a cnnfix estimator and pass it."
        )
    for _, step in getattr(estimator, "steps", [])[:-1]:
        if hasattr(step, "transform"):  # resamplers act in fit only, as in predict
            X = step.transform(X)
    images = validate_images(cnn, X, reset=False)
    # The column of the class to explain for each image.
    if y is None:
        classes = cnn.predict_proba(images).argmax(axis=1)
    else:
        y = np.full(len(images), y) if np.ndim(y) == 0 else y  # one label for all
        classes = _encode(check_labels(y, n_samples=len(images)), cnn.classes_)
    # An ensemble (TunedCNNClassifier's finalists): its heaviest CNN.
    model = ensemble_members(cnn.model_)[0]
    target = _feature_layer(model, layer)
    output = model.layers[-1]
    softmax_dense = (
        type(output).__name__ == "Dense"
        and getattr(output.activation, "__name__", "") == "softmax"
    )
    head = output.input if softmax_dense else model.outputs[0]
    probe = import_keras().Model(model.inputs, [target.output, head])
    maps = []
    for start in range(0, len(images), batch_size):
        batch = slice(start, start + batch_size)
        with tf.GradientTape() as tape:
            features, last = probe(images[batch], training=False)
            if softmax_dense:  # the logit: a softmax near 1 has no gradient
                scores = tf.matmul(last, output.kernel) + output.bias
            else:
                scores = tf.math.log(last + 1e-12)
            score = tf.gather(scores, classes[batch], axis=1, batch_dims=1)
        cam = tf.nn.relu(tf.reduce_sum(tape.gradient(score, features) * features, -1))
        # Resized to the input, then scaled to [0, 1] per image.
        cam = tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")
        maps.append(np.maximum(np.asarray(cam)[..., 0], 0.0))
    maps = np.concatenate(maps).astype(np.float32)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)


def _encode(y, classes):
    """Positions of labels ``y`` in ``classes``; ValueError for unknown ones."""
    unknown = np.setdiff1d(y, classes)
    if len(unknown):
        raise ValueError(
            f"y holds labels the estimator was not fitted on: {unknown[:10].tolist()}; "
            f"expected labels among classes_ {classes.tolist()}. Pass labels of "
            "the training data."
        )
    return np.searchsorted(classes, y)


def _feature_layer(model, name):
    """The layer whose 4-D output Grad-CAM weighs (see :func:`gradcam`)."""
    # The layers with a 4-D output, up to the head.
    spatial = list(takewhile(lambda c: len(c.output.shape) == 4, model.layers[1:]))
    if name is not None:
        names = [c.name for c in spatial]
        if name not in names:
            raise ValueError(
                f"layer={name!r} is not a layer with a 4-D output (a feature "
                f"map) before the model's head; expected one of {names}. "
                "Layers inside a nested model cannot be named: pass the nested "
                "model's own name, or layer=None for the last feature map."
            )
        return spatial[names.index(name)]
    maps = [c for c in spatial if not type(c).__name__.endswith(_SKIPPED_LAYERS)]
    if not maps:
        raise ValueError(
            f"The model {model.name!r} has no layer with a 4-D output (a feature "
            "map) before its head, so there is nothing for Grad-CAM to weigh. "
            "Pass layer= the name of a convolutional layer."
        )
    return maps[-1]


class TopLosses(NamedTuple):
    """The images with the largest loss, largest first (see
    :func:`top_losses`); unpacks as ``indices, losses, true, predicted``.

    Attributes
    ----------
    indices : ndarray of int
        Positions of the images in X.
    losses : ndarray of float
        Their cross-entropy, ``-log p(true class)``.
    true : ndarray
        Their labels, as given.
    predicted : ndarray
        The predicted labels.
    """

    indices: np.ndarray
    losses: np.ndarray
    true: np.ndarray
    predicted: np.ndarray


def top_losses(estimator, X, y, k=16):
    """The ``k`` images with the largest loss: the most confidently wrong
    first, then the least confidently right.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier with ``predict_proba`` and ``classes_`` (a
        cnnfix CNN, a Pipeline, ...).
    X : array-like of shape (n_samples, ...)
        Images the estimator accepts.
    y : array-like of shape (n_samples,)
        Their true labels, among the estimator's ``classes_``.
    k : int, default=16
        How many to return (all images when there are fewer).

    Returns
    -------
    TopLosses
        ``(indices, losses, true, predicted)``, largest loss first.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from cnnfix.diagnostics import top_losses
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=2000).fit(X[:1000], y[:1000])
    >>> worst = top_losses(clf, X[1000:], y[1000:], k=3)
    >>> len(worst.indices), bool(worst.losses[0] >= worst.losses[-1])
    (3, True)
    """
    _check_positive_int(k, "k", 16)
    check_is_fitted(estimator)
    y = check_labels(y, n_samples=len(X))
    classes = np.asarray(estimator.classes_)
    columns = _encode(y, classes)
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    losses = -np.log(np.clip(proba[np.arange(len(y)), columns], 1e-15, None))
    order = np.argsort(-losses, kind="stable")[:k]
    return TopLosses(
        order, losses[order], y[order], classes[proba[order].argmax(axis=1)]
    )


def most_confused(estimator, X, y, *, min_count=1):
    """The pairs of classes the estimator confuses, most often first.

    Parameters
    ----------
    estimator : classifier
        A fitted classifier (a cnnfix CNN, a Pipeline, ...).
    X : array-like of shape (n_samples, ...)
        Images the estimator accepts.
    y : array-like of shape (n_samples,)
        Their true labels.
    min_count : int, default=1
        Pairs confused fewer times are left out.

    Returns
    -------
    table : list of dict
        One ``{"true": label, "predicted": label, "count": int}`` per pair,
        by count (largest first), then by true and predicted label. The
        labels are the original ones. ``pandas.DataFrame(table)`` makes it a
        data frame.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from cnnfix.diagnostics import most_confused
    >>> X, y = [[0]] * 5, ["cat", "cat", "dog", "dog", "dog"]
    >>> most_confused(DummyClassifier().fit(X, y), X, y)
    [{'true': 'cat', 'predicted': 'dog', 'count': 2}]
    """
    if not isinstance(min_count, Integral) or isinstance(min_count, bool):
        raise ValueError(f"min_count must be an int; got {min_count!r}.")
    check_is_fitted(estimator)
    y = check_labels(y, n_samples=len(X))
    # tolist: the labels as plain Python values, for the table.
    pairs = zip(y.tolist(), np.asarray(estimator.predict(X)).tolist(), strict=True)
    counts = Counter((true, guess) for true, guess in pairs if true != guess)
    table = [
        {"true": true, "predicted": guess, "count": n}
        for (true, guess), n in sorted(counts.items())
        if n >= min_count
    ]
    return sorted(table, key=lambda row: -row["count"])  # stable: ties in order


def _check_positive_int(value, name, example):
    """ValueError unless ``value`` is an int of at least 1."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{name} must be a positive int; got {value!r}. Pass {name}={example}, say."
        )
