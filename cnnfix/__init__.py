"""cnnfix: find and fix the usual reasons a convolutional network has low accuracy.

Importing cnnfix does not import TensorFlow or Keras; they load on the first
``fit``.
"""

from .architectures import build_cnn, compile_cnn
from .balance import ClassBalancer, make_pipeline
from .base import BaseCNNClassifier
from .diagnostics import Diagnosis, Finding, diagnose, lr_find
from .dropout import DropoutCNN
from .persistence import load
from .plotting import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_history,
)
from .tuned import TunedCNNClassifier

__version__ = "0.1.0"

__all__ = [
    "BaseCNNClassifier",
    "ClassBalancer",
    "Diagnosis",
    "DropoutCNN",
    "Finding",
    "TunedCNNClassifier",
    "__version__",
    "build_cnn",
    "compile_cnn",
    "diagnose",
    "load",
    "lr_find",
    "make_pipeline",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_history",
]
