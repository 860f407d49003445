"""File paths as X at scale: epoch time, memory, loading and accuracy (#13).

Two class-folder trees of Fashion-MNIST as PNG files, written by
make_image_folder.py when missing (28x28 grey, or with ``--size 64 --rgb``
upscaled to 64x64 RGB for the second run): SMALL (the first 10,000 images)
and LARGE (all 70,000; file names 60000-69999 are the test set). The image
size and colour come from SMALL's first file. In one run:

- **Epoch time**: the same Keras model (``build_cnn`` and ``compile_cnn``
  with DropoutCNN's defaults, normalisation statistics included) trained
  for ``--epochs`` epochs on SMALL's files by DropoutCNN on the decoded
  array, on the paths, on the paths with ``cache=True``, and by a
  hand-written ``keras.utils.image_dataset_from_directory`` (shuffled,
  ``prefetch(AUTOTUNE)``) + ``model.fit``; ``validation_split=0``, no early
  stopping. Seconds per epoch are the median over the epochs after the
  first (which builds and traces the model) and over ``--repeats``
  alternating runs. The input/compute split: one worker thread decoding an
  epoch of batches alone, against the epoch on the decoded array.
- **Accuracy** of the array and paths fits of every repeat (repeat r uses
  ``random_state=r`` on both sides, same files) on LARGE's 10,000 test
  files; the spread between seeds on one side is the noise to compare the
  difference of the means with.
- **Peak resident memory** (``ru_maxrss``) of a fresh process fitting
  DropoutCNN (defaults, 1 epoch) on SMALL's paths and on LARGE's.
- **load_image_folder throughput** against a plain Pillow loop over LARGE
  (bench_images.py's measurement; median of ``--load-repeats`` alternating
  runs, 3).
- **diagnose(paths, y, checks="data")** on LARGE, when cnnfix.diagnose reads
  files.

    python benchmarks/bench_paths.py SMALL LARGE [--epochs 3] [--repeats 2]
    python benchmarks/bench_paths.py SMALL64 LARGE64 --size 64 --rgb
    python benchmarks/bench_paths.py SMALL LARGE --quick   # a smoke run

``--quick`` uses 2,000 files, 2 epochs, 1 repeat, 1,000 and 2,000 files
for memory and SMALL for the throughput.
"""

import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_images import measure
from make_image_folder import write_tree

from cnnfix import DropoutCNN
from cnnfix.architectures import build_cnn, compile_cnn
from cnnfix.datasets import list_image_folder, read_image

#: The DropoutCNN parameters that shape its network (build_cnn's keywords).
ARCHITECTURE = tuple(
    name
    for name in inspect.signature(build_cnn).parameters
    if name in DropoutCNN().get_params()
)

#: Fashion-MNIST's first test image: files numbered from here are the test set.
FIRST_TEST = 60_000


def ensure_tree(root, limit, size=None, rgb=False):
    """The tree at ``root``, written with make_image_folder when missing."""
    if not Path(root).is_dir():
        print(f"Writing {limit or 70_000:,} files under {root} ...", file=sys.stderr)
        write_tree(root, limit=limit, size=size, rgb=rgb)
    return Path(root)


class EpochTimer:
    """A Keras callback recording the wall time of each epoch."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.start)

        return Timer()


def later_epochs(timer):
    return timer.times[1:] or timer.times


def estimator(epochs, timer, shape, seed, **params):
    return DropoutCNN(
        epochs=epochs,
        validation_split=0.0,
        early_stopping=False,
        image_size=shape[:2],
        random_state=seed,
        callbacks=[timer],
        **params,
    )


def keras_directory_fit(root, epochs, normalization, timer, shape, seed):
    """The hand-written baseline: image_dataset_from_directory + model.fit."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    params = DropoutCNN().get_params()  # the model and batch DropoutCNN trains
    dataset = keras.utils.image_dataset_from_directory(
        root,
        color_mode="grayscale" if shape[2] == 1 else "rgb",
        image_size=shape[:2],
        batch_size=params["batch_size"],
        shuffle=True,
        seed=seed,
        verbose=False,
    ).prefetch(tf.data.AUTOTUNE)
    architecture = {k: params[k] for k in ARCHITECTURE}
    model = compile_cnn(
        build_cnn(
            shape, 10, normalization=normalization, name="dropout_cnn", **architecture
        ),
        optimizer=params["optimizer"],
        learning_rate=params["learning_rate"],
    )
    # shuffle=False: the dataset shuffles itself (Keras would warn).
    model.fit(dataset, epochs=epochs, callbacks=[timer], shuffle=False, verbose=0)


