"""What image files hold, from their headers: size, colour, plain PNG.

:func:`inspect_images` and :func:`read_headers` open each file but decode no
pixel; :func:`plain_pngs` reads a few bytes of each. The argument checks of
the readers (``image_size``, ``color_mode``) and their reports of unreadable
files live here too, shared by :mod:`cnnfix._input.decode`.
"""

import os
from collections import Counter
from numbers import Integral

import numpy as np

from .._warnings import warn
from ..exceptions import UnreadableImageError
from .pixels import (
    CHANNELS,
    COLOR_MODES,
    PNG_END,
    decodes_as_is,
    describe,
    pil_mode,
    plain_png_layout,
    read_header,
)

#: Unreadable files named in one message, so that a thousand stay readable.
MAX_LISTED = 10


def check_image_size(image_size):
    """``image_size`` as a ``(height, width)`` pair of ints, or None.

    Parameters
    ----------
    image_size : None, int or (int, int)
        None, a side for square images, or ``(height, width)``.

    Returns
    -------
    image_size : None or tuple of (int, int)
    """
    if image_size is None:
        return None
    pair = (image_size, image_size) if is_int(image_size) else image_size
    if (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(is_int(side) and side >= 1 for side in pair)
    ):
        return int(pair[0]), int(pair[1])
    raise ValueError(
        "image_size must be None (keep the files' most common size), a positive "
        f"int (square images) or a (height, width) pair of positive ints; got "
        f"{image_size!r}. Use for example image_size=64 or image_size=(48, 64)."
    )


def check_color_mode(color_mode):
    """Raise a clear error unless ``color_mode`` is one of :data:`COLOR_MODES`."""
    if not (isinstance(color_mode, str) and color_mode in COLOR_MODES):
        raise ValueError(
            f"color_mode must be one of {list(COLOR_MODES)}; got {color_mode!r}. "
            '"auto" keeps grey images grey (1 channel) and makes colour ones RGB.'
        )


