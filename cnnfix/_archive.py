"""A fitted cnnfix CNN as a Keras ``.keras`` archive, and a Keras model as
bytes: what :mod:`cnnfix.persistence`, pickling and the search's worker
process build on. It imports no estimator, so every estimator can use it.

The archive is Keras's own, so ``keras.saving.load_model`` reads the model
from it, with one more entry, :data:`METADATA`: the estimator's class name,
its parameters and its fitted attributes (labels, image shape, history,
search results) as JSON. Reading uses Keras's safe mode and unpickles
nothing, so unlike a pickle a file from elsewhere cannot run code.
Parameters that are Python objects (callbacks, a balancer, an optimizer or
augmentation layers, a callable search space) cannot be stored that way:
they come back as their defaults, and :func:`save` warns which.
"""

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._keras import import_keras
from ._warnings import warn

#: The archive entry that holds the estimator's class, parameters and fitted
#: attributes.
METADATA = "cnnfix.json"

#: The version of that entry's layout; a file of another version is refused.
FORMAT_VERSION = 1


def model_to_bytes(model):
    """A Keras model as the bytes of its ``.keras`` archive (for pickling and
    for sending a model between processes)."""
    with tempfile.TemporaryDirectory(prefix="cnnfix-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data):
    """The Keras model in ``data`` (from :func:`model_to_bytes`), loaded in
    Keras's safe mode."""
    with tempfile.TemporaryDirectory(prefix="cnnfix-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return import_keras().saving.load_model(path, safe_mode=True)


def _encode(value):
    """JSON form of a parameter or fitted attribute; raises TypeError if none."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):  # a weights file, say: kept as its str
        return os.fspath(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufUS":
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _decode(value):
    """A JSON object (``json.loads``'s ``object_hook``) back as the array,
    tuple or dict :func:`_encode` made of it."""
    if "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"])
    if "__tuple__" in value:
        return tuple(value["__tuple__"])
    return value


def _encodable(items):
    stored, dropped = {}, []
    for name, value in items:
        try:
            stored[name] = _encode(value)
        except TypeError:
            dropped.append(name)
    return stored, dropped


def save(estimator, path):
    """Write a fitted cnnfix CNN to ``path`` (a ``.keras`` file).

    Parameters
    ----------
    estimator : DropoutCNN, TransferCNN or TunedCNNClassifier
        A fitted estimator.
    path : str or Path
        Where to write; must end in ``.keras``. An existing file is replaced.
    """
    check_is_fitted(estimator)
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(
            f"Expected a path ending in '.keras' (Keras's format); got {path.name!r}."
        )
    params, dropped = _encodable(estimator.get_params(deep=False).items())
    fitted, _ = _encodable(
        (k, v)
        for k, v in vars(estimator).items()
        if k.endswith("_") and not k.startswith("_") and k != "model_"
    )
    if dropped:
        warn(
            f"{type(estimator).__name__} parameters {dropped} are Python objects "
            "that a .keras file cannot hold safely; the loaded estimator has "
            "their defaults (the trained model is complete). Set them again "
            "after load() before refitting."
        )
    estimator.model_.save(path)
    metadata = {
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": params,
        "fitted": fitted,
    }
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA, json.dumps(metadata))


def read_metadata(path):
    """The class name, parameters and fitted attributes stored in a file
    written by :func:`save` (ValueError for any other file); its model loads
    with ``keras.saving.load_model(path, safe_mode=True)``.

    Returns
    -------
    class_name : str
    params : dict
    fitted : dict
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read(METADATA), object_hook=_decode)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(
            f"{path} is not a file written by cnnfix's save() (no {METADATA} "
            "in a .keras archive). A plain Keras model loads with "
            "keras.saving.load_model."
        ) from exc
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has cnnfix format {metadata.get('format_version')}; this "
            f"cnnfix reads format {FORMAT_VERSION}. Save it again with this version."
        )
    return metadata["class"], metadata["params"], metadata["fitted"]
