"""Reading image files: list a class-folder tree, decode, resize, set colours.

The building blocks of :func:`cnnfix.datasets.load_image_folder`, public so
that an input pipeline can decode paths on the fly with the same rules:

- :func:`list_image_folder` lists ``root/<class name>/<image files>`` (the
  Keras and torchvision layout) in a fixed order;
- :func:`read_image` decodes one file to a ``uint8`` array ``(h, w, c)``;
- :func:`read_images` decodes many files, in threads, straight into one
  preallocated ``uint8`` array ``(n, h, w, c)``;
- :func:`inspect_images` reads only the headers: the size and channels
  :func:`read_images` would give.

Files are decoded with Pillow. Resizing is bilinear with Pillow's
antialiasing (the interpolation Keras's ``image_dataset_from_directory``
uses); a JPEG is first decoded at a reduced scale (libjpeg's 1/2, 1/4 or
1/8, a low-pass of its own) while that stays at least the target size,
which makes large photos several times cheaper to read. Nothing on disk is
written.
"""

import mmap
import multiprocessing
import os
import shutil
import tempfile
import threading
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from numbers import Integral

import numpy as np
from PIL import Image

from .exceptions import UnreadableImageError

__all__ = [
    "COLOR_MODES",
    "IMAGE_EXTENSIONS",
    "inspect_images",
    "list_image_folder",
    "plain_pngs",
    "read_headers",
    "read_image",
    "read_images",
]

#: File name extensions read as images (compared in lower case); other files
#: in a class folder are skipped.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
)

#: Accepted values of ``color_mode``.
COLOR_MODES = ("auto", "rgb", "grayscale")

ON_ERROR = ("raise", "warn")

# Pillow's format for each extension: tried first, so Image.open need not
# probe every plugin (half the cost of opening a small file). A file whose
# content does not match its extension is then opened with every plugin.
FORMAT_BY_EXTENSION = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
PALETTE_MODES = frozenset({"P", "PA"})
PIL_MODE = {"rgb": "RGB", "grayscale": "L"}
CHANNELS = {"RGB": 3, "L": 1}

# Files per task of the thread pool: enough to amortise the scheduling, few
# enough to keep every thread busy to the end.
CHUNK = 64

# Below this many pixels (64x64) a file decodes faster than Python's per-file
# work, and threads only contend for the GIL: measured on 28x28 PNG files,
# 2 threads read 10-20% fewer files per second than 1 (benchmarks/bench_images.py).
SMALL_IMAGE = 64 * 64

# Files from which read_images decodes in worker processes (joblib's loky,
# reused between calls) rather than threads: Python's per-file work and
# pyspng hold the GIL, so threads use one core. Below it, starting the
# workers (about a second the first time) would cost more than they save.
PROCESS_FILES = 4000

