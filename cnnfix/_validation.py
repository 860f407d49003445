"""Checks of images, labels and weights shared by every cnnfix estimator.

Every check here runs before TensorFlow sees the data, so bad input gets a
message from cnnfix that says what was wrong and how to fix it.
"""

import os
from math import isqrt
from numbers import Number

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from ._input import INPUT_POLICY, check_image_size
from ._input.files import named, unreadable_in_X
from ._input.headers import fit_size
from .exceptions import UnreadableImageError

#: Files whose headers set the image size and colour of a fit on file
#: paths: this many spread evenly over X (all of them when fewer).
HEADER_SAMPLE = 1000


def infer_image_shape(n_features, image_shape=None):
    """Image shape (height, width, channels) for flat rows of ``n_features``.

    ``image_shape`` wins when given; otherwise a perfect square d = s*s is read
    as an (s, s, 1) image, and any other d as a (d, 1, 1) column so that every
    2-D input can be fitted.
    """
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 2:
            shape += (1,)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(
                "image_shape must be (height, width) or (height, width, channels) "
                f"of positive ints; got {image_shape!r}."
            )
        if int(np.prod(shape)) != n_features:
            raise ValueError(
                f"image_shape={shape} holds {int(np.prod(shape))} values per image, "
                f"but X has {n_features} features per sample. Pass an image_shape "
                "whose product is the number of columns of X, or pass X as "
                "(n, height, width, channels)."
            )
        return shape
    side = isqrt(n_features)
    return (side, side, 1) if side * side == n_features else (n_features, 1, 1)


def validate_images(
    estimator,
    X,
    y="no_validation",
    *,
    reset,
    image_shape=None,
    image_size=None,
    max_side=INPUT_POLICY.working_side,
):
    """Validate X (and y) and return X as float32 images (n, h, w, c), or as
    a 1-D array of file paths.

    X may be (n, h, w, c) images, (n, h, w) single-channel images, or flat
    (n, d) rows (see :func:`infer_image_shape`). With ``reset=True`` the image
    shape is learned and stored as ``estimator.image_shape_``; otherwise X must
    match it. scikit-learn's ``validate_data`` runs on the flattened view, so
    ``n_features_in_`` is height * width * channels and NaN, inf, sparse,
    complex and empty input get scikit-learn's standard messages.

    X may also hold file paths (see :func:`as_paths`); they are returned as
    a 1-D object array of str after checking that every file exists. With
    ``reset=True`` the headers of up to :data:`HEADER_SAMPLE` files spread
    evenly over X set ``image_shape_``: ``image_size``, else the files' size
    when they share one, else one working size for the whole fit
    (:func:`cnnfix._input.working_size` with ``max_side``, recorded as
    ``working_size_`` and stated at ``verbose >= 1``); 1 channel when all of
    them are grey, else 3. ``working_size_`` is None in every other case.
    """
    if reset:
        check_image_size(image_size)
    paths = as_paths(X)
    if paths is not None:
        return _validate_paths(
            estimator, paths, y, reset=reset, image_size=image_size, max_side=max_side
        )
    if not reset and hasattr(estimator, "image_shape_"):
        _refuse_single_image(X, estimator.image_shape_)
    X, sample_shape = _flatten(X)
    if not reset and sample_shape and sample_shape != tuple(estimator.image_shape_):
        raise ValueError(
            f"Expected images of shape {tuple(estimator.image_shape_)} (as in "
            f"fit); got X with per-image shape {sample_shape}. Resize the "
            "images to the training size, or refit on images of this size."
        )
    if y is not None and not isinstance(y, str):  # "no_validation": no y
        check_labels(y)
    out = validate_data(estimator, _as_numeric(X), y, reset=reset, dtype=np.float32)
    X, y = (out, None) if isinstance(y, str) else out
    if reset:
        estimator.image_shape_ = sample_shape or infer_image_shape(
            X.shape[1], image_shape
        )
        estimator.working_size_ = None
    images = X.reshape((X.shape[0], *estimator.image_shape_))
    return images if y is None else (images, y)


def _is_path(value):
    return isinstance(value, str | os.PathLike)


