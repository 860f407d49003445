"""Image data sets that need no download: digits, Fashion-MNIST, image folders.

Also the readers of image files, which follow the same decoding rules as
:func:`load_image_folder` and the estimators' file paths:
:func:`list_image_folder`, :func:`read_image`, :func:`read_images`,
:func:`inspect_images` and :func:`read_headers`.
"""

import gzip
import os
from pathlib import Path

import numpy as np

from ._input.decode import checked_arguments, decode_paths, read_image, read_images
from ._input.folder import list_image_folder
from ._input.headers import inspect_images, read_headers

__all__ = [
    "inspect_images",
    "list_image_folder",
    "load_damaged_digits",
    "load_digit_images",
    "load_fashion_mnist",
    "load_image_folder",
    "read_headers",
    "read_image",
    "read_images",
]

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


def load_damaged_digits(random_state=0, *, minority_share=0.15, noise=0.08):
    """Digits with the usual faults planted: imbalance and label noise.

    The digits are split 75/25 (stratified). The training part is made
    imbalanced (classes 5-9 keep about ``minority_share`` of their images)
    and noisy (a ``noise`` share of the remaining labels is flipped to
    another class); the test part stays clean. For demos, tutorials and
    tests of :func:`cnnfix.diagnose`.

    Parameters
    ----------
    random_state : int, default=0
        Seeds the split, the subsampling and the flips.
    minority_share : float, default=0.15
        Share of the images of classes 5-9 kept in training.
    noise : float, default=0.08
        Share of the kept training labels flipped.

    Returns
    -------
    X_train, X_test : ndarray of shape (n, 8, 8, 1), dtype float32
    y_train, y_test : ndarray of shape (n,), dtype int
    flipped : ndarray of int
        Indices into ``y_train`` of the flipped labels.

    Examples
    --------
    >>> from cnnfix.datasets import load_damaged_digits
    >>> X_train, X_test, y_train, y_test, flipped = load_damaged_digits()
    >>> len(flipped), len(y_train), len(y_test)
    (62, 787, 450)
    """
    from sklearn.model_selection import train_test_split

    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    rng = np.random.default_rng(random_state)
    keep = (y_train < 5) | (rng.random(len(y_train)) < minority_share)
    X_train, y_train = X_train[keep], y_train[keep].copy()
    flipped = rng.choice(len(y_train), int(noise * len(y_train)), replace=False)
    y_train[flipped] = (y_train[flipped] + rng.integers(1, 10, len(flipped))) % 10
    return X_train, X_test, y_train, y_test, flipped


def read_idx(path):
    """Read one gzipped IDX file (the MNIST format) into a uint8 array."""
    data = gzip.decompress(Path(path).read_bytes())
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file.")
    ndim = data[3]
    shape = np.frombuffer(data, ">u4", count=ndim, offset=4).tolist()  # big-endian
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
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    candidates = [Path("/usr/share/datasets/fashion-mnist"), home / "fashion-mnist"]
    if path is not None:
        candidates = [Path(path)]
    for folder in candidates:
        files = [folder / name for name in FASHION_MNIST_FILES.values()]
        if all(file.is_file() for file in files):
            X_train, y_train, X_test, y_test = map(read_idx, files)
            return (X_train[..., None], y_train), (X_test[..., None], y_test)
    raise FileNotFoundError(
        f"Fashion-MNIST files {sorted(FASHION_MNIST_FILES.values())} not found in "
        f"{', '.join(str(c) for c in candidates)}. "
        "Install them with `apt-get install -y dataset-fashion-mnist`, or pass "
        "path= to the folder that holds them."
    )


def load_image_folder(
    path,
    *,
    image_size=None,
    color_mode="auto",
    as_paths=False,
    on_error="raise",
    n_jobs=None,
):
    """Your own images from a folder per class, as arrays for any estimator.

    The layout is the one Keras and torchvision read::

        path/
            bolt/   img001.jpg  img002.png ...
            nut/    a.jpg  b.jpg ...

    The folder names are the labels. Files whose extension is not an image
    one (.jpg .jpeg .png .bmp .gif .webp .tif .tiff), hidden files and files
    directly in ``path`` are skipped; images in nested folders of a class
    folder belong to that class. The order is fixed: by class name, then by
    file path. Nothing on disk is modified. The reading itself is
    :func:`list_image_folder` and :func:`read_images`.

    Parameters
    ----------
    path : str or path-like
        The folder holding one sub-folder per class.
    image_size : None, int or (int, int), default=None
        Size ``(height, width)`` every image is resized to (bilinear), or one
        int for squares. None uses the most common size among the files and
        warns (a UserWarning) when some files have another size.
    color_mode : {"auto", "rgb", "grayscale"}, default="auto"
        "rgb" gives 3 channels, "grayscale" 1; "auto" gives 1 when every
        image is stored grey and 3 otherwise.
    as_paths : bool, default=False
        Return the file paths instead of decoding the files (no file is
        opened, so ``image_size``, ``on_error`` and ``n_jobs`` do not act).
    on_error : {"raise", "warn"}, default="raise"
        Files that cannot be decoded: "raise" an error listing them all, or
        "warn" once (a UserWarning listing them) and leave them out of X and
        y.
    n_jobs : int or None, default=None
        Decoding workers (see :func:`cnnfix.datasets.read_images`: processes
        from 4,000 files, threads below). None: one per CPU, at most 8;
        -1: one per CPU.

    Returns
    -------
    X : ndarray of shape (n_images, height, width, channels), dtype uint8
        The pixels; with ``as_paths=True``, an ndarray of shape (n_images,)
        and dtype object holding each file's path as a str (object, not a
        fixed-width str dtype, so that a long path does not pad every other
        one).
    y : ndarray of shape (n_images,), dtype str
        The class folder name of each image.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        As :func:`list_image_folder` for the tree; ValueError also for an
        invalid parameter.
    cnnfix.exceptions.UnreadableImageError
        A ValueError: a file could not be decoded and ``on_error="raise"``.

    See Also
    --------
    list_image_folder : The paths and labels only.
    read_images : Decode a list of files.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from cnnfix.datasets import load_image_folder
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for label, shade in [("bolt", 0), ("nut", 255)]:
    ...         (Path(root) / label).mkdir()
    ...         for i in range(3):
    ...             pixels = np.full((32, 32), shade, dtype=np.uint8)
    ...             Image.fromarray(pixels).save(Path(root) / label / f"{i}.png")
    ...     X, y = load_image_folder(root, image_size=16)
    ...     paths, _ = load_image_folder(root, as_paths=True)
    >>> X.shape, X.dtype, y.tolist()
    ((6, 16, 16, 1), dtype('uint8'), ['bolt', 'bolt', 'bolt', 'nut', 'nut', 'nut'])
    >>> Path(paths[0]).name
    '0.png'
    """
    size, mode = checked_arguments(image_size, color_mode, on_error, n_jobs)
    paths, y = list_image_folder(path)
    if as_paths:
        return paths, y
    X, kept = decode_paths(list(paths), size, mode, n_jobs, on_error=on_error)
    return X, y[kept]
