"""Plots that help find why a CNN's accuracy is low (matplotlib).

``pip install matplotlib`` (or ``cnnfix[plot]``) to use them. Each function
draws on the axes it is given, or a new figure, and returns what it drew on.
The figures of the diagnostics' own results (reliability, a diagnosis, a
learning-rate range test) are drawn by :mod:`cnnfix.diagnostics.figures`
and offered here with the others.
"""

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.utils.validation import check_is_fitted

from ._keras import import_keras
from ._matplotlib import pyplot
from ._validation import validate_images
from .architectures import ensemble_members
from .diagnostics.figures import (
    plot_diagnosis,
    plot_lr_find,
    plot_reliability_diagram,
)
from .diagnostics.fixes import final_step
from .diagnostics.interpret import gradcam, top_losses

__all__ = [
    "plot_confusion_matrix",
    "plot_diagnosis",
    "plot_feature_maps",
    "plot_gradcam",
    "plot_history",
    "plot_lr_find",
    "plot_reliability_diagram",
    "plot_top_losses",
]


def plot_history(estimator, *, ax=None):
    """Loss and accuracy per epoch of a fitted cnnfix CNN (its ``history_``),
    training and validation. Returns the axes (loss left, accuracy right)."""
    history = estimator if isinstance(estimator, dict) else _history(estimator)
    if ax is None:
        ax = pyplot().subplots(1, 2, figsize=(10, 3.5))[1]
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for name, target in zip(("loss", "accuracy"), ax, strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + name)
            if values is not None:
                label = "validation" if prefix else "training"
                target.plot(epochs[: len(values)], values, style, label=label)
        target.set(xlabel="epoch", ylabel=name, title=name)
        target.legend()
    return ax


def _history(estimator):
    check_is_fitted(estimator)
    if not getattr(estimator, "history_", None):
        raise ValueError(
            f"{type(estimator).__name__} has no training history (history_); "
            "plot_history needs a fitted cnnfix CNN or a Keras history dict."
        )
    return estimator.history_


def plot_confusion_matrix(estimator, X, y, *, normalize="true", ax=None):
    """Confusion matrix of a fitted classifier on (X, y), rows normalised by
    default so that the diagonal is each class's recall. Returns
    scikit-learn's ConfusionMatrixDisplay."""
    pyplot()
    return ConfusionMatrixDisplay.from_estimator(
        estimator,
        X,
        y,
        normalize=normalize,
        ax=ax,
        values_format=".2f",
        colorbar=False,
    )


def plot_feature_maps(estimator, image, *, max_channels=8, fig=None):
    """Activations of each convolution layer of a fitted cnnfix CNN for one
    image: a row per layer, up to ``max_channels`` channels each. Returns
    the Figure."""
    check_is_fitted(estimator)
    keras = import_keras()
    image = validate_images(estimator, np.asarray(image)[None], reset=False)
    # An ensemble (TunedCNNClassifier's finalists) shows its heaviest CNN.
    model = ensemble_members(estimator.model_)[0]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError("The model has no Conv2D layer to show.")
    maps = keras.Model(model.inputs, [c.output for c in convs]).predict_on_batch(image)
    maps = maps if isinstance(maps, list) else [maps]
    if fig is None:
        fig = pyplot().figure(figsize=(1.3 * (max_channels + 1), 1.4 * len(convs)))
    axes = fig.subplots(len(convs), max_channels + 1, squeeze=False)
    for row, layer, activation in zip(axes, convs, maps, strict=True):
        row[0].imshow(image[0, ..., 0], cmap="gray")
        row[0].set_title("input" if layer is convs[0] else "", fontsize=8)
        row[0].set_ylabel(layer.name, fontsize=8)
        for c, ax in enumerate(row[1 : 1 + activation.shape[-1]]):
            ax.imshow(np.asarray(activation)[0, ..., c], cmap="viridis")
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("Feature maps per convolution layer")
    return fig


