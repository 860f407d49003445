"""Save a fitted cnnfix CNN as one Keras ``.keras`` file, and load it back.

The file is Keras's own archive, so ``keras.saving.load_model`` reads the
model from it, with one more entry, ``cnnfix.json``: the estimator's class,
its parameters and its fitted attributes (labels, image shape, history,
search results) as JSON. Loading uses Keras's safe mode and unpickles
nothing, so unlike a pickle a file from elsewhere cannot run code.
Parameters that are Python objects (callbacks, a balancer, an optimizer or
augmentation layers, a callable search space) cannot be stored that way:
they come back as their defaults, and ``save`` warns which.

The archive itself is :mod:`cnnfix._archive`; this module sits above the
estimators, since :func:`load` builds one of them.
"""

from ._archive import read_metadata, save
from ._keras import import_keras
from .dropout import DropoutCNN
from .transfer import TransferCNN
from .tuning import TunedCNNClassifier

__all__ = ["load", "save"]

#: The estimators a file can hold, by class name.
ESTIMATORS = {c.__name__: c for c in (DropoutCNN, TransferCNN, TunedCNNClassifier)}


def load(path):
    """Read an estimator written by :func:`save` (Keras safe mode; nothing
    is unpickled). Returns a fitted DropoutCNN, TransferCNN or
    TunedCNNClassifier."""
    class_name, params, fitted = read_metadata(path)
    if class_name not in ESTIMATORS:
        raise ValueError(
            f"{path} holds a {class_name!r}; expected one of {sorted(ESTIMATORS)}."
        )
    estimator = ESTIMATORS[class_name](**params)
    vars(estimator).update(fitted)
    estimator.model_ = import_keras().saving.load_model(path, safe_mode=True)
    return estimator
