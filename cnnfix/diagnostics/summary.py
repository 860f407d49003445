"""What the pixel checks read of images: one pass, then many checks.

An :class:`ImageSummary` holds what the data checks need of each image (a
digest, a thumbnail, a few statistics) and of the dataset (pixel range and
moments). :func:`summarize` makes it from an array; :func:`summarize_chunks`
from uint8 chunks decoded one after another, so diagnosing a folder of files
never holds more than one chunk of pixels.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

#: The dataset's grey range for the image statistics: these percentiles of
#: all grey levels (robust to a few extreme pixels).
GREY_RANGE_PERCENTILES = (0.1, 99.9)


@dataclass
class ImageSummary:
    """What the pixel checks need of images (n, height, width, channels).

    Attributes
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of one image.
    nonfinite : ndarray of int
        Rows with a NaN or infinite pixel.
    moments : dict
        Over the finite pixels: ``count``, ``min``, ``max``, ``mean``, ``std``.
    hashes : list of bytes
        A 16-byte digest of each image's bytes.
    thumbs : ndarray of shape (n, 64)
        :func:`thumbnails` of the images.
    raw : dict of ndarray
        Per-image statistics in the images' own grey units (see
        :func:`image_statistics`, which scales them).
    grey_range : (float, float)
        The dataset's grey range, :data:`GREY_RANGE_PERCENTILES` of all grey
        levels.
    """

    image_shape: tuple
    nonfinite: np.ndarray
    moments: dict
    hashes: list
    thumbs: np.ndarray
    raw: dict
    grey_range: tuple

    def __len__(self):
        return len(self.hashes)

    @property
    def statistics(self):
        """:func:`image_statistics` of the images."""
        return _scaled_statistics(self.raw, *self.grey_range)


#: Pixels per block of images summarised at once: bounds the float
#: temporaries of the statistics (about 10 bytes a pixel) to ~40 MB.
BLOCK_PIXELS = 2**22


def summarize(X, *, block_pixels=BLOCK_PIXELS):
    """The :class:`ImageSummary` of images ``X`` (never modified), a block
    of at most ``block_pixels`` pixels at a time."""
    parts = _blocks_parts(X, block_pixels=block_pixels)
    grey_range = tuple(
        float(v) for v in np.percentile(grey_levels(X), GREY_RANGE_PERCENTILES)
    )
    return _summary(X.shape[1:], parts, grey_range)


def summarize_chunks(chunks, *, block_pixels=BLOCK_PIXELS):
    """The :class:`ImageSummary` of the images of ``chunks``, an iterable of
    uint8 arrays (n_i, height, width, channels) of one image shape, taken
    one at a time (only one is held). Equals :func:`summarize` of their
    concatenation (the grey range comes from exact counts of grey levels).
    Returns None when there are no chunks."""
    parts, shape = [], None
    for chunk in chunks:
        if chunk.dtype != np.uint8:
            raise TypeError(f"summarize_chunks takes uint8 chunks; got {chunk.dtype}.")
        shape = chunk.shape[1:]
        offset = sum(len(p["hashes"]) for p in parts)
        parts += _blocks_parts(chunk, offset, levels=True, block_pixels=block_pixels)
    if shape is None:
        return None
    counts = sum(p["levels"] for p in parts)
    grey_range = tuple(
        _percentile_of_counts(counts, q) / shape[-1] for q in GREY_RANGE_PERCENTILES
    )
    return _summary(shape, parts, grey_range)


def summarized(X):
    """``X`` itself when it is an :class:`ImageSummary`, else its summary."""
    return X if isinstance(X, ImageSummary) else summarize(X)


def _blocks_parts(X, offset=0, levels=False, *, block_pixels):
    """The parts of a summary of ``X`` (see :func:`_parts`), a block of at
    most ``block_pixels`` pixels at a time; ``offset`` is the index of X's
    first image."""
    rows = max(1, block_pixels // max(1, int(np.prod(X.shape[1:3]))))
    return [_parts(X[i : i + rows], offset + i, levels) for i in range(0, len(X), rows)]


def _parts(X, offset, levels):
    """The per-image parts of a summary of ``X``, and its pixel sums; with
    ``levels`` (uint8 images), also the counts of their grey levels times
    the channels (integers: exact percentiles over chunks)."""
    flat = X.reshape(len(X), -1)
    finite_rows = np.isfinite(flat).all(axis=1)
    values = flat if finite_rows.all() else flat[np.isfinite(flat)][None, :]
    return {
        "nonfinite": np.flatnonzero(~finite_rows) + offset,
        "count": values.size,
        "min": float(values.min()) if values.size else np.inf,
        "max": float(values.max()) if values.size else -np.inf,
        "sum": float(values.sum(dtype=np.float64)),
        # float64 sums without a float64 copy of the pixels
        "sum_squares": float(np.einsum("ij,ij->", values, values, dtype=np.float64)),
        "hashes": _row_hashes(X),
        "thumbs": thumbnails(X),
        "raw": _raw_statistics(grey_levels(X)),
        "levels": _level_counts(X) if levels else None,
    }


def _level_counts(X):
    """How many pixels of uint8 images ``X`` have each grey level times the
    channels, 0 to 255 * channels (integers: exact percentiles over chunks)."""
    sums = X.reshape(-1, X.shape[-1]).sum(axis=1, dtype=np.intp)
    return np.bincount(sums, minlength=255 * X.shape[-1] + 1)


def _summary(shape, parts, grey_range):
    count = sum(p["count"] for p in parts)
    mean = sum(p["sum"] for p in parts) / max(count, 1)
    second = sum(p["sum_squares"] for p in parts) / max(count, 1)
    return ImageSummary(
        image_shape=tuple(int(v) for v in shape),
        nonfinite=np.concatenate([p["nonfinite"] for p in parts]).astype(int),
        moments={
            "count": count,
            "min": min(p["min"] for p in parts),
            "max": max(p["max"] for p in parts),
            "mean": mean,
            "std": float(np.sqrt(max(second - mean * mean, 0.0))),
        },
        hashes=[h for p in parts for h in p["hashes"]],
        thumbs=np.concatenate([p["thumbs"] for p in parts]),
        raw={k: np.concatenate([p["raw"][k] for p in parts]) for k in parts[0]["raw"]},
        grey_range=grey_range,
    )


def _percentile_of_counts(counts, q):
    """``np.percentile`` (linear interpolation) of the values 0, 1, ...
    occurring ``counts`` times."""
    position = q / 100 * (counts.sum() - 1)
    below = np.floor(position)
    lo, hi = np.searchsorted(np.cumsum(counts), [below, below + 1], side="right")
    return float(lo + (position - below) * (hi - lo))


def _row_hashes(X):
    """A 16-byte digest of each image's bytes (equal images, equal digests)."""
    rows = np.ascontiguousarray(X.reshape(len(X), -1))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