def plot_gradcam(
    estimator, X, y=None, *, layer=None, alpha=0.5, max_images=16, ncols=8, fig=None
):
    """Grad-CAM heat maps over the images: where a fitted cnnfix CNN found
    each image's class (see :func:`cnnfix.diagnostics.gradcam`).

    Parameters
    ----------
    estimator : DropoutCNN, TunedCNNClassifier or Pipeline
        A fitted cnnfix CNN, or a Pipeline ending in one.
    X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features)
        Images; the first ``max_images`` are shown.
    y : array-like of shape (n_samples,) or None, default=None
        True labels: the maps explain these classes and each title reads
        ``true / predicted``. None explains the predicted class.
    layer : str or None, default=None
        The feature map's layer (see :func:`~cnnfix.diagnostics.gradcam`).
    alpha : float, default=0.5
        Opacity of the heat map over the image.
    max_images : int, default=16
        How many images to show.
    ncols : int, default=8
        Images per row.
    fig : matplotlib Figure or None, default=None
        Where to draw; None makes a new one.

    Returns
    -------
    fig : matplotlib Figure
    """
    X = np.asarray(X)[:max_images]
    y = None if y is None else np.asarray(y)[:max_images]
    maps = gradcam(estimator, X, y=y, layer=layer)
    predicted = estimator.predict(X)
    titles = [
        str(p) if y is None else f"{t} / {p}"
        for t, p in zip(predicted if y is None else y, predicted, strict=True)
    ]
    fig = _image_grid(X, maps, titles, ncols=ncols, alpha=alpha, fig=fig)
    fig.suptitle("Grad-CAM" + ("" if y is None else ": true / predicted"))
    return fig


def plot_top_losses(estimator, X, y, k=16, *, ncols=8, alpha=0.5, fig=None):
    """The ``k`` images with the largest loss (most confidently wrong
    first) with their true and predicted labels, their loss and, for a
    cnnfix CNN, the Grad-CAM heat map of the predicted class: what the
    model saw in it (see :func:`cnnfix.diagnostics.top_losses`).

    Parameters
    ----------
    estimator : classifier
        A fitted classifier with ``predict_proba``; heat maps need a cnnfix
        CNN (or a Pipeline ending in one).
    X : array-like of shape (n_samples, ...)
        Images.
    y : array-like of shape (n_samples,)
        Their true labels.
    k : int, default=16
        How many images to show.
    ncols : int, default=8
        Images per row.
    alpha : float, default=0.5
        Opacity of the heat maps.
    fig : matplotlib Figure or None, default=None
        Where to draw; None makes a new one.

    Returns
    -------
    fig : matplotlib Figure
        Each title reads ``true / predicted`` and the loss.
    """
    worst = top_losses(estimator, X, y, k=k)
    images = np.asarray(X)[worst.indices]
    maps = None
    if hasattr(final_step(estimator), "model_"):
        maps = gradcam(estimator, images, y=worst.predicted)
    titles = [
        f"{t} / {p}\nloss {loss:.2f}"
        for t, p, loss in zip(worst.true, worst.predicted, worst.losses, strict=True)
    ]
    fig = _image_grid(images, maps, titles, ncols=ncols, alpha=alpha, fig=fig)
    fig.suptitle("Top losses: true / predicted")
    return fig


def _image_grid(images, maps, titles, *, ncols, alpha, fig):
    """Images (with heat maps over them when ``maps`` is not None) in a
    grid of ``ncols`` columns, each with its title."""
    images = np.asarray(images, dtype=float)
    if images.ndim == 2:  # flat rows: show them as the squares they were
        images = images.reshape(len(images), round(np.sqrt(images.shape[1])), -1)
    ncols = max(1, min(ncols, len(images)))
    nrows = max(1, -(-len(images) // ncols))
    if fig is None:
        fig = pyplot().figure(figsize=(1.6 * ncols, 1.9 * nrows))
    for i, ax in enumerate(fig.subplots(nrows, ncols, squeeze=False).ravel()):
        ax.set_xticks([]), ax.set_yticks([])
        if i >= len(images):
            ax.set_axis_off()
            continue
        image = _displayable(images[i])
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if maps is not None:
            ax.imshow(maps[i], cmap="jet", alpha=alpha, vmin=0, vmax=1)
        ax.set_title(titles[i], fontsize=8)
    return fig


def _displayable(image):
    """An image as imshow takes it: 2-D grey, or RGB scaled to [0, 1]."""
    if image.ndim == 3 and image.shape[-1] != 3:
        return image[..., 0]
    if image.ndim == 3:
        low, high = np.nanmin(image), np.nanmax(image)
        return (image - low) / (high - low) if high > low else image * 0
    return image