def as_paths(X):
    """X as a 1-D object array of path strings when it holds file paths.

    File paths are a 1-D array, list or tuple of str or ``pathlib.Path``, a
    pandas Series of them, or a DataFrame with one such column. Returns None
    for anything else (images), and raises a clear error for paths in a
    shape the estimators cannot take: one path alone, a 2-D array of
    strings, a DataFrame of several columns, paths mixed with arrays.
    Nothing is read from disk here but the list itself.
    """
    refuse_single_path(X)
    columns = getattr(X, "columns", None)
    if columns is not None:  # a DataFrame
        if not any(_is_path(v) for v in X.iloc[:1].to_numpy().ravel()):
            return None
        if len(columns) != 1:
            raise ValueError(
                f"Expected file paths in one column; got a DataFrame of "
                f"{len(columns)} columns {list(columns)[:5]}. Select the column "
                "of paths, for example X=df['path']."
            )
        X = X.iloc[:, 0]
    if isinstance(X, list | tuple):
        kinds = [_is_path(v) for v in X]
        if not any(kinds):
            return None
        if not all(kinds):
            other = next(v for v, k in zip(X, kinds, strict=True) if not k)
            raise TypeError(
                f"Expected either file paths or images in X, not both; got "
                f"{sum(kinds)} paths and {len(kinds) - sum(kinds)} items of "
                f"type {type(other).__name__}. Pass only paths (str or "
                "pathlib.Path), or decode the files first with "
                "cnnfix.datasets.read_images(paths, image_size=64)."
            )
        return _path_array(X)
    # A pandas Series (its .values may be an extension array, not NumPy's).
    values = X.to_numpy() if hasattr(X, "to_numpy") else X
    if not (isinstance(values, np.ndarray) and _is_path(next(values.flat, None))):
        return None
    if values.ndim == 1:
        return _path_array(values)
    if values.ndim == 2:
        raise ValueError(
            f"Expected file paths as a 1-D array (n_samples,); got a 2-D array "
            f"of strings with shape {values.shape}, such as "
            f"{str(values.flat[0])!r}. Pass one column of paths (X[:, 0]) or "
            "X.ravel(); if the strings are pixel values, convert them with "
            "X.astype(np.float32)."
        )
    return None  # images of strings: _as_numeric says what is wrong


def refuse_single_path(X):
    """A clear error when X is one path (str or path-like) rather than a
    batch: a folder points to ``load_image_folder``, a file to a list of
    one. Anything else passes."""
    if not _is_path(X):
        return
    path = os.fspath(X)
    if os.path.isdir(path):
        raise ValueError(
            f"Expected a batch of images or file paths; got the folder {path!r}. "
            "List its images and labels first: paths, y = "
            f"cnnfix.datasets.load_image_folder({path!r}, as_paths=True); then "
            "pass paths as X and y as the labels."
        )
    raise ValueError(
        f"Expected a batch of images or file paths; got a single path "
        f"{path!r}. Pass a list of one: [{path!r}]."
    )


def _path_array(values):
    """Paths as a 1-D object array of str; a clear error for other items."""
    for i, value in enumerate(values):
        if not _is_path(value):
            raise TypeError(
                f"Expected file paths (str or pathlib.Path) in X; item {i} is "
                f"{value!r} of type {type(value).__name__}. Drop or fix that "
                "row (missing paths are often None or NaN)."
            )
    return np.array([os.fspath(value) for value in values], dtype=object)


