"""diagnose() at scale: data checks on Fashion-MNIST's 60,000 training
images, and label-noise recall/precision with 10% flipped labels.

    python benchmarks/bench_diagnose.py [--noise-subset 10000]

Needs Fashion-MNIST on disk (``apt-get install -y dataset-fashion-mnist``).
The label check uses diagnose's default quick CNN with cv=3 on a stratified
subset; flipped labels get a uniformly drawn other class.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.model_selection import train_test_split

from cnnfix import diagnose
from cnnfix.datasets import load_digit_images, load_fashion_mnist


def flip(y, fraction, rng):
    flipped = rng.choice(len(y), int(fraction * len(y)), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, len(flipped))) % 10
    return noisy, flipped


def noise_scores(X, y, random_state=0):
    rng = np.random.default_rng(random_state)
    noisy, flipped = flip(y, 0.1, rng)
    start = time.perf_counter()
    report = diagnose(X, noisy, checks="labels", random_state=random_state)
    seconds = time.perf_counter() - start
    flagged = set(report["label_noise"].indices) if report.has("label_noise") else set()
    hits = len(flagged & set(flipped.tolist()))
    return hits / len(flipped), hits / max(len(flagged), 1), len(flagged), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--noise-subset", type=int, default=10000)
    args = parser.parse_args()
    (X, y), (X_test, _) = load_fashion_mnist()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}\n"
    )
    print("| measure | value |\n|---|---|")
    diagnose(X[:2000], y[:2000], checks="data")  # warm-up: imports, caches
    for name, kwargs in (("", {}), (" + leakage vs 10,000 test", {"X_test": X_test})):
        start = time.perf_counter()
        report = diagnose(X, y, checks="data", **kwargs)
        seconds = time.perf_counter() - start
        codes = ", ".join(
            f"{f.code} ({f.severity}, {len(f.indices)})" for f in report.findings
        )
        print(f"| data checks, 60,000 Fashion-MNIST{name} (s) | {seconds:.1f} |")
        print(f"| findings{name} | {codes} |")

    subset, _, y_subset, _ = train_test_split(
        X, y, train_size=args.noise_subset, stratify=y, random_state=0
    )
    recall, precision, n_flagged, seconds = noise_scores(subset, y_subset)
    print(
        f"| label noise, Fashion-MNIST {args.noise_subset:,} (10% flipped): "
        f"recall / precision | {recall:.3f} / {precision:.3f} "
        f"({n_flagged} flagged, {seconds:.0f} s) |"
    )
    X_d, y_d = load_digit_images()
    recall, precision, n_flagged, seconds = noise_scores(X_d, y_d)
    print(
        f"| label noise, digits 1,797 (10% flipped): recall / precision | "
        f"{recall:.3f} / {precision:.3f} ({n_flagged} flagged, {seconds:.0f} s) |"
    )


if __name__ == "__main__":
    main()
