"""Recall and precision of the lighting checks (dark, bright, blank, low contrast).

Faults of several strengths are planted in 2% of the images, one fault and
strength per run (the rest of the images stay clean), on the 1,797 8x8
digits (kept as float) and on the first 10,000 Fashion-MNIST training images
(rounded back to uint8, as a saved image would be):

- dark: ``x * s``;
- bright, washed out: ``M - s * (M - x)`` (``M`` the maximum: 16 or 255);
  bright, offset: ``min(x + s * M, M)``;
- blank: a constant grey, or a constant grey plus Gaussian noise of
  standard deviation ``s * M``;
- low contrast: ``m + s * (x - m)``, ``m`` the image's mean.

For each run the table gives how many images the expected code flags,
recall and precision against the planted ones, how many planted images got
another lighting code instead, and the same recall and precision for the
rules of cnnfix 0.1 (kept in this script only). Then the findings on clean
data (all digits, all 60,000 Fashion-MNIST training images) and the time of
``check_image_quality`` on those 60,000 images.

    python benchmarks/bench_lighting.py [--repeats 3]
"""

import argparse
import time

import numpy as np

from cnnfix.datasets import load_digit_images, load_fashion_mnist
from cnnfix.diagnostics.image_checks import check_image_quality

SHARE = 0.02
LIGHTING = ("low_information_images", "dark_images", "bright_images")
LIGHTING += ("low_contrast_images",)

#: (fault, strengths, expected code)
FAULTS = (
    ("dark", (0.5, 0.3, 0.15), "dark_images"),
    ("bright (washed out)", (0.5, 0.3, 0.15), "bright_images"),
    ("bright (offset)", (0.3, 0.5), "bright_images"),
    ("blank (constant)", (0.0,), "low_information_images"),
    ("blank (noise)", (0.02, 0.05), "low_information_images"),
    ("low contrast", (0.5, 0.3, 0.15), "low_contrast_images"),
)


def plant(X, fault, s, top, rng):
    """The images ``X`` with ``fault`` of strength ``s`` (``top``: white)."""
    x = X.astype(np.float32)
    level = rng.uniform(0.1, 0.9, (len(X), 1, 1, 1)).astype(np.float32) * top
    if fault == "dark":
        out = x * s
    elif fault == "bright (washed out)":
        out = top - s * (top - x)
    elif fault == "bright (offset)":
        out = np.minimum(x + s * top, top)
    elif fault == "blank (constant)":
        out = np.broadcast_to(level, x.shape)
    elif fault == "blank (noise)":
        out = np.clip(level + rng.normal(0, s * top, x.shape), 0, top)
    else:  # low contrast
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        out = mean + s * (x - mean)
    if X.dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(X.dtype)


def baseline(X):
    """Indices per code under cnnfix 0.1's rules (absolute spread for
    blank, 95th/5th percentiles against fixed shares of the median)."""
    grey = X.mean(axis=-1, dtype=np.float32)
    low, high = np.percentile(grey, [0.1, 99.9])
    flat = ((grey - low) / max(high - low, 1e-12)).reshape(len(X), -1)
    p5, p95 = np.percentile(flat, [5, 95], axis=1)
    std = flat.std(axis=1)
    blank = std < 0.1 * np.median(std)
    p5_median = np.median(p5)
    return {
        "low_information_images": np.flatnonzero(blank),
        "dark_images": np.flatnonzero((p95 < 0.35 * np.median(p95)) & ~blank),
        "bright_images": np.flatnonzero(
            (p5 > p5_median + 0.5 * (1 - p5_median)) & ~blank
        ),
        "low_contrast_images": np.array([], dtype=int),
    }


def current(X):
    """Indices per code under check_image_quality."""
    found = {f.code: np.asarray(f.indices, dtype=int) for f in check_image_quality(X)}
    return {code: found.get(code, np.array([], dtype=int)) for code in LIGHTING}


def scores(flagged, planted, expected):
    hits = np.isin(flagged[expected], planted).sum()
    recall = hits / len(planted)
    precision = (
        hits / len(flagged[expected]) if len(flagged[expected]) else float("nan")
    )
    other = {
        code: int(np.isin(planted, idx).sum())
        for code, idx in flagged.items()
        if code != expected and np.isin(planted, idx).any()
    }
    return len(flagged[expected]), recall, precision, other


def datasets():
    X_digits, _ = load_digit_images()
    (X_fashion, _), _ = load_fashion_mnist()
    return {
        "digits": (X_digits, 16.0),
        "fashion-10k": (X_fashion[:10000], 255.0),
    }, X_fashion


def planted_table(data):
    print(
        "| fault | strength | dataset | planted | flagged | recall | precision "
        "| planted with another code | baseline recall | baseline precision "
        "| baseline: planted with another code |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fault, strengths, expected in FAULTS:
        for s in strengths:
            for name, (X, top) in data.items():
                rng = np.random.default_rng(0)
                planted = rng.choice(len(X), round(SHARE * len(X)), replace=False)
                Xp = X.copy()
                Xp[planted] = plant(X[planted], fault, s, top, rng)
                n, recall, precision, other = scores(current(Xp), planted, expected)
                _, b_recall, b_precision, b_other = scores(
                    baseline(Xp), planted, expected
                )
                if expected == "low_contrast_images":  # no such rule before
                    b_recall = b_precision = float("nan")
                print(
                    f"| {fault} | {s:g} | {name} | {len(planted)} | {n} | "
                    f"{recall:.2f} | {precision:.2f} | {_codes(other)} "
                    f"| {b_recall:.2f} | {b_precision:.2f} | {_codes(b_other)} |"
                )


def _codes(counts):
    return ", ".join(f"{code} {n}" for code, n in counts.items()) or "-"


def clean_table(X_digits, X_fashion, repeats):
    print(
        "\n| clean data | images | " + " | ".join(LIGHTING) + " | blurry_images "
        "| baseline (blank, dark, bright) |"
    )
    print("|---|---|" + "---|" * (len(LIGHTING) + 2))
    for name, X in (("digits", X_digits), ("fashion-60k", X_fashion)):
        found = {f.code: len(f.indices) for f in check_image_quality(X)}
        old = baseline(X)
        cells = " | ".join(str(found.get(code, 0)) for code in LIGHTING)
        olds = ", ".join(str(len(old[c])) for c in LIGHTING[:3])
        print(
            f"| {name} | {len(X)} | {cells} | {found.get('blurry_images', 0)} "
            f"| {olds} |"
        )
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        check_image_quality(X_fashion)
        times.append(time.perf_counter() - start)
    print(
        f"\ncheck_image_quality on {len(X_fashion):,} 28x28 images: "
        f"{np.median(times):.2f} s (median of {repeats})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data, X_fashion = datasets()
    planted_table(data)
    clean_table(data["digits"][0], X_fashion, args.repeats)


if __name__ == "__main__":
    main()