def grey_levels(X):
    """Grey-level images (mean over channels), NaN and inf as 0."""
    grey = X.mean(axis=-1, dtype=np.float32)
    if np.isfinite(grey).all():  # one pass, where nan_to_num takes four
        return grey
    return np.nan_to_num(grey, copy=False, nan=0, posinf=0, neginf=0)


def thumbnails(X, side=8):
    """Each image as a unit-norm, zero-mean grey thumbnail of side x side
    (block means), for near-duplicate search."""
    grey = grey_levels(X)
    n, h, w = grey.shape
    bh, bw = max(1, h // side), max(1, w // side)
    grey = grey[:, : (h // bh) * bh, : (w // bw) * bw]
    flat = grey.reshape(n, h // bh, bh, w // bw, bw).mean(axis=(2, 4)).reshape(n, -1)
    scale = np.linalg.norm(flat, axis=1, keepdims=True)
    flat -= flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    flat_image = norm <= 1e-4 * scale  # rounding noise of a constant image
    return np.where(flat_image, 0.0, flat / np.where(flat_image, 1.0, norm))


def image_statistics(X):
    """Per-image statistics of images ``X`` of shape (n, height, width,
    channels), on grey values scaled to the dataset's [0, 1] (its 0.1th to
    99.9th percentile).

    Returns a dict of arrays of length n: ``p1`` and ``p99`` (the image's
    dark and bright ends, 1st and 99th percentiles), ``std`` (standard
    deviation), ``correlation`` (of neighbouring pixels: about 0 for noise)
    and ``sharpness`` (mean absolute Laplacian over the standard deviation;
    NaN for images under 3x3 pixels).

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix.diagnostics.summary import image_statistics
    >>> X = np.zeros((2, 8, 8, 1))
    >>> X[0, 2:6, 2:6] = 1.0
    >>> s = image_statistics(X)
    >>> s["p99"].round(2).tolist(), s["std"].round(2).tolist()
    ([1.0, 0.0], [0.43, 0.0])
    """
    return summarize(X).statistics


def _raw_statistics(grey):
    """The statistics of :func:`image_statistics` in the grey units of
    ``grey`` (n, height, width): every one moves with an affine change of
    units, so :func:`_scaled_statistics` gets the scaled ones from these
    once the dataset's range is known (after the last chunk)."""
    n = len(grey)
    flat = grey.reshape(n, -1)
    p1, p99 = np.percentile(flat, [1, 99], axis=1)
    # Mean squared difference of horizontal and vertical neighbours.
    squared, terms = np.zeros(n, dtype=np.float64), 0
    for axis in (1, 2):
        if grey.shape[axis] >= 2:
            squared += np.square(np.diff(grey, axis=axis)).mean(axis=(1, 2))
            terms += 1
    laplacian = np.full(n, np.nan)  # undefined for images under 3x3 pixels
    if grey.shape[1] >= 3 and grey.shape[2] >= 3:
        # The Laplacian: the second differences down and across, summed.
        lap = np.diff(grey, 2, axis=1)[:, :, 1:-1] + np.diff(grey, 2, axis=2)[:, 1:-1]
        laplacian = np.abs(lap).mean(axis=(1, 2), dtype=np.float64)
    return {
        "p1": p1.astype(np.float64),
        "p99": p99.astype(np.float64),
        "std": flat.std(axis=1, dtype=np.float64),
        "neighbour_msd": squared / terms if terms else np.full(n, np.nan),
        "laplacian": laplacian,
    }


def _scaled_statistics(raw, low, high):
    """:func:`image_statistics` from :func:`_raw_statistics`, grey levels
    mapped from [low, high] to [0, 1]."""
    span = max(high - low, 1e-12)
    std = raw["std"] / span
    # Correlation of neighbouring pixels, from their mean squared difference:
    # 1 for smooth images, about 0 for noise (1 where it is undefined).
    variance = np.square(std)
    ok = (variance > 1e-12) & np.isfinite(raw["neighbour_msd"])
    msd = np.where(ok, raw["neighbour_msd"], 0) / span**2
    return {
        "p1": (raw["p1"] - low) / span,
        "p99": (raw["p99"] - low) / span,
        "std": std,
        "correlation": np.where(ok, 1 - msd / (2 * np.where(ok, variance, 1)), 1.0),
        "sharpness": raw["laplacian"] / span / np.maximum(std, 1e-6),
    }