def is_int(value):
    """Whether ``value`` is an int (a bool is not)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def inspect_images(paths, image_size=None, color_mode="auto"):
    """The size and channels that :func:`read_images` would give ``paths``,
    from the files' headers only (no pixel is decoded).

    Parameters
    ----------
    paths : sequence of str or path-like
        The files (often a sample of a larger set).
    image_size : None, int or (int, int), default=None
        As in :func:`read_images`: None takes the most common size among
        the files, and warns when some files have another size.
    color_mode : {"auto", "rgb", "grayscale"}, default="auto"
        As in :func:`read_images`: "auto" gives 1 channel when every file is
        stored grey and 3 otherwise.

    Returns
    -------
    image_size : tuple of (int, int)
        ``(height, width)``.
    channels : int
        1 or 3.

    Raises
    ------
    cnnfix.exceptions.UnreadableImageError
        If a file cannot be opened; the message lists every such file.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from cnnfix.datasets import inspect_images
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     Image.new("RGB", (40, 30)).save(os.path.join(folder, "red.png"))
    ...     paths = [os.path.join(folder, "red.png")]
    ...     inspect_images(paths), inspect_images(paths, 16, "grayscale")
    (((30, 40), 3), ((16, 16), 1))
    """
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("paths is empty; there is no image to inspect.")
    sizes, grey, failed = read_headers(paths)
    if failed:
        raise_unreadable(paths, failed)
    size = size or most_common_size([tuple(map(int, s)) for s in sizes])
    return size, CHANNELS[pil_mode(color_mode, grey.all())]


def most_common_size(sizes):
    """The most common of ``sizes``; warns when they differ, since the
    others are resized."""
    counts = Counter(sizes)
    size, count = counts.most_common(1)[0]
    if len(counts) > 1:
        warn(
            f"The images have {len(counts)} different sizes; all are resized to "
            f"the most common, {size[0]}x{size[1]} (height x width, "
            f"{count} of {len(sizes)} files). Pass image_size=(height, width) "
            "to choose the size yourself."
        )
    return size


def working_size(sizes, *, max_side):
    """One ``(height, width)`` for images of many sizes.

    The result keeps the median aspect of ``sizes`` (rounded to eighths, so
    that samples of the same data agree) and its longer side is the median
    longer side of ``sizes``, capped at ``max_side``: small images are never
    enlarged, large ones are shrunk to what a CPU trains on. Medians follow
    the bulk of the images, never the few that happen to share a size.

    Parameters
    ----------
    sizes : sequence of (int, int)
        ``(height, width)`` of each image (or of a sample of them).
    max_side : int
        The longest side the result may have, at least 1.

    Returns
    -------
    size : tuple of (int, int)
        ``(height, width)``, each at least 1.

    Examples
    --------
    >>> from cnnfix._input import working_size
    >>> working_size([(300, 400), (150, 200), (480, 640), (400, 300)], max_side=64)
    (48, 64)
    >>> working_size([(24, 32), (30, 40)], max_side=64)
    (27, 36)
    """
    if not is_int(max_side) or max_side < 1:
        raise ValueError(f"max_side must be a positive int; got {max_side!r}.")
    heights, widths = np.asarray(sizes, dtype=float).reshape(-1, 2).T
    if len(heights) == 0 or min(heights.min(), widths.min()) < 1:
        raise ValueError(
            "Expected a non-empty list of (height, width) pairs of positive "
            f"sides; got {list(sizes)[:5]!r}."
        )
    longer = int(min(max_side, round(float(np.median(np.maximum(heights, widths))))))
    aspect = float(np.median(heights / widths))  # above 1: portrait
    ratio = max(round(8 * min(aspect, 1 / aspect)) / 8, 1 / 8)
    shorter = max(1, round(longer * ratio))
    return (longer, shorter) if aspect > 1 else (shorter, longer)


def fit_size(paths, image_size, max_side):
    """``(size, channels, chosen)`` of an estimator's fit on ``paths``, from
    their headers: ``image_size`` when given, else the files' size when they
    all share one, else their :func:`working_size` (``chosen`` is True only
    then). Channels are 1 when every file is grey, else 3."""
    sizes, grey, failed = read_headers(paths)
    if failed:
        raise_unreadable(paths, failed)
    channels = 1 if grey.all() else 3
    if image_size is not None:
        return check_image_size(image_size), channels, False
    if (sizes == sizes[0]).all():
        return (int(sizes[0, 0]), int(sizes[0, 1])), channels, False
    return working_size(sizes, max_side=max_side), channels, True


def read_headers(paths):
    """Size and colour of each image file, read from its header (no decoding).

    Parameters
    ----------
    paths : sequence of str or path-like
        The files.

    Returns
    -------
    sizes : ndarray of shape (n_files, 2), dtype int
        ``(height, width)`` of each file; ``(0, 0)`` for a file that cannot
        be opened.
    grey : ndarray of shape (n_files,), dtype bool
        Whether each file is stored grey (a palette of greys counts).
    failed : dict
        Index into ``paths`` -> the exception opening that file. A file whose
        header reads can still fail to decode (a truncated body): only
        decoding it tells.

    Examples
    --------
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from PIL import Image
    >>> from cnnfix.datasets import read_headers
    >>> with TemporaryDirectory() as folder:
    ...     Image.new("L", (40, 30)).save(Path(folder) / "grey.png")
    ...     files = [Path(folder) / name for name in ("grey.png", "none.png")]
    ...     sizes, grey, failed = read_headers(files)
    >>> sizes.tolist(), grey.tolist(), sorted(failed)
    ([[30, 40], [0, 0]], [True, False], [1])
    """
    headers = [read_header(path) for path in paths]
    failed = {i: h for i, h in enumerate(headers) if isinstance(h, BaseException)}
    read = [((0, 0), False) if i in failed else h for i, h in enumerate(headers)]
    sizes = np.array([size for size, _ in read], dtype=int).reshape(-1, 2)
    return sizes, np.array([grey for _, grey in read], dtype=bool), failed


def plain_pngs(paths, image_shape):
    """Whether every file is a complete 8-bit grey or RGB PNG file of
    ``image_shape``'s size, with pixels that need no conversion to its
    channels (grey stays grey; RGB, or grey repeated, for three).

    Such files decode to the same pixels with any conforming PNG decoder
    (PNG is lossless and nothing is resized or converted), so
    :mod:`cnnfix._input.files` may decode them with TensorFlow's. Reads the
    first 26 and last 12 bytes of each file; stops at the first that is not
    plain (a truncated file has no IEND chunk at its end).

    Parameters
    ----------
    paths : sequence of str
        The files.
    image_shape : (int, int, int)
        ``(height, width, channels)`` wanted, channels 1 or 3.

    Returns
    -------
    bool
    """
    for path in paths:
        try:
            with open(path, "rb") as file:
                head = file.read(26)
                file.seek(-len(PNG_END), os.SEEK_END)
                tail = file.read()
        except OSError:
            return False
        if not decodes_as_is(plain_png_layout(head, tail), image_shape):
            return False
    return True


def listing(paths, failed):
    """The failed files of ``paths`` and why, at most :data:`MAX_LISTED`."""
    items = [f"{paths[i]!r} ({describe(e)})" for i, e in sorted(failed.items())]
    more = len(items) - MAX_LISTED
    return "; ".join(items[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")


def raise_unreadable(paths, failed):
    """Raise an UnreadableImageError naming the ``failed`` files of ``paths``
    (index -> exception) and what to do about them."""
    if len(failed) == len(paths):
        what, verb = "None of the", "could be read"
        fix = "Check that they are valid images (open one in an image viewer)."
    else:
        what, verb = f"{len(failed)} of the", "could not be read"
        fix = 'Remove or replace them, or pass on_error="warn" to skip them.'
    raise UnreadableImageError(
        f"{what} {len(paths)} image files {verb}: {listing(paths, failed)}. " + fix,
        [paths[i] for i in sorted(failed)],
    ) from failed[min(failed)]


def warn_unreadable(paths, failed):
    """Warn once that the ``failed`` files of ``paths`` were skipped."""
    warn(
        f"Skipped {len(failed)} of {len(paths)} image files that could not be "
        f"read: {listing(paths, failed)}."
    )
