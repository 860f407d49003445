"""Plots that help find why a CNN's accuracy is low (matplotlib).

``pip install matplotlib`` (or ``cnnfix[plot]``) to use them. Each function
draws on the axes it is given, or a new figure, and returns what it drew on.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "plot_confusion_matrix",
    "plot_diagnosis",
    "plot_feature_maps",
    "plot_history",
    "plot_lr_find",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "cnnfix's plots need matplotlib: pip install matplotlib (or "
            "pip install 'cnnfix[plot]')."
        ) from exc
    return plt


def _axes(ax=None):
    if ax is not None:
        return ax
    return _pyplot().subplots()[1]


def plot_history(estimator, *, ax=None):
    """Loss and accuracy per epoch of a fitted cnnfix CNN (its ``history_``),
    training and validation. Returns the axes (loss left, accuracy right)."""
    history = estimator if isinstance(estimator, dict) else _history(estimator)
    if ax is None:
        ax = _pyplot().subplots(1, 2, figsize=(10, 3.5))[1]
    loss_ax, acc_ax = ax
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for name, target in (("loss", loss_ax), ("accuracy", acc_ax)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if f"{prefix}{name}" in history:
                target.plot(
                    epochs[: len(history[f"{prefix}{name}"])],
                    history[f"{prefix}{name}"],
                    style,
                    label="validation" if prefix else "training",
                )
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
    from sklearn.metrics import ConfusionMatrixDisplay

    _pyplot()
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
    from ._keras import import_keras
    from ._validation import validate_images

    check_is_fitted(estimator)
    keras = import_keras()
    image = validate_images(estimator, np.asarray(image)[None], reset=False)
    convs = [
        layer
        for layer in estimator.model_.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    if not convs:
        raise ValueError("The model has no Conv2D layer to show.")
    probe = keras.Model(estimator.model_.inputs, [c.output for c in convs])
    maps = probe.predict_on_batch(image)
    maps = maps if isinstance(maps, list) else [maps]
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(figsize=(1.3 * (max_channels + 1), 1.4 * len(convs)))
    axes = fig.subplots(len(convs), max_channels + 1, squeeze=False)
    for row, (layer, activation) in zip(
        axes, zip(convs, maps, strict=True), strict=True
    ):
        row[0].imshow(image[0, ..., 0], cmap="gray")
        row[0].set_title("input" if layer is convs[0] else "", fontsize=8)
        row[0].set_ylabel(layer.name, fontsize=8)
        for c, ax in enumerate(row[1:]):
            if c < activation.shape[-1]:
                ax.imshow(np.asarray(activation)[0, ..., c], cmap="viridis")
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("Feature maps per convolution layer")
    return fig


def plot_lr_find(result, *, ax=None):
    """The loss of a learning-rate range test (an
    :class:`~cnnfix.diagnostics.LRFinderResult`) against the learning rate,
    on a log scale, with the suggestion marked. Returns the axes."""
    ax = _axes(ax)
    ax.plot(result.learning_rates, result.losses)
    ax.axvline(
        result.suggestion,
        color="C3",
        linestyle="--",
        label=f"suggestion {result.suggestion:.2g}",
    )
    ax.set(
        xscale="log",
        xlabel="learning rate",
        ylabel="training loss (smoothed)",
        title="Learning-rate range test",
    )
    ax.legend()
    return ax


def plot_diagnosis(diagnosis, X=None, *, max_images=8):
    """The figures behind a Diagnosis: class counts, the loss curves of its
    fits and, with ``X``, the most telling images of each image finding."""
    plt = _pyplot()
    image_findings = (
        [f for f in diagnosis.findings if f.indices] if X is not None else []
    )
    histories = diagnosis.details.get("histories") or []
    rows = 1 + len(image_findings)
    fig = plt.figure(figsize=(max(10, 1.3 * max_images), 3.2 * rows))
    top = fig.subfigures(rows, 1, squeeze=False)[:, 0] if rows > 1 else [fig]
    axes = top[0].subplots(1, 2)
    counts = diagnosis.details.get("class_counts", {})
    axes[0].bar(list(counts), list(counts.values()))
    axes[0].set(title="images per class", xlabel="class", ylabel="count")
    for i, history in enumerate(histories):
        axes[1].plot(history["loss"], label=f"fit {i + 1} training")
        if "val_loss" in history:
            axes[1].plot(history["val_loss"], "--", label=f"fit {i + 1} validation")
    axes[1].set(title="loss per epoch", xlabel="epoch")
    if histories:
        axes[1].legend(fontsize=7)
    for sub, finding in zip(top[1:], image_findings, strict=False):
        shown = finding.indices[:max_images]
        image_axes = sub.subplots(1, max_images, squeeze=False)[0]
        for ax, index in zip(image_axes, shown, strict=False):
            ax.imshow(np.asarray(X)[index].squeeze(), cmap="gray")
            ax.set_title(str(index), fontsize=8)
        for ax in image_axes:
            ax.set_xticks([]), ax.set_yticks([])
        sub.suptitle(f"{finding.code}: {finding.title}", fontsize=9)
    return fig
