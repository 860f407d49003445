"""Checks of the pixels: invalid values, scale, and image quality.

Image quality is judged the way cleanvision judges it: an image is dark,
bright, low in contrast or blurry *relative to* the typical image of its
dataset, so a dataset of dim X-rays is not one big "dark" finding. Blank is
judged on the image alone (no structure), so a darkened image is dark, never
blank. Each check takes images ``X`` (n, height, width, channels) or their
:class:`~cnnfix.diagnostics.summary.ImageSummary`, and returns a list of
:class:`~cnnfix.diagnostics.report.Finding` (empty when it finds nothing).
"""

import numpy as np

from .report import Finding, counted
from .summary import summarized
from .thresholds import DATA_THRESHOLDS


def check_invalid_values(X):
    """NaN or infinite pixels (``X``: images or their :class:`ImageSummary`)."""
    summary = summarized(X)
    rows = summary.nonfinite
    if not len(rows):
        return []
    return [
        Finding(
            "invalid_values",
            "error",
            f"{counted(len(rows), 'image contains', 'images contain')} NaN or "
            "infinite pixels.",
            {"n_images": len(rows), "fraction": len(rows) / len(summary)},
            "Drop or repair them before training: "
            "keep = np.isfinite(X).all(axis=(1, 2, 3)); X, y = X[keep], y[keep]",
            rows,
        )
    ]


def check_scale(X, normalizes, *, thresholds=DATA_THRESHOLDS):
    """Pixel values far from the [0, 1] or standardised scale (the bounds
    of ``thresholds``).

    ``normalizes`` says whether the estimator standardises its input itself
    (cnnfix's estimators do with ``normalize=True``): then this is info.
    ``X``: images or their :class:`ImageSummary`.
    """
    moments = summarized(X).moments
    if moments["count"] == 0:
        return []
    evidence = {k: moments[k] for k in ("min", "max", "mean", "std")}
    low, high, mean, std = evidence.values()
    if (
        max(-low, high) <= thresholds.max_abs_pixel
        and abs(mean) <= thresholds.max_abs_mean
        and thresholds.std_range[0] <= std <= thresholds.std_range[1]
    ):
        return []
    return [
        Finding(
            "unnormalized_input",
            "info" if normalizes else "warning",
            f"Pixel values range over [{low:.4g}, {high:.4g}] (mean {mean:.4g}, "
            f"std {std:.4g}); networks train best on values near [0, 1].",
            {**evidence, "estimator_normalizes": bool(normalizes)},
            "The estimator standardises its input (normalize=True), nothing to do."
            if normalizes
            else "Standardise inside the model: DropoutCNN(normalize=True), "
            "or scale first: X = X / X.max()",
        )
    ]


def _quality_finding(code, flagged, order, title, suggestion, evidence, warn_at):
    """A finding for the ``flagged`` images, most extreme (lowest ``order``)
    first; a warning when they are at least ``warn_at`` of the images."""
    n = len(flagged)
    rows = np.flatnonzero(flagged)
    rows = rows[np.argsort(order[rows], kind="stable")]
    return Finding(
        code,
        "warning" if len(rows) / n >= warn_at else "info",
        title.format(
            n=counted(len(rows), "image"),
            share=len(rows) / n,
            are="is" if len(rows) == 1 else "are",
            have="has" if len(rows) == 1 else "have",
        ),
        {"n_images": len(rows), "fraction": len(rows) / n, **evidence},
        suggestion,
        rows,
    )


def lighting_flags(stats, y=None, *, thresholds=DATA_THRESHOLDS):
    """Which images are blank, dark, bright or low in contrast.

    Blank is a property of the image alone: constant, or no structure
    (neighbouring pixels uncorrelated). Dark, bright and low contrast
    compare the image's grey range, from its dark end ``p1`` to its bright
    end ``p99``, with the median ends ``L`` and ``H`` of the non-blank
    images of its class (with labels ``y``, for a class of at least
    ``min_class_images`` of them: a class dark by nature is not dark) or of
    the dataset: dark when the bright end fell below ``d * H`` and the dark
    end did not rise (``d``: the ``dark_ratio`` of ``thresholds``);
    bright when the dark end rose (headroom to white below ``r * (1 - L)``)
    and the bright end did not fall; low contrast when the range is below
    ``r * (H - L)`` and neither a risen dark end nor a fallen bright end
    (below ``r * H``: dimmed, dark or not) explains it (``r``: the
    ``lighting_ratio`` of ``thresholds``). Each image gets at most one of
    the four.

    Parameters
    ----------
    stats : dict
        The output of :func:`~cnnfix.diagnostics.summary.image_statistics`.
    y : array-like of shape (n_images,) or None, default=None
        The images' labels; None compares every image with the dataset.
    thresholds : DataThresholds, default=DATA_THRESHOLDS
        The rules' numbers.

    Returns
    -------
    flags : dict of str to ndarray of bool
        ``"blank"``, ``"dark"``, ``"bright"`` and ``"low_contrast"``.
    reference : dict of str to float
        The dataset's median ends ``"L"`` and ``"H"``, and
        ``"n_class_references"``, the classes whose images were compared
        with their class.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix.diagnostics.image_checks import lighting_flags
    >>> from cnnfix.diagnostics.summary import image_statistics
    >>> X = np.random.default_rng(0).random((20, 8, 8, 1)).cumsum(axis=1)
    >>> X[0] *= 0.2  # darkened, all structure kept
    >>> X[1] = 3.0  # constant
    >>> flags, _ = lighting_flags(image_statistics(X))
    >>> np.flatnonzero(flags["dark"]).tolist(), np.flatnonzero(flags["blank"]).tolist()
    ([0], [1])
    """
    lo, hi = stats["p1"], stats["p99"]
    ratio, other = thresholds.lighting_ratio, thresholds.other_end_share
    flat = stats["std"] < thresholds.flat_std  # a constant image
    blank = flat | (stats["correlation"] < thresholds.blank_correlation)
    rest = ~blank
    low_ref, high_ref = _median_ends(lo, hi, rest)
    low_end, high_end = np.full(len(lo), low_ref), np.full(len(hi), high_ref)
    by_class = 0
    for label in [] if y is None else np.unique(y):
        members = np.asarray(y) == label
        if np.sum(members & rest) >= thresholds.min_class_images:
            low_end[members], high_end[members] = _median_ends(lo, hi, members & rest)
            by_class += 1
    fell, rose = high_end - hi, lo - low_end  # of the bright and dark ends
    dimmed = rest & (hi < ratio * high_end) & (rose <= other * fell)
    bright = rest & (1 - lo < ratio * (1 - low_end)) & (fell <= other * rose)
    narrow = hi - lo < ratio * np.maximum(high_end - low_end, 1e-6)
    dark = dimmed & (hi < thresholds.dark_ratio * high_end)
    flags = {"blank": blank, "dark": dark, "bright": bright}
    flags["low_contrast"] = rest & narrow & ~dimmed & ~bright
    return flags, {"L": low_ref, "H": high_ref, "n_class_references": by_class}


