"""cnnfix: find and fix the usual reasons a convolutional network has low accuracy.

Importing cnnfix does not import TensorFlow or Keras; they load on the first
``fit``.
"""

from .architectures import build_cnn, compile_cnn
from .balance import ClassBalancer, make_pipeline
from .base import BaseCNNClassifier
from .dropout import DropoutCNN
from .tuned import TunedCNNClassifier

__version__ = "0.1.0"

__all__ = [
    "BaseCNNClassifier",
    "ClassBalancer",
    "DropoutCNN",
    "TunedCNNClassifier",
    "__version__",
    "build_cnn",
    "compile_cnn",
    "make_pipeline",
]
