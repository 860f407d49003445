"""Decoding image files: one with :func:`read_image`, many with :func:`read_images`.

Both follow the rules of :mod:`cnnfix._input.pixels` (Pillow, bilinear
resizing with antialiasing, grey kept grey, 16-bit scaled to 8 bits), so
that every reader of cnnfix gives a file the same pixels. Many files are
decoded straight into one preallocated ``uint8`` array, in a pool of
threads or processes (:mod:`cnnfix._input.pool`). Nothing on disk is
written but the pool's temporary shared file.
"""

import os

import numpy as np

from ..exceptions import UnreadableImageError
from .headers import (
    check_color_mode,
    check_image_size,
    most_common_size,
    raise_unreadable,
    warn_unreadable,
)
from .pixels import (
    CHANNELS,
    PIL_MODE,
    convert,
    describe,
    is_grey,
    open_image,
    pil_mode,
    read_header,
)
from .policy import INPUT_POLICY
from .pool import check_n_jobs, decode_into, pool_sizes

#: Accepted values of ``on_error``.
ON_ERROR = ("raise", "warn")


def checked_arguments(image_size, color_mode, on_error, n_jobs):
    """``(size, mode)`` for :func:`decode_paths` from the arguments of
    :func:`read_images`, each checked in turn: ``size`` ``(height, width)``
    or None, ``mode`` "L", "RGB" or None (from the files)."""
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    if not (isinstance(on_error, str) and on_error in ON_ERROR):
        raise ValueError(
            f"on_error must be one of {list(ON_ERROR)}; got {on_error!r}. "
            '"warn" skips unreadable files with one warning that lists them.'
        )
    check_n_jobs(n_jobs)
    return size, PIL_MODE.get(color_mode)


def read_image(path, image_size=None, color_mode="auto"):
    """Decode one image file into a ``uint8`` array ``(height, width, channels)``.

    Parameters
    ----------
    path : str or path-like
        The file; any format Pillow reads.
    image_size : None, int or (int, int), default=None
        Output ``(height, width)``, or one int for a square; None keeps the
        file's size.
    color_mode : {"auto", "rgb", "grayscale"}, default="auto"
        "rgb" gives 3 channels, "grayscale" 1; "auto" gives 1 for an image
        stored grey and 3 otherwise. Alpha is dropped; 16-bit images are
        scaled to 8 bits.

    Returns
    -------
    image : ndarray of shape (height, width, channels), dtype uint8

    Raises
    ------
    cnnfix.exceptions.UnreadableImageError
        If the file cannot be decoded; the message names it.

    See Also
    --------
    read_images : Many files into one array, in parallel.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from cnnfix.datasets import read_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "grey.png")
    ...     Image.fromarray(np.zeros((30, 40), np.uint8)).save(path)
    ...     read_image(path).shape, read_image(path, 16, "rgb").shape
    ((30, 40, 1), (16, 16, 3))
    """
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    try:
        with open_image(path) as image:
            mode = pil_mode(color_mode, is_grey(image))
            pixels = convert(image, None if size is None else size[::-1], mode)
    except (OSError, ValueError, SyntaxError) as error:
        raise UnreadableImageError(
            f"Could not read the image file {os.fspath(path)!r} "
            f"({describe(error)}). Check that it is a valid image (open it in "
            "an image viewer) or remove it.",
            [os.fspath(path)],
        ) from error
    return pixels.reshape(*pixels.shape[:2], -1)