def epoch_times(paths, X, y, root, epochs, repeats):
    """Seconds per epoch of each way to train and the fitted array and paths
    estimators of every repeat (repeat r: random_state=r)."""
    shape = X.shape[1:]
    times = {k: [] for k in ("array", "paths", "paths, cache=True", "keras")}
    fitted = {"array": [], "paths": []}
    for repeat in range(repeats):
        for name, data, params in [
            ("array", X, {}),
            ("paths", paths, {}),
            ("paths, cache=True", paths, {"cache": True}),
        ]:
            timer = EpochTimer()
            clf = estimator(epochs, timer, shape, repeat, **params).fit(data, y)
            times[name] += later_epochs(timer)
            if name in fitted:
                fitted[name].append(clf)
        timer = EpochTimer()
        # DropoutCNN's statistics: per channel, over every training image.
        mean, variance = X.mean(axis=(0, 1, 2)), X.var(axis=(0, 1, 2))
        moments = (mean.tolist(), variance.tolist())
        keras_directory_fit(root, epochs, moments, timer, shape, repeat)
        times["keras"] += later_epochs(timer)
    return {k: statistics.median(v) for k, v in times.items()}, fitted


def input_seconds(paths, shape):
    """Seconds to decode one epoch of batches (32 files) in one thread, as
    the pipeline's worker does, with nothing training."""
    from cnnfix._input.files import decode

    start = time.perf_counter()
    for i in range(0, len(paths), 32):
        decode(paths[i : i + 32], shape)
    return time.perf_counter() - start


