"""cnnfix's data checks side by side with cleanvision, on planted faults.

The script writes the tree: 5,000 grey 64x64 PNG files, Fashion-MNIST
training images (no two identical) upscaled bilinearly, one folder per
class. Then it plants, each on its own images: 50 dark (pixels x 0.15), 50
bright (the distance to white x 0.15), 50 blurry (Gaussian blur of radius
3), 50 blank (a grey level of their own, half of them with noise of
standard deviation 2), 20 tiny (16x16) and 20 stretched (64x192) files, and
50 exact and 50 near copies of other images (a near copy: +3 grey levels
and noise of standard deviation 2). Both tools read the same files, after
one read of every file to warm the disk cache: cnnfix runs
``diagnose(paths, y, checks="data")``, cleanvision its default issue types
but ``grayscale`` (every file is grey). Each time is the call alone, after
the imports.

Per issue type, precision is the share of the flagged files that were
planted with that fault, recall the share of the planted ones flagged, and
F1 their harmonic mean (0 when nothing is flagged); the flagged files are
counted in all, then those planted with no fault at all ("clean"). cnnfix
is "at least as good" on a type when its F1 is at least cleanvision's. For
duplicates, the flagged files are the ones to drop (cnnfix's ``indices``;
all but one file of each cleanvision set): a planted pair counts as found
when one of its two files is flagged, and the blank images (near copies of
one another) count neither way. Odd sizes are cnnfix's ``odd_image_sizes``
against cleanvision's ``odd_size`` and ``odd_aspect_ratio`` together.

    python benchmarks/bench_cleanvision.py [--n 5000] [--per-fault 50]
"""

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TQDM_DISABLE", "1")  # cleanvision's progress bars

import numpy as np
from PIL import Image, ImageFilter

from cnnfix import diagnose
from cnnfix.datasets import list_image_folder, load_fashion_mnist

#: The side of the written images, and the sizes of the odd ones.
SIDE = 64
TINY, STRETCHED = (16, 16), (192, 64)  # (width, height), as Pillow takes them
#: Issue types both tools report: cnnfix's code, cleanvision's issue types.
TYPES = {
    "dark": ("dark_images", ("dark",)),
    "bright": ("bright_images", ("light",)),
    "blurry": ("blurry_images", ("blurry",)),
    "blank": ("low_information_images", ("low_information",)),
    "odd size": ("odd_image_sizes", ("odd_size", "odd_aspect_ratio")),
    "exact copy": ("exact_duplicates", ("exact_duplicates",)),
    "near copy": ("near_duplicates", ("near_duplicates",)),
}
CLEANVISION_TYPES = ("dark", "light", "blurry", "low_information", "odd_size")
CLEANVISION_TYPES += ("odd_aspect_ratio", "exact_duplicates", "near_duplicates")


def _distinct(images, n, rng):
    """Indices of ``n`` images, no two identical, in random order."""
    order = rng.permutation(len(images))
    seen, kept = set(), []
    for i in order:
        digest = images[i].tobytes()
        if digest not in seen:
            seen.add(digest)
            kept.append(i)
        if len(kept) == n:
            break
    return np.array(kept)


def _plant(kind, image, rng, level=128):
    """``image`` (float, 0-255, SIDE x SIDE) with the fault ``kind``; a
    blank image is grey ``level``."""
    if kind == "dark":
        return image * 0.15
    if kind == "bright":
        return 255 - (255 - image) * 0.15
    if kind == "blurry":
        blurred = Image.fromarray(image.astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(3)
        )
        return np.asarray(blurred, dtype=float)
    if kind == "blank":
        noise = rng.normal(0, 2, image.shape) if rng.random() < 0.5 else 0
        return np.full(image.shape, level) + noise
    if kind == "near copy":
        return image + 3 + rng.normal(0, 2, image.shape)
    return image  # "exact copy", "tiny", "stretched": the pixels do not change


def write_tree(out, *, n=5000, per_fault=50, n_odd=20, seed=0):
    """Write the tree under ``out``; return the planted files by fault (the
    duplicates as (original, copy) pairs) and the files planted with none."""
    rng = np.random.default_rng(seed)
    (X, y), _ = load_fashion_mnist()
    n_copies = 2 * per_fault
    chosen = _distinct(X, n - n_copies, rng)
    kinds = ["dark", "bright", "blurry", "blank"]
    planted = {kind: [] for kind in [*kinds, "odd size", "exact copy", "near copy"]}
    by_index = dict.fromkeys(range(len(chosen)))
    cursor = 0
    for kind, count in [(k, per_fault) for k in kinds] + [
        ("tiny", n_odd),
        ("stretched", n_odd),
        ("exact copy", per_fault),
        ("near copy", per_fault),
    ]:
        for i in range(cursor, cursor + count):
            by_index[i] = kind
        cursor += count
    paths = {}
    for i, index in enumerate(chosen):
        label = int(y[index])
        folder = out / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(X[index, ..., 0]).resize(
            (SIDE, SIDE), Image.Resampling.BILINEAR
        )
        kind = by_index[i]
        level = 60 + (3 * i) % 140  # distinct levels: no two blanks identical
        pixels = _plant(kind, np.asarray(image, dtype=float), rng, level)
        image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
        if kind in ("tiny", "stretched"):
            size = TINY if kind == "tiny" else STRETCHED
            image = image.resize(size, Image.Resampling.BILINEAR)
        path = folder / f"{i:05d}.png"
        image.save(path)
        paths[i] = path
        if kind in kinds:
            planted[kind].append(str(path))
        elif kind in ("tiny", "stretched"):
            planted["odd size"].append(str(path))
        elif kind in ("exact copy", "near copy"):
            copy = folder / f"{i:05d}_copy.png"
            if kind == "exact copy":
                shutil.copyfile(path, copy)
            else:
                pixels = _plant(kind, np.asarray(image, dtype=float), rng)
                Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8)).save(
                    copy
                )
            planted[kind].append((str(path), str(copy)))
    clean = {str(paths[i]) for i, kind in by_index.items() if kind is None}
    return planted, clean