def read_images(
    paths,
    image_size=None,
    color_mode="auto",
    n_jobs=None,
    *,
    on_error="raise",
    return_kept=False,
):
    """Decode many image files into one ``uint8`` array ``(n, h, w, c)``.

    Each file is opened once and decoded straight into a preallocated
    output. When ``image_size`` or the colour mode is left to the files, the
    first readable file sets them provisionally; the few files decoded under
    a guess that turns out wrong are decoded again (all of them only when the
    first file's size is not the most common one).

    Parameters
    ----------
    paths : sequence of str or path-like
        The files, in the order of the output.
    image_size : None, int or (int, int), default=None
        Output ``(height, width)``, or one int for a square. None uses the
        most common size among the files (ties go to the size met first) and
        warns when some files have another size, since those are resized.
    color_mode : {"auto", "rgb", "grayscale"}, default="auto"
        "rgb" gives 3 channels, "grayscale" 1; "auto" gives 1 when every
        image is stored grey and 3 otherwise.
    n_jobs : int or None, default=None
        Decoding workers. For 4,000 files or more,
        worker processes (joblib's loky executor, reused from one call to
        the next), each decoding a share of the files: Python's per-file
        work and pyspng hold the GIL, so threads would use one core. For
        fewer files (where starting the processes would cost more than
        they save), or when called from a thread or from a worker process
        (a joblib worker of GridSearchCV, for example), threads (Pillow
        releases the GIL while it decodes and resizes). None: one worker
        per CPU, at most 8; but one thread, not several, for images under
        64x64 pixels (judged on the first file), where the per-file work
        outweighs the decoding and threads only contend for the GIL; -1:
        one worker per CPU.
    on_error : {"raise", "warn"}, default="raise"
        What to do with files that cannot be decoded: "raise" an
        :class:`~cnnfix.exceptions.UnreadableImageError` that lists them
        all, or "warn" once (a UserWarning listing them) and leave them out.
    return_kept : bool, default=False
        Also return the indices into ``paths`` of the images returned.

    Returns
    -------
    images : ndarray of shape (n_images, height, width, channels), dtype uint8
    kept : ndarray of shape (n_images,), dtype int
        Only with ``return_kept=True``: which of ``paths`` were read.

    Raises
    ------
    cnnfix.exceptions.UnreadableImageError
        If a file cannot be decoded and ``on_error="raise"``, or if none can.

    See Also
    --------
    read_image : One file.
    list_image_folder : The paths and labels of a class-folder tree.
    """
    size, mode = checked_arguments(image_size, color_mode, on_error, n_jobs)
    paths = [os.fspath(p) for p in paths]
    images, kept = decode_paths(paths, size, mode, n_jobs, on_error=on_error)
    return (images, kept) if return_kept else images


def decode_paths(paths, size, mode, n_jobs, *, on_error, policy=INPUT_POLICY):
    """:func:`read_images` on checked arguments: ``paths`` a list of str,
    ``size`` ``(height, width)`` or None, ``mode`` "L", "RGB" or None (from
    the files), with the decoding ``policy``; returns the images and the
    indices into ``paths`` of those read (an intp array). Long for one
    function because it is one algorithm: guess the size and mode from the
    first readable file, decode, then redo the files decoded under a wrong
    guess."""
    if not paths:
        if size is None or mode is None:
            raise ValueError(
                "paths is empty; there is no image to read. Pass at least one "
                "file, or both image_size and color_mode for an empty result."
            )
        return np.empty((0, *size, CHANNELS[mode]), np.uint8), np.empty(0, np.intp)
    failed, first = {}, None
    for i, header in enumerate(map(read_header, paths)):
        if not isinstance(header, BaseException):
            first = header
            break
        failed[i] = header
    if first is None:
        raise_unreadable(paths, failed)
    workers = pool_sizes(n_jobs, first[0], policy)
    todo = [i for i in range(len(paths)) if i not in failed]
    headers = [None] * len(paths)
    guess_size = size or first[0]
    guess_mode = mode or ("L" if first[1] else "RGB")
    out = np.empty((len(paths), *guess_size, CHANNELS[guess_mode]), np.uint8)
    # Colour files met while decoding into a grey guess wait for the end.
    out, colour = decode_into(
        out, paths, todo, guess_mode, headers, failed, workers, mode is None, policy
    )
    if failed and on_error == "raise":
        raise_unreadable(paths, failed)
    todo = [i for i in todo if i not in failed]
    if not todo:
        raise_unreadable(paths, failed)
    final_size = size or most_common_size([headers[i][0] for i in todo])
    final_mode = mode or ("RGB" if colour or guess_mode == "RGB" else "L")
    redo = []
    if final_size != guess_size:
        out = np.empty((len(paths), *final_size, CHANNELS[final_mode]), np.uint8)
        redo = todo
    elif final_mode != guess_mode:
        # Grey decoded to L equals its RGB conversion on any channel.
        out = np.broadcast_to(out, (*out.shape[:3], 3)).copy()
        redo = colour
    if redo:
        out, _ = decode_into(
            out, paths, redo, final_mode, headers, failed, workers, False, policy
        )
    if failed:
        if on_error == "raise" or len(failed) == len(paths):
            raise_unreadable(paths, failed)
        warn_unreadable(paths, failed)
        todo = [i for i in todo if i not in failed]
        out = out[todo]
    return out, np.asarray(todo, dtype=np.intp)