def check_paths_exist(paths):
    """Raise FileNotFoundError naming the paths that are not files."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"Expected X to hold paths of image files; {len(missing)} of the "
            f"{len(paths)} paths are not files: {named(missing)}. Check them "
            "(relative paths are read from the current directory, "
            f"{os.getcwd()!r}), or list a class-folder tree with "
            "cnnfix.datasets.load_image_folder(folder, as_paths=True)."
        )


def _validate_paths(estimator, paths, y, *, reset, image_size, max_side):
    """validate_images for a 1-D array of file paths."""
    if len(paths) == 0:
        raise ValueError(
            "Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is "
            "required. Pass at least one file path."
        )
    has_y = y is not None and not isinstance(y, str)  # "no_validation": no y
    if has_y:
        y = column_or_1d(check_labels(y), warn=True)
        check_consistent_length(paths, y)
    check_paths_exist(paths)
    if reset:
        rows = np.unique(np.linspace(0, len(paths) - 1, HEADER_SAMPLE).astype(int))
        try:
            size, channels, chosen = fit_size(paths[rows], image_size, max_side)
        except UnreadableImageError as error:
            raise unreadable_in_X(error) from error
        estimator.image_shape_ = (*size, channels)
        estimator.working_size_ = size if chosen else None
        if chosen and getattr(estimator, "verbose", 0) >= 1:
            print(
                f"{type(estimator).__name__}: the image files differ in size; "
                f"all are resized to {size[0]}x{size[1]} (height x width), the "
                f"median aspect of {len(rows)} files with the longer side at most "
                f"{max_side} px. Pass image_size=(height, width) to choose the "
                "size yourself."
            )
        estimator.n_features_in_ = int(np.prod(estimator.image_shape_))
        estimator.__dict__.pop("feature_names_in_", None)
    elif estimator.image_shape_[2] not in (1, 3):
        raise ValueError(
            f"This model was fitted on images of shape {estimator.image_shape_} "
            f"({estimator.image_shape_[2]} channels); files decode to 1 (grey) "
            "or 3 (RGB) channels. Pass images as an array of that shape."
        )
    return (paths, y) if has_y else paths


def _refuse_single_image(X, image_shape):
    """A clear error for one image where a batch of them is expected: X of
    the fitted per-image shape (or (height, width) for grey images) is one
    image, which would otherwise be read as a batch of rows of it."""
    shape = tuple(np.shape(X)) if hasattr(X, "shape") else ()
    grey = image_shape[2] == 1
    single = {tuple(image_shape), tuple(image_shape[:2] if grey else image_shape)}
    if shape in single and shape[0] != 1:  # (1, ...) is a valid batch of one
        expected = ", ".join(str(side) for side in image_shape)
        raise ValueError(
            f"Expected a batch of images of shape (n, {expected}); got X of "
            f"shape {shape}, a single image. Pass a batch of one: X[None] (or "
            "np.expand_dims(X, 0))."
        )


#: How many row numbers a message about missing labels lists.
_ROWS_SHOWN = 10


def check_labels(y, n_samples=None):
    """Check that every sample has a label, and return y as a NumPy array.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels: a NumPy array, a list or a pandas Series of ints,
        strings, bools or floats.
    n_samples : int, default=None
        The number of images. When given, y must be 1-D with one label per
        image; when None, the shape of y is not checked here.

    Returns
    -------
    y : ndarray
        ``numpy.asarray(y)``; the object passed in is not modified.

    Raises
    ------
    ValueError
        If y does not hold one label per image, or some labels are missing:
        None, NaN, ``pandas.NA`` or NaT. The message gives the rows of the
        first missing labels, how many there are, and how to drop them.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix._validation import check_labels
    >>> check_labels([3, 7, 3])
    array([3, 7, 3])
    >>> check_labels(np.array([3.0, np.nan, 7.0]))
    Traceback (most recent call last):
    ...
    ValueError: Expected a label for every image; got y with 1 missing label (None...
    """
    _refuse_mixed_types(y)
    y = np.asarray(y)
    if n_samples is not None and (y.ndim != 1 or len(y) != n_samples):
        raise ValueError(
            f"Expected one label per image: y of shape ({n_samples},); got y "
            f"with shape {y.shape}. Pass a 1-D array of labels."
        )
    if y.ndim == 0 or y.size == 0:
        return y
    missing = np.flatnonzero(_missing(y).reshape(len(y), -1).any(axis=1))
    if count := len(missing):
        rows = [int(row) for row in missing[:_ROWS_SHOWN]]
        first = f" (the first {_ROWS_SHOWN} of {count})" if count > _ROWS_SHOWN else ""
        raise ValueError(
            f"Expected a label for every image; got y with {count} missing "
            f"label{'s' * (count != 1)} (None or NaN) at rows {rows}{first}. "
            "Drop the unlabelled images first: keep = ~pandas.isna(y) (or "
            "keep = ~np.isnan(y) for float labels); X, y = X[keep], y[keep]."
        )
    return y


def _refuse_mixed_types(y):
    """scikit-learn's refusal of labels that mix strings and numbers, which
    ``np.asarray`` would otherwise turn into strings without a word."""
    if getattr(y, "dtype", np.dtype(object)).kind != "O":
        return  # one NumPy dtype: one type
    labels = [v for v in np.asarray(y, dtype=object).ravel() if not _is_missing(v)]
    text = [v for v in labels if isinstance(v, str)]
    other = [v for v in labels if isinstance(v, Number | np.bool_)]
    if text and other:
        raise ValueError(
            "Mix of label input types (string and number): y holds strings "
            f"such as {text[0]!r} and numbers such as {other[0]!r}. Expected "
            "labels of one type, as scikit-learn does. Convert them to one type "
            "first, for example y = [str(label) for label in y]."
        )


def _missing(y):
    """Boolean array, True where a label is missing."""
    if y.dtype.kind != "O":  # NaN and NaT are the values unequal to themselves
        return y != y
    return np.frompyfunc(_is_missing, 1, 1)(y).astype(bool)


def _is_missing(value):
    """None, or a value unequal to itself: NaN, NaT (NumPy's and pandas')."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: NA != NA is NA, which has no truth value
        return True
    except ValueError:  # an array as a label: not missing (and rejected later)
        return False


def _flatten(X):
    """X as 2-D rows, and the per-image shape when X has one (3-D or 4-D)."""
    if not hasattr(X, "shape"):  # lists of images; DataFrames and sparse keep theirs
        X = _stack(X)
    shape = tuple(X.shape)
    if len(shape) == 1 and _holds_text(values := np.asarray(X)):
        raise ValueError(
            f"Expected images of shape (n, height, width, channels); got a 1-D X "
            f"of {len(X)} strings, such as {str(values[0])!r}. This function does "
            "not read files yet: decode them first, for example with "
            "cnnfix.datasets.read_images(paths, image_size=64) or "
            "cnnfix.datasets.load_image_folder(folder, image_size=64)."
        )
    if len(shape) < 2:
        raise ValueError(
            f"Expected images of shape (n, height, width, channels); got X with "
            f"{len(shape)} dimension{'s' * (len(shape) != 1)}, shape {shape}. "
            "Reshape your data: a 1-D X has one value per sample; pass images "
            "as (n, height, width, channels) or (n, height, width), or flat "
            "rows as (n, n_features)."
        )
    if len(shape) > 4:
        raise ValueError(
            f"Expected images of shape (n, height, width, channels); got X with "
            f"{len(shape)} dimensions, shape {shape}. Reshape X to 4 dimensions, "
            "for example X.reshape(len(X), height, width, channels)."
        )
    if len(shape) in (3, 4):
        sample_shape = shape[1:] if len(shape) == 4 else (*shape[1:], 1)
        return np.reshape(X, (shape[0], int(np.prod(sample_shape)))), sample_shape
    return X, None


def _stack(images):
    """A list of images as one array, with a clear error when their shapes
    differ (NumPy's says "inhomogeneous shape")."""
    try:
        return np.asarray(images)
    except ValueError:
        shapes = sorted({np.shape(image) for image in images}, key=str)
        if len(shapes) < 2:
            raise
        raise ValueError(
            f"Expected images of one size; got a list of {len(images)} images "
            f"of {len(shapes)} shapes, such as {shapes[0]} and {shapes[1]}. "
            "Resize them to one size first, for example with "
            "cnnfix.datasets.read_images(paths, image_size=64) for files, or "
            "cnnfix.datasets.load_image_folder(folder, image_size=64)."
        ) from None


def _holds_text(values):
    """Whether a 1-D array holds strings (file paths, most likely)."""
    return values.dtype.kind in "US" or isinstance(next(iter(values), None), str)


def _as_numeric(X, name="X"):
    """String or object pixels as float32, with a clear error for values that
    are not numbers; any other X is returned as it is."""
    dtype = getattr(X, "dtype", None)
    if dtype is None or dtype.kind not in "OUS":
        return X
    try:
        return np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        # The same class as NumPy's error: TypeError for objects that are not
        # numbers at all (a dict), ValueError for strings that do not parse.
        raise type(error)(
            f"Expected numeric pixel values; got {name} with dtype {dtype} whose "
            f"values are not all numbers ({error}). Decode the images into a "
            "numeric array first, for example with np.asarray(images, "
            "dtype=np.float32)."
        ) from None


def as_images(X, *, name="X"):
    """X as float32 images (n, h, w, c) without an estimator, NaN and inf
    allowed (diagnose reports them rather than refusing them)."""
    X, sample_shape = _flatten(X)
    X = check_array(
        _as_numeric(X, name),
        dtype=np.float32,
        ensure_all_finite=False,
        input_name=name,
    )
    return X.reshape((len(X), *(sample_shape or infer_image_shape(X.shape[1]))))


def encode_labels(y, *, owner):
    """The one label encoding of cnnfix: ``(classes, y_encoded)``.

    ``classes`` are the sorted distinct labels (an estimator's
    ``classes_``) and ``y_encoded`` their positions, as
    ``np.unique(y, return_inverse=True)`` gives them. Labels must be
    classification targets of at least 2 classes; ``owner`` names who needs
    them in the error.

    >>> encode_labels(np.array(["dog", "cat", "dog"]), owner="DropoutCNN")
    (array(['cat', 'dog'], dtype='<U3'), array([1, 0, 1]))
    """
    check_classification_targets(y)
    classes, y_encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs labels of at least 2 classes; got 1 class "
            f"({classes[0]!r}). Check that y holds the labels of every class "
            "you want to recognise."
        )
    return classes, y_encoded.reshape(-1)


def check_sample_weight(sample_weight, X, y_encoded, n_classes):
    """Validate ``sample_weight``: finite, non-negative, with weight on 2+ classes."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float32, ensure_non_negative=True
    )
    per_class = np.bincount(y_encoded, weights=sample_weight, minlength=n_classes)
    if np.count_nonzero(per_class) < 2:
        raise ValueError(
            "sample_weight gives positive weight to only "
            f"{np.count_nonzero(per_class)} class; a classifier needs at least 2 "
            "classes with positive weight. Check for an all-zero weight vector or "
            "remove the classes you do not want to learn from y."
        )
    return sample_weight