# Shown in error messages, so that a thousand bad files stay readable.
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
    pair = (image_size, image_size) if _is_int(image_size) else image_size
    if (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(_is_int(side) and side >= 1 for side in pair)
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
    return color_mode


def check_on_error(on_error):
    """Raise a clear error unless ``on_error`` is "raise" or "warn"."""
    if not (isinstance(on_error, str) and on_error in ON_ERROR):
        raise ValueError(
            f"on_error must be one of {list(ON_ERROR)}; got {on_error!r}. "
            '"warn" skips unreadable files with one warning that lists them.'
        )


def check_n_jobs(n_jobs):
    """The number of decoding workers ``n_jobs`` asks for (see read_images)."""
    if n_jobs is None:
        return min(os.cpu_count() or 1, 8)
    if not _is_int(n_jobs) or n_jobs == 0:
        raise ValueError(
            "n_jobs must be None (up to 8 workers, one per CPU), a positive int, "
            f"or a negative int (-1: one worker per CPU); got {n_jobs!r}."
        )
    if n_jobs < 0:
        return max((os.cpu_count() or 1) + 1 + int(n_jobs), 1)
    return int(n_jobs)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_image_file(name):
    """Whether a file name has an image extension and is not hidden."""
    # os.path, not pathlib: a tenth of the time over 70,000 names.
    extension = os.path.splitext(name)[1].lower()
    return not name.startswith(".") and extension in IMAGE_EXTENSIONS


def list_image_folder(path):
    """List the images of a class-folder tree, with their class names.

    The layout is ``path/<class name>/<image files>``; files in nested
    folders of a class folder belong to that class. Only files whose
    extension is one of :data:`IMAGE_EXTENSIONS` are listed; hidden files and
    folders (names starting with ".") and files directly in ``path`` are
    skipped. The order is fixed: by class name, then by file path.

    Parameters
    ----------
    path : str or path-like
        The folder holding one sub-folder per class.

    Returns
    -------
    paths : ndarray of shape (n_files,), dtype object
        The file paths as str, each ``path`` joined with the class folder and
        the file name.
    labels : ndarray of shape (n_files,), dtype str
        The class folder name of each file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    NotADirectoryError
        If ``path`` is a file.
    ValueError
        If ``path`` has no class sub-folders, a class folder holds no image
        file, or there is only one class.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cnnfix.images import list_image_folder
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ["nut/b.png", "nut/a.jpg", "bolt/c.png", "bolt/notes.txt"]:
    ...         (Path(root) / name).parent.mkdir(exist_ok=True)
    ...         (Path(root) / name).touch()
    ...     paths, labels = list_image_folder(root)
    ...     [Path(p).name for p in paths], labels.tolist()
    (['c.png', 'a.jpg', 'b.png'], ['bolt', 'nut', 'nut'])
    """
    root = os.fspath(path)
    layout = "root/<class name>/<image files>"
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder {root!r} does not exist. Expected a folder holding one "
            f"sub-folder per class ({layout}); check the path."
        )
    if not os.path.isdir(root):
        raise NotADirectoryError(
            f"{root!r} is a file, not a folder. Pass the folder that holds one "
            f"sub-folder per class ({layout})."
        )
    with os.scandir(root) as entries:
        entries = list(entries)
    classes = sorted(
        e.name for e in entries if e.is_dir() and not e.name.startswith(".")
    )
    if not classes:
        loose = sum(e.is_file() and is_image_file(e.name) for e in entries)
        found = f"it holds {loose} image files directly" if loose else "it is empty"
        raise ValueError(
            f"{root!r} has no class sub-folders ({found}). Put the images in one "
            f"folder per class: {layout}; the folder names become the labels."
        )
    paths, labels, empty = [], [], []
    for name in classes:
        files = _list_class(os.path.join(root, name))
        if not files:
            empty.append(name)
        paths += files
        labels += [name] * len(files)
    if empty:
        raise ValueError(
            f"Class folder(s) {empty} in {root!r} hold no image files (expected "
            f"files ending in {sorted(IMAGE_EXTENSIONS)}). Add images to them or "
            "move them out of the tree."
        )
    if len(classes) == 1:
        raise ValueError(
            f"{root!r} has only one class folder, {classes[0]!r}; a classifier "
            f"needs at least two. Add a folder per class ({layout})."
        )
    return np.array(paths, dtype=object), np.array(labels, dtype=str)


