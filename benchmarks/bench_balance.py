"""ClassBalancer oversampling vs the hand-written loop vs imbalanced-learn.

60,000 synthetic 28x28x1 float32 images in 10 classes with halving sizes
(30,029 down to 59), oversampled to the majority size. Each method runs in
a fresh process (so none inherits another's freed memory), ``--repeats``
times; the table reports the median time and the peak of memory allocated
during the call, against the input and output sizes. Memory is traced
(tracemalloc, which sees NumPy's buffers) in separate runs from the timed
ones, because tracing slows NumPy's large allocations several-fold here.
Two regimes: "cold" children start timing at once, so the first large
allocations of a fresh process pay the kernel's page work (seconds on this
VM, in proportion to the memory touched); "warm" children first touch and
free 2 GB, which leaves only the algorithms' own cost.
Streaming mode iterates one epoch of balanced batches.

    python benchmarks/bench_balance.py [--repeats 3]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

N, SHAPE, N_CLASSES = 60_000, (28, 28, 1), 10


def make_data():
    rng = np.random.default_rng(0)
    sizes = 0.5 ** np.arange(N_CLASSES)
    counts = np.round(N * sizes / sizes.sum()).astype(int)
    counts[0] += N - counts.sum()
    y = rng.permutation(np.repeat(np.arange(N_CLASSES), counts))
    return rng.random((N, *SHAPE), dtype=np.float32), y


def hand_written_loop(features, labels):
    """The usual recipe (see shared/seed-article.md), verbatim in spirit."""
    from sklearn.utils import resample

    unique_labels = np.unique(labels)
    max_class_size = max(np.sum(labels == label) for label in unique_labels)
    balanced_features, balanced_labels = [], []
    for label in unique_labels:
        class_features = features[labels == label]
        if len(class_features) < max_class_size:
            resampled = resample(
                class_features, replace=True, n_samples=max_class_size, random_state=42
            )
            balanced_features.extend(resampled)
            balanced_labels.extend([label] * max_class_size)
        else:
            balanced_features.extend(class_features)
            balanced_labels.extend([label] * len(class_features))
    return np.array(balanced_features), np.array(balanced_labels)


def imblearn_flat(X, y):
    from imblearn.over_sampling import RandomOverSampler

    X_res, y_res = RandomOverSampler(random_state=0).fit_resample(
        X.reshape(len(X), -1), y
    )
    return X_res.reshape(-1, *X.shape[1:]), y_res


def cnnfix_balancer(X, y):
    from cnnfix import ClassBalancer

    return ClassBalancer(random_state=0).fit_resample(X, y)


def cnnfix_stream(X, y):
    """One epoch of balanced batches (batch 32), touching every batch."""
    from cnnfix import ClassBalancer
    from cnnfix._input.batches import balanced_batches

    batches = balanced_batches(X, y, ClassBalancer(random_state=0).fit(X, y))
    total = 0
    for i in range(len(batches)):
        _, y_batch = batches[i]
        total += len(y_batch)
    return None, np.empty(total)


METHODS = {
    "hand-written loop": hand_written_loop,
    "imbalanced-learn RandomOverSampler (flattened)": imblearn_flat,
    "cnnfix ClassBalancer": cnnfix_balancer,
    "cnnfix ClassBalancer, stream=True (one epoch)": cnnfix_stream,
}


def run_one(name, trace, warm):
    """Child process: time or trace one method, print JSON."""
    X, y = make_data()
    # Imports happen outside the measurement, for every method alike.
    import imblearn.over_sampling  # noqa: F401
    import sklearn.utils  # noqa: F401

    import cnnfix.balance  # noqa: F401

    if name.startswith("cnnfix ClassBalancer, stream"):
        import keras  # noqa: F401
    if warm:
        # Touch and free 2 GB first: the first large allocations of a process
        # here pay seconds of kernel page work, whichever method makes them.
        np.ones(2**31, dtype=np.uint8)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    X_res, y_res = METHODS[name](X, y)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    out_bytes = 0 if X_res is None else X_res.nbytes + y_res.nbytes
    print(
        json.dumps(
            dict(
                seconds=seconds,
                peak=peak,
                input=X.nbytes + y.nbytes,
                output=out_bytes,
                n_out=len(y_res),
            )
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_one(args.child, args.trace, args.warm)

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def child(name, *flags):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, *flags],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return json.loads(out.stdout.splitlines()[-1])

    regimes = {"cold": {}, "warm": {}}
    for _ in range(args.repeats):  # interleaved: drift hits every method alike
        for regime, results in regimes.items():
            for name in METHODS:
                flags = ["--warm"] if regime == "warm" else []
                results.setdefault(name, []).append(child(name, *flags))
    peaks = {name: child(name, "--trace", "--warm")["peak"] for name in METHODS}

    mb = 1e6
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )
    print(
        f"{N:,} images {SHAPE} float32, {N_CLASSES} classes halving in size; "
        f"median of {args.repeats} fresh processes per cell\n"
    )
    print(
        "| method | cold (s) | cold vs ClassBalancer | warm (s) "
        "| warm vs ClassBalancer | peak during call (MB) | input + output (MB) "
        "| peak / output |"
    )
    print("|---|---|---|---|---|---|---|---|")
    median = {
        regime: {
            n: statistics.median(r["seconds"] for r in runs)
            for n, runs in results.items()
        }
        for regime, results in regimes.items()
    }
    ours = {regime: m["cnnfix ClassBalancer"] for regime, m in median.items()}
    for name in METHODS:
        r = regimes["warm"][name][0]
        ratio = f"{peaks[name] / r['output']:.2f}" if r["output"] else "-"
        cells = [
            f"{median[g][name]:.2f} | {median[g][name] / ours[g]:.1f}x"
            for g in ("cold", "warm")
        ]
        print(
            f"| {name} | {' | '.join(cells)} | {peaks[name] / mb:.1f} "
            f"| {r['input'] / mb:.0f} + {r['output'] / mb:.0f} | {ratio} |"
        )
    stream = regimes["warm"]["cnnfix ClassBalancer, stream=True (one epoch)"][0]
    stream_peak = peaks["cnnfix ClassBalancer, stream=True (one epoch)"]
    print(
        f"\nStreaming: one epoch of {stream['n_out']:,} images allocated at most "
        f"{stream_peak / mb:.1f} MB beyond the {stream['input'] / mb:.0f} MB input "
        f"(one batch of 32 images is {32 * np.prod(SHAPE) * 4 / mb:.2f} MB)."
    )


if __name__ == "__main__":
    main()
