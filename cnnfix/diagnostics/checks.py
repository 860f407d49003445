"""The checks behind diagnose(): pure functions from arrays to findings.

Data checks take images ``X`` of shape (n, height, width, channels) (float
copies are made, the input is never modified) and labels ``y``; each returns
a list of :class:`~cnnfix.diagnostics.report.Finding` (empty when the check
finds nothing). Image-quality checks compare each image with the rest of its
dataset, after cleanvision: an image is dark, bright, low in contrast or
blurry *relative to* the typical image, so a dataset of dim X-rays is not one
big "dark" finding. Blank is judged on the image alone (no structure), so a
darkened image is dark, never blank.

The pixel checks read an :class:`ImageSummary`, what they need of each image
(a digest, a thumbnail, a few statistics) and of the dataset (pixel range and
moments), gathered in one pass: :func:`summarize` from an array, or
:func:`summarize_chunks` from uint8 chunks decoded one after another, so
diagnosing a folder of files never holds more than one chunk of pixels.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .report import Finding

__all__ = [
    "ImageSummary",
    "check_class_balance",
    "check_duplicates",
    "check_image_quality",
    "check_invalid_values",
    "check_leakage",
    "check_scale",
    "image_statistics",
    "summarize",
    "summarize_chunks",
    "thumbnails",
]

#: Share of a dataset above which image-quality and duplicate findings are
#: warnings rather than info.
WARN_FRACTION = 0.01

#: A class with fewer training images than this is a warning.
MIN_SAMPLES_PER_CLASS = 20

#: Majority / minority class count at or above which imbalance is a warning.
IMBALANCE_RATIO = 3.0

#: Near duplicates: thumbnails closer than this fraction of the median
#: nearest-neighbour distance of the dataset.
NEAR_DUPLICATE_RATIO = 0.2


# -- what the checks read of the images --------------------------------------

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


def summarize(X):
    """The :class:`ImageSummary` of images ``X`` (never modified)."""
    parts = list(_blocks_parts(X))
    grey_range = tuple(
        float(v) for v in np.percentile(_grey(X), GREY_RANGE_PERCENTILES)
    )
    return _summary(X.shape[1:], parts, grey_range)


def summarize_chunks(chunks):
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
        parts += _blocks_parts(chunk, offset, levels=True)
    if shape is None:
        return None
    counts = sum(p["levels"] for p in parts)
    grey_range = tuple(
        _percentile_of_counts(counts, q) / shape[-1] for q in GREY_RANGE_PERCENTILES
    )
    return _summary(shape, parts, grey_range)


def _blocks_parts(X, offset=0, levels=False):
    """The parts of a summary of ``X`` (see :func:`_parts`), a block of at
    most :data:`BLOCK_PIXELS` pixels at a time; ``offset`` is the index of
    X's first image."""
    rows = max(1, BLOCK_PIXELS // max(1, int(np.prod(X.shape[1:3]))))
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
        "raw": _raw_statistics(_grey(X)),
        "levels": (
            np.bincount(
                X.reshape(-1, X.shape[-1]).sum(axis=1, dtype=np.intp),
                minlength=255 * X.shape[-1] + 1,
            )
            if levels
            else None
        ),
    }


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
    below, frac = int(np.floor(position)), position - np.floor(position)
    cumulative = np.cumsum(counts)
    lo = int(np.searchsorted(cumulative, below, side="right"))
    hi = int(np.searchsorted(cumulative, below + 1, side="right")) if frac else lo
    return lo + frac * (hi - lo)


# -- values and scale --------------------------------------------------------


def check_invalid_values(X):
    """NaN or infinite pixels (``X``: images or their :class:`ImageSummary`)."""
    summary = _summarized(X)
    rows = summary.nonfinite
    if not len(rows):
        return []
    return [
        Finding(
            "invalid_values",
            "error",
            f"{len(rows)} images contain NaN or infinite pixels.",
            {"n_images": len(rows), "fraction": len(rows) / len(summary)},
            "Drop or repair them before training: "
            "keep = np.isfinite(X).all(axis=(1, 2, 3)); X, y = X[keep], y[keep]",
            rows,
        )
    ]