def run_cnnfix(paths, y):
    start = time.perf_counter()
    report = diagnose(paths, y, checks="data")
    seconds = time.perf_counter() - start
    flagged = {f.code: {str(p) for p in f.paths} for f in report.findings}
    return seconds, flagged, report


def run_cleanvision(paths):
    from cleanvision import Imagelab

    start = time.perf_counter()
    lab = Imagelab(filepaths=list(paths), verbose=False)
    lab.find_issues({t: {} for t in CLEANVISION_TYPES}, verbose=False)
    seconds = time.perf_counter() - start
    flagged = {
        t: set(lab.issues.index[lab.issues[f"is_{t}_issue"]].astype(str))
        for t in CLEANVISION_TYPES
        if t not in ("exact_duplicates", "near_duplicates")
    }
    for t in ("exact_duplicates", "near_duplicates"):
        # Files to drop: all but the first of each set, as cnnfix reports.
        sets = lab.info.get(t, {}).get("sets", [])
        flagged[t] = {str(p) for s in sets for p in sorted(s)[1:]}
    return seconds, flagged


def scores(kind, flagged, planted, clean):
    """Precision, recall, how many flagged and how many of them clean."""
    if kind in ("exact copy", "near copy"):
        pairs = planted[kind]
        ignored = set(planted["blank"])
        flagged = flagged - ignored
        members = {p for pair in pairs for p in pair}
        hits = sum(1 for pair in pairs if set(pair) & flagged)
        right = len(flagged & members)
        recall = hits / len(pairs)
    else:
        right = len(flagged & set(planted[kind]))
        recall = right / len(planted[kind])
    precision = right / len(flagged) if flagged else float("nan")
    return precision, recall, len(flagged), len(flagged & clean)


def _f1(score):
    precision, recall = score[:2]
    return 2 * precision * recall / (precision + recall) if precision > 0 else 0.0


def _cell(score):
    precision, recall, n, n_clean = score
    return (
        f"{precision:.2f} / {recall:.2f} / {_f1(score):.2f} "
        f"({n} flagged, {n_clean} clean)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="files in the tree")
    parser.add_argument("--per-fault", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from importlib.metadata import version

    work = Path(tempfile.mkdtemp(prefix="cnnfix-cleanvision-"))
    try:
        planted, clean = write_tree(
            work,
            n=args.n,
            per_fault=args.per_fault,
            n_odd=args.per_fault * 2 // 5,
            seed=args.seed,
        )
        paths, y = list_image_folder(work)
        for path in paths:  # warm the disk cache for both tools
            Path(path).read_bytes()
        cnnfix_seconds, cnnfix_flagged, report = run_cnnfix(paths, y)
        cleanvision_seconds, cleanvision_flagged = run_cleanvision(paths)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; cleanvision "
        f"{version('cleanvision')}. {len(paths):,} files, {len(clean):,} of "
        "them planted with no fault.\n"
    )
    print(
        "| issue type (cnnfix code) | planted | cnnfix precision / recall / "
        "F1 | cleanvision precision / recall / F1 | cnnfix at least as good "
        "(F1) |\n|---|---|---|---|---|"
    )
    for kind, (code, theirs) in TYPES.items():
        ours = scores(kind, cnnfix_flagged.get(code, set()), planted, clean)
        union = set().union(*(cleanvision_flagged[t] for t in theirs))
        them = scores(kind, union, planted, clean)
        good = _f1(ours) >= _f1(them)
        print(
            f"| {kind} (`{code}`) | {len(planted[kind])} | {_cell(ours)} | "
            f"{_cell(them)} | {'yes' if good else '**no**'} |"
        )
    faster = cnnfix_seconds <= cleanvision_seconds
    print(
        f"| time (s) | | {cnnfix_seconds:.1f} | {cleanvision_seconds:.1f} | "
        f"{'yes' if faster else '**no**'} |"
    )
    others = ", ".join(
        f"{f.code} ({len(f.indices)})"
        for f in report.findings
        if f.code not in {code for code, _ in TYPES.values()}
    )
    print(f"\ncnnfix's other findings: {others or 'none'}.")


if __name__ == "__main__":
    main()