def _list_class(folder):
    """Image files under ``folder`` (recursively), sorted by relative path."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(parent, f) for f in files if is_image_file(f)]
    # Sort on the parts after the class folder, so that "a/x.png" < "a.png/"
    # never depends on the path separator.
    start = len(folder) + 1
    return sorted(found, key=lambda p: p[start:].split(os.sep))


def _open(path):
    """Open ``path`` with the plugin its extension names first."""
    path = os.fspath(path)
    hint = FORMAT_BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    if hint is not None:
        try:
            return Image.open(path, formats=[hint])
        except Image.UnidentifiedImageError:
            pass
    return Image.open(path)


@cache
def _spng():
    """pyspng, a fast decoder of PNG files, when installed (``pip install
    cnnfix[fast]``); None otherwise."""
    try:
        import pyspng
    except ImportError:
        return None
    return pyspng


def _is_grey(image):
    if image.mode in GREY_MODES or image.mode in SIXTEEN_BIT_MODES:
        return True
    if image.mode in PALETTE_MODES:
        rgb = np.asarray(image.getpalette("RGB") or [], dtype=np.uint8)
        rgb = rgb.reshape(-1, 3)
        return bool((rgb == rgb[:, :1]).all())
    return False


def _decode(image, size, mode):
    """The open ``image`` as a uint8 array in ``mode`` ("L"/"RGB"), resized
    to ``size`` ((width, height), Pillow's order) unless None."""
    if size is not None and image.format == "JPEG":
        image.draft(mode, size)
    if image.mode in SIXTEEN_BIT_MODES:  # Pillow would clip, not scale, to 8 bits
        image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
    # Resize in as few channels as possible: grey sources are resized before
    # they become RGB; palettes and colour sources are converted first.
    grey_source = image.mode == "L"
    if image.mode != mode and not (grey_source and mode == "RGB"):
        image = image.convert(mode)
    if size is not None and image.size != tuple(size):
        image = image.resize(size, Image.Resampling.BILINEAR)
    if image.mode != mode:
        image = image.convert(mode)
    return np.asarray(image)


def _describe(error):
    return f"{type(error).__name__}: {error}"


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
    >>> from cnnfix.images import read_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "grey.png")
    ...     Image.fromarray(np.zeros((30, 40), np.uint8)).save(path)
    ...     read_image(path).shape, read_image(path, 16, "rgb").shape
    ((30, 40, 1), (16, 16, 3))
    """
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    try:
        with _open(path) as image:
            mode = _pil_mode(color_mode, _is_grey(image))
            pixels = _decode(image, None if size is None else size[::-1], mode)
    except (OSError, ValueError, SyntaxError) as error:
        raise UnreadableImageError(
            f"Could not read the image file {os.fspath(path)!r} "
            f"({_describe(error)}). Check that it is a valid image (open it in "
            "an image viewer) or remove it.",
            [os.fspath(path)],
        ) from error
    return pixels.reshape(*pixels.shape[:2], -1)


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
    >>> import numpy as np
    >>> from PIL import Image
    >>> from cnnfix.images import inspect_images
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "grey.png")
    ...     Image.fromarray(np.zeros((30, 40), np.uint8)).save(path)
    ...     inspect_images([path]), inspect_images([path], 16, "rgb")
    (((30, 40), 1), ((16, 16), 3))
    """
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("paths is empty; there is no image to inspect.")
    sizes, grey, failed = read_headers(paths)
    if failed:
        _raise_unreadable(paths, failed)
    size = size or _most_common_size([tuple(map(int, s)) for s in sizes])
    if color_mode == "auto":
        channels = 1 if grey.all() else 3
    else:
        channels = CHANNELS[PIL_MODE[color_mode]]
    return size, channels


def _pil_mode(color_mode, grey):
    if color_mode == "auto":
        return "L" if grey else "RGB"
    return PIL_MODE[color_mode]


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
        Decoding workers. For :data:`PROCESS_FILES` (4,000) files or more,
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
    size = check_image_size(image_size)
    check_color_mode(color_mode)
    check_on_error(on_error)
    check_n_jobs(n_jobs)
    paths = [os.fspath(p) for p in paths]
    mode = PIL_MODE.get(color_mode)
    failed, first = {}, None
    for i, path in enumerate(paths):
        header = _read_header(path)
        if not isinstance(header, BaseException):
            first = header
            break
        failed[i] = header
    if first is None:
        if not paths:
            if size is not None and mode is not None:
                empty = np.empty((0, *size, CHANNELS[mode]), np.uint8)
                return _returned(empty, [] if return_kept else None)
            raise ValueError(
                "paths is empty; there is no image to read. Pass at least one "
                "file, or both image_size and color_mode for an empty result."
            )
        _raise_unreadable(paths, failed)
    workers = _workers(n_jobs, first[0])
    todo = [i for i in range(len(paths)) if i not in failed]
    headers = [None] * len(paths)
    guess_size = size or first[0]
    guess_mode = mode or ("L" if first[1] else "RGB")
    out = np.empty((len(paths), *guess_size, CHANNELS[guess_mode]), np.uint8)
    # Colour files met while decoding into a grey guess wait for the end.
    out, colour = _decode_into(
        out, paths, todo, guess_mode, headers, failed, workers, mode is None
    )
    if failed and on_error == "raise":
        _raise_unreadable(paths, failed)
    todo = [i for i in todo if i not in failed]
    if not todo:
        _raise_unreadable(paths, failed)
    final_size = size or _most_common_size([headers[i][0] for i in todo])
    final_mode = mode or ("RGB" if colour or guess_mode == "RGB" else "L")
    if final_size != guess_size:
        out = np.empty((len(paths), *final_size, CHANNELS[final_mode]), np.uint8)
        redo = todo
    elif final_mode != guess_mode:
        # Grey decoded to L equals its RGB conversion on any channel.
        out = np.broadcast_to(out, (*out.shape[:3], 3)).copy()
        redo = colour
    else:
        redo = []
    if redo:
        out, _ = _decode_into(
            out, paths, redo, final_mode, headers, failed, workers, False
        )
        if failed and on_error == "raise":
            _raise_unreadable(paths, failed)
    if failed:
        if len(failed) == len(paths):
            _raise_unreadable(paths, failed)
        _warn_unreadable(paths, failed)
        todo = [i for i in todo if i not in failed]
        return _returned(out[todo], todo if return_kept else None)
    return _returned(out, todo if return_kept else None)


