"""cnnfix: find and fix the usual reasons a convolutional network has low accuracy.

``import cnnfix`` is cheap: the public names below load their module on first
use (PEP 562), so TensorFlow, Keras and imbalanced-learn are imported only by
what needs them, and Keras not before the first ``fit``.
"""

import importlib

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_LAZY = {
    "BaseCNNClassifier": "base",
    "ClassBalancer": "balance",
    "Diagnosis": "diagnostics",
    "DropoutCNN": "dropout",
    "Finding": "diagnostics",
    "MissingFindingError": "exceptions",
    "TransferCNN": "transfer",
    "TunedCNNClassifier": "tuning",
    "UnreadableImageError": "exceptions",
    "WorkerError": "exceptions",
    "build_cnn": "architectures",
    "compile_cnn": "architectures",
    "diagnose": "diagnostics",
    "gradcam": "diagnostics",
    "load": "persistence",
    "lr_find": "diagnostics",
    "make_pipeline": "balance",
    "most_confused": "diagnostics",
    "plot_confusion_matrix": "plotting",
    "plot_feature_maps": "plotting",
    "plot_gradcam": "plotting",
    "plot_history": "plotting",
    "plot_reliability_diagram": "plotting",
    "plot_top_losses": "plotting",
    "top_losses": "diagnostics",
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
