"""cnnfix: find and fix the usual reasons a convolutional network has low accuracy.

``import cnnfix`` is cheap: the public names below load their module on first
use (PEP 562), so TensorFlow, Keras and imbalanced-learn are imported only by
what needs them, and Keras not before the first ``fit``.
"""

import importlib

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_LAZY = {
    name: module
    for module, names in (
        ("architectures", ("build_cnn", "compile_cnn")),
        ("balance", ("ClassBalancer", "make_pipeline")),
        ("base", ("BaseCNNClassifier",)),
        ("diagnostics", ("Diagnosis", "Finding", "diagnose", "gradcam", "lr_find")),
        ("diagnostics", ("most_confused", "top_losses")),
        ("dropout", ("DropoutCNN",)),
        ("exceptions", ("MissingFindingError", "UnreadableImageError", "WorkerError")),
        ("persistence", ("load",)),
        ("plotting", ("plot_confusion_matrix", "plot_feature_maps", "plot_gradcam")),
        ("plotting", ("plot_history", "plot_reliability_diagram", "plot_top_losses")),
        ("transfer", ("TransferCNN",)),
        ("tuning", ("TunedCNNClassifier",)),
    )
    for name in names
}

#: Public submodules, reachable as attributes (``cnnfix.datasets``) without
#: importing them first.
_SUBMODULES = {
    "balance",
    "datasets",
    "diagnostics",
    "exceptions",
    "tuning",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