def _returned(images, kept):
    if kept is None:
        return images
    return images, np.asarray(kept, dtype=np.intp)


def _workers(n_jobs, first_size):
    """(processes, threads) to decode with: ``n_jobs`` of each, but one
    thread by default for images under :data:`SMALL_IMAGE` pixels."""
    n_workers = check_n_jobs(n_jobs)
    if n_jobs is None and first_size[0] * first_size[1] < SMALL_IMAGE:
        return n_workers, 1
    return n_workers, n_workers


#: The first bytes of every PNG file, and of its IHDR chunk's header.
PNG_START = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"

#: The last bytes of a complete PNG file: its IEND chunk.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"

#: IHDR colour types of plain PNG files: 8-bit grey (0) and RGB (2).
PLAIN_PNG_TYPES = frozenset({0, 2})


def plain_pngs(paths, image_shape):
    """Whether every file is a complete 8-bit grey or RGB PNG file of
    ``image_shape``'s size, with pixels that need no conversion to its
    channels (grey stays grey; RGB, or grey repeated, for three).

    Such files decode to the same pixels with any conforming PNG decoder
    (PNG is lossless and nothing is resized or converted), so
    :mod:`cnnfix.streaming` may decode them with TensorFlow's. Reads the
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
    height, width, channels = image_shape
    for path in paths:
        try:
            with open(path, "rb") as file:
                head = file.read(26)
                file.seek(-len(PNG_END), os.SEEK_END)
                tail = file.read()
        except OSError:
            return False
        if not _decodes_as_is(_plain_png_layout(head, tail), (height, width), channels):
            return False
    return True


def _decodes_as_is(layout, size, channels):
    """Whether a file of ``layout`` (from :func:`_plain_png_layout`) gives
    ``size`` (height, width) and ``channels`` with no resizing or colour
    conversion but repeating grey: grey for 1 channel, grey or RGB for 3."""
    return (
        layout is not None
        and layout[:2] == tuple(size)
        and (layout[2] or channels == 3)
    )


def _plain_png_layout(head, tail):
    """``(height, width, grey)`` of a complete 8-bit grey or RGB PNG file
    from its first 26 and last 12 bytes; None for any other file."""
    if len(head) < 26 or not head.startswith(PNG_START) or tail != PNG_END:
        return None
    if head[24] != 8 or head[25] not in PLAIN_PNG_TYPES:
        return None
    height = int.from_bytes(head[20:24], "big")
    width = int.from_bytes(head[16:20], "big")
    return height, width, head[25] == 0


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
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from cnnfix.images import read_headers
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "grey.png")
    ...     Image.fromarray(np.zeros((30, 40), np.uint8)).save(path)
    ...     sizes, grey, failed = read_headers([path, os.path.join(folder, "no.png")])
    >>> sizes.tolist(), grey.tolist(), sorted(failed)
    ([[30, 40], [0, 0]], [True, False], [1])
    """
    sizes = np.zeros((len(paths), 2), dtype=int)
    grey = np.zeros(len(paths), dtype=bool)
    failed = {}
    for i, path in enumerate(paths):
        header = _read_header(path)
        if isinstance(header, BaseException):
            failed[i] = header
        else:
            sizes[i], grey[i] = header
    return sizes, grey, failed


def _read_header(path):
    """((height, width), is_grey) of one file, or the exception opening it."""
    try:
        with _open(path) as image:
            return image.size[::-1], _is_grey(image)
    except (OSError, ValueError, SyntaxError) as error:
        return error


