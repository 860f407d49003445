"""load_image_folder against a plain Pillow loop over the same files (images/s).

Three class-folder trees: ``--limit`` Fashion-MNIST images as 28x28 grey
PNG files and as 64x64 RGB PNG files (written by make_image_folder.py), and
``--photos`` copies of scikit-learn's two sample photos (427x640 JPEG) read
at 128x128. The plain loop is
``np.asarray(Image.open(p).convert(mode).resize(size, BILINEAR))`` per file
then ``np.stack``, over paths listed beforehand (not timed);
``load_image_folder`` is timed whole (listing included), with its defaults
(``image_size=None``, ``color_mode="auto"``, ``n_jobs=None``) on the PNG
trees and ``image_size=128`` on the photos. Runs alternate, ``--repeats``
times; the table gives the medians and the last column says whether both
gave the same pixels (the photos differ slightly: cnnfix decodes JPEG at a
reduced scale first).

    python benchmarks/bench_images.py [--limit 10000] [--photos 300] [--repeats 3]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from make_image_folder import write_tree
from PIL import Image
from sklearn.datasets import load_sample_images

from cnnfix.datasets import list_image_folder, load_image_folder


def plain_loop(paths, size, mode):
    return np.stack(
        [
            np.asarray(
                Image.open(p).convert(mode).resize(size, Image.Resampling.BILINEAR)
            )
            for p in paths
        ]
    )


def write_photos(root, copies):
    for source in load_sample_images().filenames:
        folder = root / Path(source).stem
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(copies // 2):
            shutil.copy(source, folder / f"{i:04d}.jpg")


def measure(root, size, mode, kwargs, repeats):
    paths, _ = list_image_folder(root)
    plain, ours = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        expected = plain_loop(paths, size, mode)
        plain.append(len(paths) / (time.perf_counter() - start))
        start = time.perf_counter()
        X, _ = load_image_folder(root, **kwargs)
        ours.append(len(paths) / (time.perf_counter() - start))
    X = X.reshape(expected.shape)
    if np.array_equal(X, expected):
        same = "yes"
    else:  # int16: no int64 copies of 70,000 images (13 GB at 64x64 RGB)
        difference = np.abs(X.astype(np.int16) - expected).mean()
        same = f"mean difference {difference:.2f}"
    return len(paths), statistics.median(plain), statistics.median(ours), same


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_tree(folder / "gray28", limit=args.limit)
        write_tree(folder / "rgb64", limit=args.limit, size=64, rgb=True)
        write_photos(folder / "photos", args.photos)
        cases = [
            ("28x28 grey PNG", "gray28", (28, 28), "L", {}),
            ("64x64 RGB PNG", "rgb64", (64, 64), "RGB", {}),
            (
                "427x640 JPEG to 128x128",
                "photos",
                (128, 128),
                "RGB",
                {"image_size": 128},
            ),
        ]
        print(f"{os.cpu_count()} CPUs; median of {args.repeats} alternating runs.\n")
        print(
            "| files | n | plain Pillow loop (images/s) "
            "| load_image_folder (images/s) | ratio | same pixels |"
        )
        print("|---|---|---|---|---|---|")
        for label, name, size, mode, kwargs in cases:
            n, plain, ours, same = measure(
                folder / name, size, mode, kwargs, args.repeats
            )
            print(
                f"| {label} | {n:,} | {plain:,.0f} | {ours:,.0f} "
                f"| {ours / plain:.2f}x | {same} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