def _median_ends(lo, hi, rows):
    """The median dark and bright ends of the images ``rows`` selects."""
    if not rows.any():
        return 0.0, 1.0
    return float(np.median(lo[rows])), float(np.median(hi[rows]))


_CONTRAST_FIX = (
    "Stretch each image's grey levels to its own range (for training and "
    "prediction), or train with brightness and contrast augmentation: "
    "DropoutCNN(augmentation=[keras.layers.RandomBrightness(0.3, "
    "value_range=(0, 255)), keras.layers.RandomContrast(0.3)])"
)


def check_image_quality(X, y=None, *, thresholds=DATA_THRESHOLDS):
    """Blank, dark, bright, low-contrast and blurry images (``X``: images or
    their :class:`ImageSummary`; the rules' numbers: ``thresholds``).

    Blank is judged on each image alone (no structure relative to its own
    grey range); the others relative to the dataset, so a dataset of dim
    X-rays is not one big "dark" finding. With labels ``y``, dark, bright
    and low contrast compare each image with its class instead (see
    :func:`lighting_flags`), so a class dark by nature is not either. A
    darkened image keeps its structure: it is dark, never blank.

    Examples
    --------
    >>> from cnnfix.datasets import load_digit_images
    >>> from cnnfix.diagnostics.image_checks import check_image_quality
    >>> X, _ = load_digit_images()
    >>> X[:30] *= 0.2
    >>> [(f.code, f.severity, len(f.indices)) for f in check_image_quality(X)]
    [('dark_images', 'warning', 30)]
    """
    s = summarized(X).statistics
    flags, ref = lighting_flags(s, y, thresholds=thresholds)
    t, blank, sharp = thresholds, flags["blank"], s["sharpness"]
    L, H = ref["L"], ref["H"]  # the median dark and bright ends
    within = {"n_classes_compared_within": ref["n_class_references"]}
    measurable = np.isfinite(sharp).all() and (~blank).any()
    blur = t.blur_ratio * float(np.median(sharp[~blank])) if measurable else 0.0
    rules = [
        (
            "low_information_images",
            blank,
            np.where(s["std"] < t.flat_std, -1.0, s["correlation"]),
            "{n} ({share:.1%}) {are} blank: constant, or noise without structure.",
            "Drop them, or check how they were captured: "
            "keep = X.std(axis=(1, 2, 3)) > 0; X, y = X[keep], y[keep]",
            {"correlation_threshold": t.blank_correlation, "flat_std": t.flat_std},
        ),
        (
            "dark_images",
            flags["dark"],
            s["p99"],
            "{n} ({share:.1%}) {are} much darker than the rest.",
            _CONTRAST_FIX,
            {"p99_threshold": t.dark_ratio * H, "median_p99": H, **within},
        ),
        (
            "bright_images",
            flags["bright"],
            -s["p1"],
            "{n} ({share:.1%}) {are} much brighter (washed out) than the rest.",
            _CONTRAST_FIX,
            {"p1_threshold": 1 - t.lighting_ratio * (1 - L), "median_p1": L, **within},
        ),
        (
            "low_contrast_images",
            flags["low_contrast"],
            s["p99"] - s["p1"],
            "{n} ({share:.1%}) {have} much lower contrast than the rest.",
            _CONTRAST_FIX,
            {
                "range_threshold": t.lighting_ratio * (H - L),
                "median_range": H - L,
                **within,
            },
        ),
        (
            "blurry_images",
            (sharp < blur) & ~blank if measurable else np.zeros_like(blank),
            sharp,
            "{n} ({share:.1%}) {are} much blurrier than the rest.",
            "Drop or recapture them; if test images are blurry too, train with "
            "zoom augmentation: DropoutCNN(augmentation='standard')",
            {"sharpness_threshold": blur},
        ),
    ]
    return [_quality_finding(*rule, t.warn_fraction) for rule in rules if rule[1].any()]