def _decode_into(out, paths, indices, mode, headers, failed, workers, guessing):
    """Decode ``paths[i]`` into ``out[i]`` for each i of ``indices``, in
    ``workers`` ((processes, threads), from :func:`_workers`): processes
    for :data:`PROCESS_FILES` files or more (from the main thread of the
    main process only), threads otherwise; record headers and failures.
    Return the output (``out``, or an array over the processes' shared
    memory in its place: see :func:`_decode_in_processes`) and the indices
    of colour files skipped because ``out`` is grey and the mode a guess."""
    n_processes, n_threads = workers
    shape = out.shape[1:]

    if n_processes > 1 and len(indices) >= PROCESS_FILES and _at_top_level():
        return _decode_in_processes(
            out, paths, indices, mode, headers, failed, n_processes, guessing
        )
    chunks = [indices[i : i + CHUNK] for i in range(0, len(indices), CHUNK)]

    def decode(chunk):
        return _decode_files([paths[i] for i in chunk], shape, mode, guessing)

    if n_threads == 1 or len(chunks) <= 1:
        return out, _collect(out, chunks, map(decode, chunks), headers, failed)
    with ThreadPoolExecutor(min(n_threads, len(chunks))) as pool:
        results = pool.map(decode, chunks)
        return out, _collect(out, chunks, results, headers, failed)


