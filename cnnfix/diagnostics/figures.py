"""Figures of what the diagnostics compute: the reliability diagram, the
figures behind a :class:`~cnnfix.diagnostics.Diagnosis`, and the curve of a
learning-rate range test.

They read results (duck-typed: anything with the attributes they use), so
the results' own ``plot`` methods draw through this module, and
:mod:`cnnfix.plotting` offers them with the other plots. matplotlib is
imported when a figure is drawn.
"""

import numpy as np

from .._matplotlib import axes_for, pyplot
from .calibration import reliability


def plot_lr_find(result, *, ax=None):
    """The loss of a learning-rate range test (an
    :class:`~cnnfix.diagnostics.LRFinderResult`) against the learning rate,
    on a log scale, with the suggestion marked. Returns the axes."""
    ax = axes_for(ax)
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


def plot_reliability_diagram(y, proba, *, classes=None, n_bins=15, ax=None):
    """Accuracy against confidence: how far predicted probabilities are
    from the accuracy they promise (see
    :func:`cnnfix.diagnostics.calibration.reliability`).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels.
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities (``predict_proba``) of held-out images.
    classes : array-like of shape (n_classes,) or None, default=None
        The class of each column of ``proba`` (an estimator's
        ``classes_``); None takes the sorted labels of ``y``.
    n_bins : int, default=15
        Equal-width bins of the top probability.
    ax : matplotlib Axes or None, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        Bars: accuracy per bin; the dashed diagonal is perfect calibration;
        the title gives the expected calibration error (ECE).
    """
    y, proba = np.asarray(y), np.asarray(proba, dtype=float)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    if proba.ndim != 2 or proba.shape != (len(y), len(classes)):
        raise ValueError(
            f"Expected proba of shape (n_samples, n_classes) = ({len(y)}, "
            f"{len(classes)}); got {proba.shape}. Pass predict_proba(X) for the "
            "images whose labels are y, and classes= the estimator's classes_."
        )
    if not np.isin(y, classes).all():
        raise ValueError(
            f"y holds labels that are not among classes {classes.tolist()}. "
            "Pass classes= the estimator's classes_."
        )
    result = reliability(proba, (y[:, None] == classes).argmax(axis=1), n_bins=n_bins)
    ax = axes_for(ax)
    edges, filled = result["edges"], result["count"] > 0
    ax.bar(
        edges[:-1][filled],
        result["accuracy"][filled],
        width=np.diff(edges)[filled],
        align="edge",
        edgecolor="black",
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (top probability)",
        ylabel="accuracy",
        title=f"Reliability (ECE {result['ece']:.3f})",
    )
    ax.legend(fontsize=7, loc="upper left")
    return ax


def plot_diagnosis(diagnosis, X=None, *, max_images=8):
    """The figures behind a Diagnosis: class counts, the loss curves of its
    fits, the reliability diagram of their out-of-fold probabilities (when
    the model checks ran) and, with ``X``, the most telling images of each
    image finding."""
    image_findings = [f for f in diagnosis.findings if f.indices and X is not None]
    histories = diagnosis.details.get("histories") or []
    rows = 1 + len(image_findings)
    fig = pyplot().figure(figsize=(max(10, 1.3 * max_images), 3.2 * rows))
    top = fig.subfigures(rows, 1, squeeze=False)[:, 0] if rows > 1 else [fig]
    proba = diagnosis.details.get("proba")
    axes = top[0].subplots(1, 2 if proba is None else 3)
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
    if proba is not None:
        plot_reliability_diagram(
            diagnosis.details["y_encoded"],
            proba,
            classes=np.arange(proba.shape[1]),
            ax=axes[2],
        )
        axes[2].set_title(axes[2].get_title().replace("Rel", "Out-of-fold rel"))
    for sub, finding in zip(top[1:], image_findings, strict=False):
        image_axes = sub.subplots(1, max_images, squeeze=False)[0]
        for ax, index in zip(image_axes, finding.indices, strict=False):
            ax.imshow(np.asarray(X)[index].squeeze(), cmap="gray")
            ax.set_title(str(index), fontsize=8)
        for ax in image_axes:
            ax.set_xticks([]), ax.set_yticks([])
        sub.suptitle(f"{finding.code}: {finding.title}", fontsize=9)
    return fig
