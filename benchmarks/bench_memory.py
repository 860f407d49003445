"""Memory, threads and open files over consecutive fits in one process.

Each mode runs in a fresh process: ``--fits`` fits on 600 digits, each
followed by ``del``, ``keras.backend.clear_session()`` and ``gc.collect()``,
with the resident set size, the thread count and the open file descriptors
read after every fit. "cnnfix" fits ``DropoutCNN(conv_filters=(4,),
dense_units=16, epochs=2)``; "keras" builds, compiles and fits the same
network with Keras directly (the anchor: what TensorFlow itself keeps per
model). The slope is the least-squares RSS growth per fit over the fits
after the first five (Keras's one-off start-up allocations).

    python benchmarks/bench_memory.py [--fits 20] [--json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys

MODES = ("cnnfix", "keras")


def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(mode, fits):
    import gc
    import threading

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from sklearn.datasets import load_digits

    from cnnfix import DropoutCNN, build_cnn

    X, y = load_digits(return_X_y=True)
    X, y = X[:600].reshape(-1, 8, 8, 1).astype("float32") / 16, y[:600]
    settings = dict(conv_filters=(4,), dense_units=16)
    rows = []
    for seed in range(fits):
        if mode == "cnnfix":
            clf = DropoutCNN(**settings, epochs=2, random_state=seed).fit(X, y)
            clf.predict(X)
        else:
            keras.utils.set_random_seed(seed)
            clf = build_cnn((8, 8, 1), 10, **settings)
            clf.compile(
                optimizer="adam",
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            clf.fit(X, y, epochs=2, validation_split=0.1, verbose=0)
            clf.predict_on_batch(X)
        del clf
        keras.backend.clear_session()
        gc.collect()
        rows.append(
            {
                "rss_mb": rss_mb(),
                "threads": threading.active_count(),
                "open_files": len(os.listdir("/proc/self/fd")),
            }
        )
    return rows


def slope(values):
    """Least-squares growth per fit."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


def measure(fits):
    results = {}
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--fits", str(fits)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        rss = [r["rss_mb"] for r in rows]
        results[mode] = {
            "rss_mb": rss,
            "growth_per_fit_mb": slope(rss[5:]),
            "threads": [r["threads"] for r in rows],
            "open_files": [r["open_files"] for r in rows],
        }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.fits)))
        return
    results = measure(args.fits)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{args.fits} fits per mode, {platform.processor() or platform.machine()}\n")
    print(
        "| mode | RSS after fit 1 | after last | growth per fit (fits 6+) "
        "| threads | open files |"
    )
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        print(
            f"| {mode} | {r['rss_mb'][0]:.0f} MB | {r['rss_mb'][-1]:.0f} MB | "
            f"{r['growth_per_fit_mb']:.1f} MB | {r['threads'][0]} -> "
            f"{r['threads'][-1]} | {r['open_files'][0]} -> {r['open_files'][-1]} |"
        )


if __name__ == "__main__":
    main()