def check_scale(X, normalizes):
    """Pixel values far from the [0, 1] or standardised scale.

    ``normalizes`` says whether the estimator standardises its input itself
    (cnnfix's estimators do with ``normalize=True``): then this is info.
    ``X``: images or their :class:`ImageSummary`.
    """
    moments = _summarized(X).moments
    if moments["count"] == 0:
        return []
    low, high = moments["min"], moments["max"]
    mean, std = moments["mean"], moments["std"]
    if -3.0 <= low and high <= 3.0 and abs(mean) <= 2.0 and 0.05 <= std <= 3.0:
        return []
    return [
        Finding(
            "unnormalized_input",
            "info" if normalizes else "warning",
            f"Pixel values range over [{low:.4g}, {high:.4g}] (mean {mean:.4g}, "
            f"std {std:.4g}); networks train best on values near [0, 1].",
            {
                "min": low,
                "max": high,
                "mean": mean,
                "std": std,
                "estimator_normalizes": bool(normalizes),
            },
            "The estimator standardises its input (normalize=True), nothing to do."
            if normalizes
            else "Standardise inside the model: DropoutCNN(normalize=True), "
            "or scale first: X = X / X.max()",
        )
    ]


# -- labels ------------------------------------------------------------------


def check_class_balance(y):
    """Imbalanced classes and classes with too few samples."""
    classes, counts = np.unique(y, return_counts=True)
    findings = []
    ratio = counts.max() / counts.min()
    per_class = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
    if ratio >= IMBALANCE_RATIO:
        minority = classes[counts < counts.max() / IMBALANCE_RATIO]
        findings.append(
            Finding(
                "class_imbalance",
                "warning",
                f"The largest class has {ratio:.1f}x the images of the smallest; "
                f"{len(minority)} classes are under-represented.",
                {
                    "imbalance_ratio": float(ratio),
                    "class_counts": per_class,
                    "minority_classes": [str(c) for c in minority],
                },
                "Balance the training data: make_pipeline(ClassBalancer(), "
                "DropoutCNN()), or DropoutCNN(class_weight='balanced'); score "
                "with balanced_accuracy.",
            )
        )
    few = classes[counts < MIN_SAMPLES_PER_CLASS]
    if len(few):
        findings.append(
            Finding(
                "too_few_samples",
                "warning",
                f"{len(few)} classes have fewer than {MIN_SAMPLES_PER_CLASS} "
                "images, too few for a CNN to learn them.",
                {
                    "classes": {str(c): per_class[str(c)] for c in few},
                    "minimum": MIN_SAMPLES_PER_CLASS,
                },
                "Collect more images of these classes, or augment and "
                "oversample: DropoutCNN(augmentation='standard', "
                "balancer=ClassBalancer())",
                np.flatnonzero(np.isin(y, few)),
            )
        )
    return findings


#: Photos: colour images at least this many pixels a side (the smallest
#: input keras.applications' backbones take); digits, Fashion-MNIST and other
#: small grey images are not what ImageNet features help most.
PHOTO_SIDE = 32

#: Below this many images in the median class, a CNN trained from scratch on
#: photos is usually beaten by a fine-tuned pretrained one: Keras's and
#: fastai's transfer-learning guides work with a few hundred to a thousand
#: images per class, and benchmarks/bench_transfer.py shows the gap at 20 and
#: 50 per class.
FEW_PER_CLASS = 1000


def check_dataset_size(image_shape, y, from_scratch):
    """``small_dataset_from_scratch``: few photos per class of
    ``image_shape`` (height, width, channels), and a CNN that starts from
    random weights (``from_scratch``)."""
    height, width, channels = image_shape
    per_class = float(np.median(np.unique(y, return_counts=True)[1]))
    photos = channels == 3 and min(height, width) >= PHOTO_SIDE
    if not (from_scratch and photos and per_class < FEW_PER_CLASS):
        return []
    return [
        Finding(
            "small_dataset_from_scratch",
            "warning",
            f"{per_class:.0f} colour images per class (median) is few for a CNN "
            "trained from scratch; a pretrained backbone already knows edges, "
            "textures and shapes.",
            {
                "median_per_class": per_class,
                "image_size": [int(height), int(width)],
                "threshold_per_class": FEW_PER_CLASS,
            },
            "Fine-tune a pretrained network: TransferCNN() (ImageNet "
            "weights, downloaded once; offline, pass weights=<path to the "
            "file>), in place of the CNN trained from scratch.",
        )
    ]