def peak_memory(paths, y, shape):
    """Peak RSS (MB) of a fresh process fitting DropoutCNN on ``paths`` for
    1 epoch; it reads them from a JSON file holding just them.

    The peak is Linux's VmHWM, which starts afresh with the new program:
    ``ru_maxrss`` would keep this (forked) process's peak across the exec."""
    listing = Path(os.environ.get("TMPDIR", "/tmp")) / "cnnfix-bench-paths.json"
    listing.write_text(json.dumps([paths.tolist(), y.tolist()]))
    code = f"""
import json, numpy as np
from cnnfix import DropoutCNN
paths, y = (np.asarray(v) for v in json.load(open({str(listing)!r})))
DropoutCNN(epochs=1, image_size={tuple(shape[:2])}, random_state=0).fit(paths, y)
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(int(status.split()[0]) / 1024)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return float(result.stdout.split()[-1])


def diagnose_seconds(paths, y):
    """Seconds of diagnose(paths, y, checks="data")."""
    from cnnfix import diagnose

    start = time.perf_counter()
    diagnose(paths, y, checks="data")
    return f"{time.perf_counter() - start:.1f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", help="tree of the first 10,000 images")
    parser.add_argument("large", help="tree of all 70,000 images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--load-repeats", type=int, default=3, help="alternating load runs (median)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--size", type=int, default=None, help="side of new trees")
    parser.add_argument("--rgb", action="store_true", help="new trees in RGB")
    args = parser.parse_args()
    small = ensure_tree(args.small, 10_000, args.size, args.rgb)
    large = ensure_tree(args.large, None, args.size, args.rgb)
    n_timed, memory_sizes = 10_000, (10_000, 70_000)
    if args.quick:
        args.epochs, args.repeats, n_timed, memory_sizes = 2, 1, 2_000, (1_000, 2_000)
        args.load_repeats = 1

    from cnnfix.datasets import load_image_folder

    started = time.perf_counter()
    all_paths, all_y = list_image_folder(large)
    numbers = np.array([int(Path(p).stem) for p in all_paths])
    test = numbers >= FIRST_TEST
    small_paths, small_y = list_image_folder(small)
    order = np.argsort([int(Path(p).stem) for p in small_paths])[:n_timed]
    paths, y = small_paths[order], small_y[order]
    shape = read_image(paths[0]).shape
    X, _ = load_image_folder(small, image_size=shape[:2])
    X = X[order]
    if args.quick:  # the baseline reads a whole folder: give it the subset
        root = Path(os.environ.get("TMPDIR", "/tmp")) / (
            f"cnnfix-bench-paths-quick-{shape[0]}x{shape[1]}x{shape[2]}"
        )
        if not root.is_dir():
            write_tree(root, limit=n_timed, size=shape[0], rgb=shape[2] == 3)
    else:
        root = small

    kind = "grey" if shape[2] == 1 else "RGB"
    print(
        f"Fashion-MNIST as {shape[0]}x{shape[1]} {kind} PNG files; "
        f"{os.cpu_count()} CPUs, load "
        f"average {', '.join(f'{v:.1f}' for v in os.getloadavg())} at the start."
    )
    seconds, fitted = epoch_times(paths, X, y, root, args.epochs, args.repeats)
    decoding = input_seconds(paths, shape)
    print(
        f"\n### Epoch time ({len(paths):,} training files, DropoutCNN defaults, "
        f"median of epochs 2-{args.epochs} over {args.repeats} run(s))\n"
    )
    print("| training on | s/epoch | vs array | vs Keras directory |")
    print("|---|---|---|---|")
    for name, label in [
        ("array", "decoded array (DropoutCNN)"),
        ("paths", "file paths (DropoutCNN)"),
        ("paths, cache=True", "file paths, cache=True (DropoutCNN)"),
        ("keras", "image_dataset_from_directory + model.fit"),
    ]:
        ratios = [seconds[name] / seconds[k] for k in ("array", "keras")]
        print(
            f"| {label} | {seconds[name]:.2f} | {ratios[0]:.2f}x | {ratios[1]:.2f}x |"
        )
    batches = -(-len(paths) // 32)
    print(
        f"\nInput vs compute, per batch of 32: decoding alone (one thread, "
        f"nothing training) {1000 * decoding / batches:.1f} ms; a training step "
        f"on the decoded array {1000 * seconds['array'] / batches:.1f} ms; a step "
        f"on paths {1000 * seconds['paths'] / batches:.1f} ms, so input adds "
        f"{1000 * (seconds['paths'] - seconds['array']) / batches:+.1f} ms "
        "(decoding shares the CPUs with training)."
    )

    test_paths, test_y = all_paths[test], all_y[test]
    print(
        f"\n### Test accuracy ({test.sum():,} test files; the same files and "
        f"seeds, random_state 0-{args.repeats - 1})\n"
    )
    seeds = range(args.repeats)
    print(f"| trained on | {' | '.join(f'seed {s}' for s in seeds)} | mean |")
    print(f"|---|{'---|' * args.repeats}---|")
    scores = {}
    for name in ("array", "paths"):
        scores[name] = [c.score(test_paths, test_y) for c in fitted[name]]
        row = " | ".join(f"{a:.4f}" for a in scores[name])
        print(f"| {name} | {row} | {np.mean(scores[name]):.4f} |")
    spread = max(max(v) - min(v) for v in scores.values())
    print(
        f"\nDifference of the means, paths - array: "
        f"{np.mean(scores['paths']) - np.mean(scores['array']):+.4f}; largest "
        f"difference between two seeds on one side (the noise): {spread:.4f}."
    )

    shuffled = np.random.default_rng(0).permutation(len(all_paths))
    print("\n### Peak resident memory (fresh process, DropoutCNN on paths, 1 epoch)\n")
    print("| files | peak RSS (MB) |\n|---|---|")
    peaks = [
        peak_memory(all_paths[shuffled[:n]], all_y[shuffled[:n]], shape)
        for n in memory_sizes
    ]
    for n, peak in zip(memory_sizes, peaks, strict=True):
        print(f"| {n:,} | {peak:,.0f} |")
    print(f"\nDifference: {peaks[1] - peaks[0]:+.0f} MB.")

    tree = small if args.quick else large
    print(
        f"\n### load_image_folder throughput ({tree}; median of "
        f"{args.load_repeats} alternating runs)\n"
    )
    mode = "L" if shape[2] == 1 else "RGB"
    n, plain, ours, same = measure(tree, shape[:2], mode, {}, args.load_repeats)
    print("| n | plain Pillow loop (images/s) | load_image_folder (images/s) | ratio |")
    print("|---|---|---|---|")
    print(f"| {n:,} | {plain:,.0f} | {ours:,.0f} | {ours / plain:.2f}x |")
    print(f"\nSame pixels: {same}.")

    print(f'\n### diagnose(paths, y, checks="data") on {len(all_paths):,} files\n')
    print(diagnose_seconds(all_paths, all_y))
    print(
        f"\nWall time {time.perf_counter() - started:.0f} s; peak RSS of this "
        f"process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
        f"MB; load average at the end "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}."
    )


if __name__ == "__main__":
    main()