def _decode_in_processes(out, paths, indices, mode, headers, failed, n, guessing):
    """:func:`_decode_into` in ``n`` worker processes (joblib's loky
    executor, reused from call to call). Each decodes a share of the files
    into a shared memory-mapped file, so that only headers and errors
    travel back: sending the pixels through pipes cost a third of the
    decoding of 64x64 RGB PNG files. The file is removed at the end. When it
    is in ``/dev/shm`` (memory, when that has room) and every row of
    ``out`` was decoded here, an array over its memory is returned in place
    of ``out``: no copy (the copy took 0.86 s of a 6.5 s load of 70,000
    64x64 RGB files), and the output is in memory once, not twice. The
    memory goes back when the array is freed. Otherwise the rows are copied
    into ``out``."""
    from joblib import Parallel, delayed

    shape = out.shape[1:]
    per_chunk = -(-len(indices) // (4 * n))
    starts = range(0, len(indices), per_chunk)
    chunks = [indices[start : start + per_chunk] for start in starts]
    in_memory = _shared_folder(out.nbytes)
    folder = tempfile.mkdtemp(prefix="cnnfix-images-", dir=in_memory)
    file = os.path.join(folder, "pixels.npy")
    in_place = in_memory is not None and len(indices) == len(out)
    try:
        shared = np.lib.format.open_memmap(
            file, mode="w+", dtype=np.uint8, shape=(len(indices), *shape)
        )
        results = Parallel(n_jobs=n, backend="loky", return_as="generator")(
            delayed(_decode_files)(
                [paths[i] for i in chunk], shape, mode, guessing, into=(file, start)
            )
            for start, chunk in zip(starts, chunks, strict=True)
        )
        results = (
            (None if in_place else shared[start : start + len(chunk)], *result[1:])
            for start, chunk, result in zip(starts, chunks, results, strict=True)
        )
        colour = _collect(out, chunks, results, headers, failed)
        offset = shared.offset
        del shared  # unmapped, so that the file can go (Windows)
        if in_place:  # indices are every row, in order: the file is the output
            out = _mapped(file, offset, out.shape)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out, colour


def _mapped(file, offset, shape):
    """A writable uint8 array of ``shape`` over ``file``'s bytes from
    ``offset``, mapped (and its pages populated, where the system can) so
    that it stays valid once the file is removed. A plain array over an
    ``mmap``, not an ``np.memmap``, whose file name joblib would pass to its
    workers in place of the data."""
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    with open(file, "r+b") as handle:
        memory = mmap.mmap(handle.fileno(), 0, flags=flags)
    count = int(np.prod(shape))
    return np.frombuffer(memory, np.uint8, count=count, offset=offset).reshape(shape)


def _shared_folder(nbytes):
    """``/dev/shm`` (memory) when it exists and has room for ``nbytes``
    twice over, else None (the temporary directory: on disk, read back from
    the page cache)."""
    try:
        stat = os.statvfs("/dev/shm")
    except (AttributeError, OSError):  # no /dev/shm (Windows, macOS)
        return None
    return "/dev/shm" if stat.f_bavail * stat.f_frsize >= 2 * nbytes else None


def _at_top_level():
    """Whether this is the main thread of the main process: not a joblib or
    multiprocessing worker (whose cores are already shared out) nor a
    thread, the only place where read_images starts worker processes."""
    return (
        multiprocessing.current_process().name == "MainProcess"
        and threading.current_thread() is threading.main_thread()
    )


def _collect(out, chunks, results, headers, failed):
    """Put each chunk's result from :func:`_decode_files` in place: pixels
    into ``out`` (unless None: written there already), headers, failures;
    return the skipped colour files."""
    colour = []
    for chunk, (pixels, found, errors, skipped) in zip(chunks, results, strict=True):
        chunk = np.asarray(chunk, dtype=np.intp)
        if pixels is None:  # already in place
            pass
        elif not errors and not skipped and chunk[-1] - chunk[0] == len(chunk) - 1:
            out[chunk[0] : chunk[-1] + 1] = pixels  # consecutive files: a copy
        else:
            decoded = np.ones(len(chunk), bool)
            decoded[[*errors, *skipped]] = False
            out[chunk[decoded]] = pixels[decoded]
        for j, header in enumerate(found):
            headers[chunk[j]] = header
        failed.update({int(chunk[j]): error for j, error in errors.items()})
        colour += [int(chunk[j]) for j in skipped]
    return colour


def _decode_files(paths, shape, mode, guessing, into=None):
    """Decode each of ``paths`` to ``shape`` ((height, width, channels)) in
    ``mode``; return the pixels ``(len(paths), *shape)``, each file's header
    (``((height, width), grey)``, None if unread), the errors by position
    and the positions of colour files skipped because ``mode`` is a grey
    guess. With ``into`` (a ``.npy`` file and a row), the pixels go into
    that file's rows from that one and None is returned in their place. A
    module-level function: worker processes run it."""
    size = shape[:2][::-1]  # Pillow's (width, height)
    if into is None:
        out = np.empty((len(paths), *shape), np.uint8)
    else:
        file, start = into
        out = np.load(file, mmap_mode="r+")[start : start + len(paths)]
    headers, errors, colour = [None] * len(paths), {}, []
    spng = _spng()
    for i, path in enumerate(paths):
        try:
            layout = None
            if spng is not None:
                with open(path, "rb") as file:
                    head = file.read(26)  # all of it only for a PNG file
                    data = head + file.read() if head.startswith(PNG_START) else b""
                layout = _plain_png_layout(head, data[-len(PNG_END) :])
            if layout is not None:
                height, width, grey = layout
                headers[i] = ((height, width), grey)
                if mode == "L" and not grey and guessing:
                    colour.append(i)
                    continue
                if _decodes_as_is(layout, shape[:2], CHANNELS[mode]):
                    # Plain PNG, no conversion but repeating grey: the same
                    # pixels as Pillow's, several times faster.
                    out[i] = spng.load(data).reshape(height, width, -1)
                    continue
            # Any other file (read again: Pillow's errors name the path).
            with _open(path) as image:
                grey = _is_grey(image)
                headers[i] = (image.size[::-1], grey)
                if mode == "L" and not grey and guessing:
                    colour.append(i)
                    continue
                out[i] = _decode(image, size, mode).reshape(shape)
        except (OSError, ValueError, SyntaxError) as error:
            errors[i] = error
    if into is not None:  # the shared mapping already shows the pixels
        out = None
    return out, headers, errors, colour


def _most_common_size(sizes):
    counts = Counter(sizes)
    size, count = counts.most_common(1)[0]
    if len(counts) > 1:
        warnings.warn(
            f"The images have {len(counts)} different sizes; all are resized to "
            f"the most common, {size[0]}x{size[1]} (height x width, "
            f"{count} of {len(sizes)} files). Pass image_size=(height, width) "
            "to choose the size yourself.",
            UserWarning,
            stacklevel=2,
        )
    return size


def _listing(paths, failed):
    items = [f"{paths[i]!r} ({_describe(e)})" for i, e in sorted(failed.items())]
    more = len(items) - MAX_LISTED
    shown = "; ".join(items[:MAX_LISTED])
    return shown + (f"; and {more} more" if more > 0 else "")


def _raise_unreadable(paths, failed):
    first = failed[min(failed)]
    all_failed = len(failed) == len(paths)
    what = "None of the" if all_failed else f"{len(failed)} of the"
    verb = "could be read" if all_failed else "could not be read"
    fix = (
        "Check that they are valid images (open one in an image viewer)."
        if all_failed
        else 'Remove or replace them, or pass on_error="warn" to skip them.'
    )
    raise UnreadableImageError(
        f"{what} {len(paths)} image files {verb}: {_listing(paths, failed)}. " + fix,
        [paths[i] for i in sorted(failed)],
    ) from first


def _warn_unreadable(paths, failed):
    warnings.warn(
        f"Skipped {len(failed)} of {len(paths)} image files that could not be "
        f"read: {_listing(paths, failed)}.",
        UserWarning,
        stacklevel=2,
    )