# -- duplicates --------------------------------------------------------------


def _row_hashes(X):
    """A 16-byte digest of each image's bytes (equal images, equal digests)."""
    rows = np.ascontiguousarray(X.reshape(len(X), -1))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


def _exact_groups(hashes):
    """Groups (lists of indices, more than one each) of byte-identical images,
    from their digests."""
    groups = defaultdict(list)
    for i, digest in enumerate(hashes):
        groups[digest].append(i)
    return [g for g in groups.values() if len(g) > 1], groups


def _near_threshold(nearest):
    """NEAR_DUPLICATE_RATIO of the median positive nearest-neighbour
    distance (0 when every image has an exact copy)."""
    positive = nearest[nearest > 1e-6]
    return NEAR_DUPLICATE_RATIO * float(np.median(positive)) if len(positive) else 0.0


def _grey(X):
    """Grey-level images (mean over channels), NaN and inf as 0."""
    return np.nan_to_num(X.mean(axis=-1, dtype=np.float32), nan=0, posinf=0, neginf=0)


def thumbnails(X, side=8):
    """Each image as a unit-norm, zero-mean grey thumbnail of side x side
    (block means), for near-duplicate search."""
    grey = _grey(X)
    n, h, w = grey.shape
    bh, bw = max(1, h // side), max(1, w // side)
    grey = grey[:, : (h // bh) * bh, : (w // bw) * bw]
    small = grey.reshape(n, h // bh, bh, w // bw, bw).mean(axis=(2, 4))
    flat = small.reshape(n, -1)
    scale = np.linalg.norm(flat, axis=1, keepdims=True)
    flat -= flat.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    flat_image = norm <= 1e-4 * scale  # rounding noise of a constant image
    return np.where(flat_image, 0.0, flat / np.where(flat_image, 1.0, norm))


def _reduced(thumbs, n_components=16, random_state=0):
    from sklearn.decomposition import PCA

    n_components = min(n_components, thumbs.shape[1], len(thumbs))
    return PCA(n_components, random_state=random_state).fit_transform(thumbs)


def _near_pairs(thumbs, exact_of):
    """Pairs (i, j) of near-duplicate images, plus the distance threshold.

    Thumbnails are reduced to 16 principal components and searched with a
    KD-tree (n log n, not quadratic); candidates are confirmed on the full
    thumbnails. The threshold is relative: NEAR_DUPLICATE_RATIO of the
    median nearest-neighbour distance.
    """
    from sklearn.neighbors import KDTree

    reduced = _reduced(thumbs)
    tree = KDTree(reduced)
    neighbour = tree.query(reduced, k=2, return_distance=False)[:, 1]
    # Distances on the full thumbnails (reduced ones are never larger, so
    # the radius search below misses no pair).
    threshold = _near_threshold(np.linalg.norm(thumbs - thumbs[neighbour], axis=1))
    if not threshold:
        return [], 0.0
    candidates = np.flatnonzero(
        np.linalg.norm(reduced - reduced[neighbour], axis=1) < threshold
    )
    blank = ~thumbs.any(axis=1)  # flat images: low_information_images
    pairs = set()
    for i in candidates[~blank[candidates]]:
        for j in tree.query_radius(reduced[i : i + 1], threshold)[0]:
            if j == i or blank[j] or exact_of[i] == exact_of[j]:
                continue
            if np.linalg.norm(thumbs[i] - thumbs[j]) < threshold:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs), threshold


def check_duplicates(X, y):
    """Exact duplicates, conflicting labels and near duplicates (``X``:
    images or their :class:`ImageSummary`)."""
    summary = _summarized(X)
    groups, by_hash = _exact_groups(summary.hashes)
    findings = _exact_findings(groups, np.asarray(y), len(summary))
    if len(summary) >= 3:
        findings += _near_findings(summary.thumbs, by_hash)
    return findings


def _exact_findings(groups, y, n):
    """exact_duplicates for the copies in ``groups`` of byte-identical
    images (all but the first of each), conflicting_labels for the groups
    whose labels differ."""
    if not groups:
        return []
    extra = [i for g in groups for i in g[1:]]
    findings = [
        Finding(
            "exact_duplicates",
            "warning" if len(extra) / n >= WARN_FRACTION else "info",
            f"{len(extra)} images are exact copies of others ({len(groups)} groups).",
            {
                "n_duplicates": len(extra),
                "n_groups": len(groups),
                "fraction": len(extra) / n,
            },
            "Drop the copies so they do not weigh twice or leak across "
            "splits: _, keep = np.unique(X.reshape(len(X), -1), axis=0, "
            "return_index=True); X, y = X[np.sort(keep)], y[np.sort(keep)]",
            extra,
        )
    ]
    conflicts = [g for g in groups if len(set(y[g].tolist())) > 1]
    if conflicts:
        rows = [i for g in conflicts for i in g]
        findings.append(
            Finding(
                "conflicting_labels",
                "error",
                f"{len(conflicts)} identical images carry different labels "
                f"({len(rows)} samples).",
                {
                    "n_groups": len(conflicts),
                    "n_samples": len(rows),
                    "examples": [
                        {"indices": g, "labels": [str(v) for v in y[g]]}
                        for g in conflicts[:5]
                    ],
                },
                "Fix or drop these labels: a model cannot be right on both. "
                "X, y = np.delete(X, idx, 0), np.delete(y, idx)",
                rows,
            )
        )
    return findings


def _near_findings(thumbs, by_hash):
    """near_duplicates: pairs of images that differ only slightly (copies
    of one another, the groups of ``by_hash``, are not counted again)."""
    n = len(thumbs)
    exact_of = np.empty(n, dtype=np.int64)
    for gid, members in enumerate(by_hash.values()):
        exact_of[members] = gid
    pairs, threshold = _near_pairs(thumbs, exact_of)
    if not pairs:
        return []
    involved = sorted({j for _, j in pairs})
    return [
        Finding(
            "near_duplicates",
            "warning" if len(involved) / n >= WARN_FRACTION else "info",
            f"{len(pairs)} pairs of images are near copies (differing "
            "only in noise, brightness or contrast).",
            {
                "n_pairs": len(pairs),
                "fraction": len(involved) / n,
                "threshold": threshold,
                "examples": [list(p) for p in pairs[:10]],
            },
            "Keep one image of each pair, and split by group so copies "
            "never straddle train and test: GroupKFold(groups=...)",
            involved,
        )
    ]


def check_leakage(X, X_test):
    """Test images found (exactly or nearly) in the training images (each
    of ``X`` and ``X_test``: images or their :class:`ImageSummary`)."""
    train, test = _summarized(X), _summarized(X_test)
    train_hashes = set(train.hashes)
    exact = np.array([h in train_hashes for h in test.hashes], dtype=bool)
    # Near copies: a test thumbnail closer to a training one than the
    # training set's own near-duplicate threshold (from a sample of 2,000).
    from sklearn.neighbors import NearestNeighbors

    train_t, test_t = train.thumbs, test.thumbs
    index = NearestNeighbors(n_neighbors=2).fit(train_t)
    sample = train_t[np.random.default_rng(0).permutation(len(train))[:2000]]
    threshold = _near_threshold(index.kneighbors(sample)[0][:, 1])
    nearest = index.kneighbors(test_t, n_neighbors=1)[0][:, 0]
    leaked = exact | (nearest < threshold)
    if not leaked.any():
        return []
    rows = np.flatnonzero(leaked)
    return [
        Finding(
            "train_test_leakage",
            "error",
            f"{len(rows)} test images ({len(rows) / len(test):.1%}) also appear "
            "in the training data, so test accuracy overstates real accuracy.",
            {
                "n_leaked": len(rows),
                "n_exact": int(exact.sum()),
                "fraction": len(rows) / len(test),
            },
            "Remove them from the test set: X_test = np.delete(X_test, idx, 0)",
            rows,
        )
    ]


# -- image quality -----------------------------------------------------------

#: Blank: an image whose neighbouring pixels are less correlated than this
#: holds no structure, only noise (real images: 0.3 and up on 8x8 digits,
#: 0.45 and up on Fashion-MNIST; noise: about 0).
BLANK_CORRELATION = 0.25

#: Blank: a standard deviation below this share of the dataset's grey range
#: (half a level of an 8-bit image) is a constant image.
FLAT_STD = 0.002

#: Dark: the image's bright end (99th percentile) is below this share of the
#: dataset's median bright end. Bright: the distance from its dark end (1st
#: percentile) to white is below this share of the dataset's median one.
#: Low contrast: its grey range (1st to 99th percentile) is below this share
#: of the dataset's median range, and dark or bright does not explain it.
LIGHTING_RATIO = 0.55

#: Dark (bright) only when the other end of the image's range moved at most
#: this share of how far the bright (dark) end moved: an image squeezed from
#: both ends has low contrast.
OTHER_END_SHARE = 0.1


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
    >>> from cnnfix.diagnostics.checks import image_statistics
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
    if grey.shape[1] >= 3 and grey.shape[2] >= 3:
        lap = (
            4 * grey[:, 1:-1, 1:-1]
            - grey[:, :-2, 1:-1]
            - grey[:, 2:, 1:-1]
            - grey[:, 1:-1, :-2]
            - grey[:, 1:-1, 2:]
        )
        laplacian = np.abs(lap).mean(axis=(1, 2), dtype=np.float64)
    else:
        laplacian = np.full(n, np.nan)
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
    # 1 for smooth images, about 0 for noise (1 where it cannot be measured).
    variance = np.square(std)
    ok = (variance > 1e-12) & np.isfinite(raw["neighbour_msd"])
    msd = np.where(ok, raw["neighbour_msd"], 0) / span**2
    correlation = np.where(ok, 1 - msd / (2 * np.where(ok, variance, 1)), 1.0)
    return {
        "p1": (raw["p1"] - low) / span,
        "p99": (raw["p99"] - low) / span,
        "std": std,
        "correlation": correlation,
        "sharpness": raw["laplacian"] / span / np.maximum(std, 1e-6),
    }


def _quality_finding(code, flagged, order, title, suggestion, evidence):
    """A finding for the ``flagged`` images, most extreme (lowest ``order``)
    first."""
    n = len(flagged)
    rows = np.flatnonzero(flagged)
    rows = rows[np.argsort(order[rows], kind="stable")]
    return Finding(
        code,
        "warning" if len(rows) / n >= WARN_FRACTION else "info",
        title.format(n=len(rows), share=len(rows) / n),
        {"n_images": len(rows), "fraction": len(rows) / n, **evidence},
        suggestion,
        rows,
    )


def _lighting(stats):
    """Which images are blank, dark, bright or low in contrast.

    Blank is a property of the image alone: constant, or no structure
    (neighbouring pixels uncorrelated). Dark, bright and low contrast
    compare the image's grey range, from its dark end ``p1`` to its bright
    end ``p99``, with the dataset's median ends ``L`` and ``H``: dark when
    the bright end fell below ``LIGHTING_RATIO * H`` and the dark end did
    not rise; bright when the dark end rose (headroom to white below
    ``LIGHTING_RATIO * (1 - L)``) and the bright end did not fall; low
    contrast when the range is below ``LIGHTING_RATIO * (H - L)`` and
    neither explains it. Each image gets at most one of the four.

    Parameters
    ----------
    stats : dict
        The output of :func:`image_statistics`.

    Returns
    -------
    flags : dict of str to ndarray of bool
        ``"blank"``, ``"dark"``, ``"bright"`` and ``"low_contrast"``.
    reference : dict of str to float
        The dataset's median ends ``"L"`` and ``"H"``.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix.diagnostics.checks import image_statistics, _lighting
    >>> X = np.random.default_rng(0).random((20, 8, 8, 1)).cumsum(axis=1)
    >>> X[0] *= 0.2  # darkened, all structure kept
    >>> X[1] = 3.0  # constant
    >>> flags, _ = _lighting(image_statistics(X))
    >>> np.flatnonzero(flags["dark"]).tolist(), np.flatnonzero(flags["blank"]).tolist()
    ([0], [1])
    """
    lo, hi = stats["p1"], stats["p99"]
    blank = (stats["std"] < FLAT_STD) | (stats["correlation"] < BLANK_CORRELATION)
    rest = ~blank
    low_end = float(np.median(lo[rest])) if rest.any() else 0.0
    high_end = float(np.median(hi[rest])) if rest.any() else 1.0
    fell, rose = high_end - hi, lo - low_end  # of the bright and dark ends
    dark = rest & (hi < LIGHTING_RATIO * high_end) & (rose <= OTHER_END_SHARE * fell)
    bright = (
        rest
        & (1 - lo < LIGHTING_RATIO * (1 - low_end))
        & (fell <= OTHER_END_SHARE * rose)
    )
    narrow = hi - lo < LIGHTING_RATIO * max(high_end - low_end, 1e-6)
    low_contrast = rest & narrow & ~dark & ~bright
    flags = {"blank": blank, "dark": dark, "bright": bright}
    flags["low_contrast"] = low_contrast
    return flags, {"L": low_end, "H": high_end}


def check_image_quality(X):
    """Blank, dark, bright, low-contrast and blurry images (``X``: images or
    their :class:`ImageSummary`).

    Blank is judged on each image alone (no structure relative to its own
    grey range); the others relative to the dataset, so a dataset of dim
    X-rays is not one big "dark" finding. A darkened image keeps its
    structure: it is dark, never blank.

    Examples
    --------
    >>> from cnnfix.datasets import load_digit_images
    >>> from cnnfix.diagnostics.checks import check_image_quality
    >>> X, _ = load_digit_images()
    >>> X[:30] *= 0.2
    >>> [(f.code, f.severity, len(f.indices)) for f in check_image_quality(X)]
    [('dark_images', 'warning', 30)]
    """
    s = _summarized(X).statistics
    flags, ref = _lighting(s)
    blank = flags["blank"]
    sharp = s["sharpness"]
    measurable = np.isfinite(sharp).all() and (~blank).any()
    blur_threshold = 0.5 * float(np.median(sharp[~blank])) if measurable else 0.0
    contrast_fix = (
        "Stretch each image's grey levels to its own range (for training and "
        "prediction), or train with brightness and contrast augmentation: "
        "DropoutCNN(augmentation=[keras.layers.RandomBrightness(0.3, "
        "value_range=(0, 255)), keras.layers.RandomContrast(0.3)])"
    )
    rules = [
        (
            "low_information_images",
            blank,
            np.where(s["std"] < FLAT_STD, -1.0, s["correlation"]),
            "{n} images ({share:.1%}) are blank: constant, or noise without structure.",
            "Drop them, or check how they were captured: "
            "keep = X.std(axis=(1, 2, 3)) > 0; X, y = X[keep], y[keep]",
            {"correlation_threshold": BLANK_CORRELATION, "flat_std": FLAT_STD},
        ),
        (
            "dark_images",
            flags["dark"],
            s["p99"],
            "{n} images ({share:.1%}) are much darker than the rest.",
            contrast_fix,
            {"p99_threshold": LIGHTING_RATIO * ref["H"], "median_p99": ref["H"]},
        ),
        (
            "bright_images",
            flags["bright"],
            -s["p1"],
            "{n} images ({share:.1%}) are much brighter (washed out) than the rest.",
            contrast_fix,
            {
                "p1_threshold": 1 - LIGHTING_RATIO * (1 - ref["L"]),
                "median_p1": ref["L"],
            },
        ),
        (
            "low_contrast_images",
            flags["low_contrast"],
            s["p99"] - s["p1"],
            "{n} images ({share:.1%}) have much lower contrast than the rest.",
            contrast_fix,
            {
                "range_threshold": LIGHTING_RATIO * (ref["H"] - ref["L"]),
                "median_range": ref["H"] - ref["L"],
            },
        ),
        (
            "blurry_images",
            (sharp < blur_threshold) & ~blank if measurable else np.zeros_like(blank),
            sharp,
            "{n} images ({share:.1%}) are much blurrier than the rest.",
            "Drop or recapture them; if test images are blurry too, train with "
            "zoom augmentation: DropoutCNN(augmentation='standard')",
            {"sharpness_threshold": blur_threshold},
        ),
    ]
    return [_quality_finding(*rule) for rule in rules if rule[1].any()]


def _summarized(X):
    return X if isinstance(X, ImageSummary) else summarize(X)
