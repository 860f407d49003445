"""One image file: open it, read its header, convert its pixels.

The rules every reader of cnnfix shares, so that a file gives the same
pixels whichever path decodes it: Pillow opens the file (the plugin its
extension names first); 16-bit images are scaled to 8 bits; grey sources
stay grey unless RGB is asked for; resizing is bilinear with Pillow's
antialiasing (the interpolation of Keras's ``image_dataset_from_directory``),
and a JPEG is first decoded at a reduced scale (libjpeg's 1/2, 1/4 or 1/8, a
low-pass of its own) while that stays at least the target size.

Plain PNG files (complete, 8-bit grey or RGB) are recognised from their
first 26 and last 12 bytes: any conforming decoder gives them the same
pixels, so pyspng or TensorFlow may decode them in Pillow's place.
"""

import os
from contextlib import suppress
from functools import cache

import numpy as np
from PIL import Image

#: Accepted values of ``color_mode``.
COLOR_MODES = ("auto", "rgb", "grayscale")

#: Pillow's format for each extension: tried first, so that ``Image.open``
#: need not probe every plugin. A file whose content does not match its
#: extension is then opened with every plugin.
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

#: The first bytes of every PNG file, and of its IHDR chunk's header.
PNG_START = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"

#: The last bytes of a complete PNG file: its IEND chunk.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"

#: IHDR colour types of plain PNG files: 8-bit grey (0) and RGB (2).
PLAIN_PNG_TYPES = frozenset({0, 2})


def open_image(path):
    """Open ``path`` with the plugin its extension names first."""
    path = os.fspath(path)
    hint = FORMAT_BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    if hint is not None:
        with suppress(Image.UnidentifiedImageError):
            return Image.open(path, formats=[hint])
    return Image.open(path)


@cache
def spng():
    """pyspng, a fast decoder of PNG files, when installed (``pip install
    cnnfix[fast]``); None otherwise."""
    try:
        import pyspng
    except ImportError:
        return None
    return pyspng


def is_grey(image):
    """Whether the open ``image`` is stored grey (a palette of greys counts)."""
    if image.mode in PALETTE_MODES:
        rgb = np.asarray(image.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
        return bool((rgb == rgb[:, :1]).all())
    return image.mode in GREY_MODES or image.mode in SIXTEEN_BIT_MODES


def pil_mode(color_mode, grey):
    """Pillow's mode ("L" or "RGB") for ``color_mode`` and a file's greyness."""
    return ("L" if grey else "RGB") if color_mode == "auto" else PIL_MODE[color_mode]


def convert(image, size, mode):
    """The open ``image`` as a uint8 array in ``mode`` ("L"/"RGB"), resized
    to ``size`` ((width, height), Pillow's order) unless None."""
    if size is not None and image.format == "JPEG":
        image.draft(mode, size)
    if image.mode in SIXTEEN_BIT_MODES:  # Pillow would clip, not scale, to 8 bits
        image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
    # Resize in as few channels as possible: grey sources are resized before
    # they become RGB; palettes and colour sources are converted first.
    if image.mode != mode and not (image.mode == "L" and mode == "RGB"):
        image = image.convert(mode)
    if size is not None and image.size != tuple(size):
        image = image.resize(size, Image.Resampling.BILINEAR)
    if image.mode != mode:
        image = image.convert(mode)
    return np.asarray(image)


def describe(error):
    """``"TypeName: message"`` of an exception, for error messages."""
    return f"{type(error).__name__}: {error}"


def read_header(path):
    """((height, width), is_grey) of one file, or the exception opening it."""
    try:
        with open_image(path) as image:
            return image.size[::-1], is_grey(image)
    except (OSError, ValueError, SyntaxError) as error:
        return error


def plain_png_layout(head, tail):
    """``(height, width, grey)`` of a complete 8-bit grey or RGB PNG file
    from its first 26 and last 12 bytes; None for any other file."""
    if len(head) < 26 or not head.startswith(PNG_START) or tail != PNG_END:
        return None
    if head[24] != 8 or head[25] not in PLAIN_PNG_TYPES:
        return None
    height = int.from_bytes(head[20:24], "big")
    width = int.from_bytes(head[16:20], "big")
    return height, width, head[25] == 0


def decodes_as_is(layout, shape):
    """Whether a file of ``layout`` (from :func:`plain_png_layout`) gives
    ``shape`` (height, width, channels) with no resizing or colour
    conversion but repeating grey: grey for 1 channel, grey or RGB for 3."""
    return (
        layout is not None
        and layout[:2] == tuple(shape[:2])
        and (layout[2] or shape[2] == 3)
    )
