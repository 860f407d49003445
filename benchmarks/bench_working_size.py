"""DropoutCNN's fit time and accuracy on a photo folder at several caps of
the working size (``InputPolicy.working_side``), to choose the default cap.

    python benchmarks/make_photo_folder.py /tmp/photos
    PYTHONPATH=. python benchmarks/bench_working_size.py /tmp/photos --caps 64 96 128

Each cap fits DropoutCNN() with its defaults once on a 70% stratified
training split of the readable files, at the working size that cap gives
(``cnnfix._input.working_size`` over every training file's header), and
scores it on the other 30%. Files that cannot be decoded (the folder plants
a truncated JPEG) are left out first.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from cnnfix import DropoutCNN
from cnnfix._input import working_size
from cnnfix.datasets import load_image_folder, read_headers, read_images


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--caps", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths, y = load_image_folder(args.folder, as_paths=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped files are expected
        _, readable = read_images(paths, 8, on_error="warn", return_kept=True)
    paths, y = paths[readable], y[readable]
    sizes = read_headers(paths)[0]
    train, test = train_test_split(
        np.arange(len(paths)), test_size=0.3, stratify=y, random_state=args.seed
    )
    print(f"{len(paths)} files, {len(set(map(tuple, sizes.tolist())))} sizes")
    print("| cap (px) | working size | fit (s) | epochs | accuracy |")
    print("|---|---|---|---|---|")
    for cap in args.caps:
        size = working_size(sizes[train].tolist(), max_side=cap)
        clf = DropoutCNN(image_size=size, random_state=args.seed)
        start = time.perf_counter()
        clf.fit(paths[train], y[train])
        seconds = time.perf_counter() - start
        accuracy = clf.score(paths[test], y[test])
        print(
            f"| {cap} | {size[0]}x{size[1]} | {seconds:.0f} | {clf.n_epochs_} "
            f"| {accuracy:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
