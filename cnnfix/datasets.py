"""Image data sets that need no download: digits, and Fashion-MNIST from disk."""

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["load_digit_images", "load_fashion_mnist"]

FASHION_MNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def load_digit_images():
    """scikit-learn's 1,797 8x8 digits as images.

    Returns
    -------
    X : ndarray of shape (1797, 8, 8, 1), dtype float32
        Pixel intensities 0-16.
    y : ndarray of shape (1797,), dtype int
        Digit labels 0-9.

    Examples
    --------
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> X.shape, y.shape
    ((1797, 8, 8, 1), (1797,))
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 8, 8, 1).astype(np.float32), y


def _fashion_mnist_dirs():
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return [
        Path("/usr/share/datasets/fashion-mnist"),
        Path(keras_home) / "datasets" / "fashion-mnist",
    ]


def read_idx(path):
    """Read one gzipped IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file.")
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(path=None):
    """Fashion-MNIST (60,000 + 10,000 28x28 grey images) from local files.

    Nothing is downloaded. The four IDX ``.gz`` files are looked up in
    ``path``, then in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package) and ``$KERAS_HOME/datasets/fashion-mnist``.

    Parameters
    ----------
    path : str or Path, default=None
        Folder holding the four files.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of ndarray
        Images of shape (n, 28, 28, 1) and dtype uint8; labels 0-9.
    """
    candidates = [Path(path)] if path is not None else _fashion_mnist_dirs()
    for folder in candidates:
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES.values()):
            arrays = {
                k: read_idx(folder / name) for k, name in FASHION_MNIST_FILES.items()
            }
            return (
                (arrays["X_train"][..., None], arrays["y_train"]),
                (arrays["X_test"][..., None], arrays["y_test"]),
            )
    raise FileNotFoundError(
        f"Fashion-MNIST files {sorted(FASHION_MNIST_FILES.values())} not found in "
        f"{', '.join(str(c) for c in candidates)}. "
        "Install them with `apt-get install -y dataset-fashion-mnist`, or pass "
        "path= to the folder that holds them."
    )
