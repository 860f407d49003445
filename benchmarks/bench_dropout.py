"""DropoutCNN vs the same Keras model trained by hand, in one run.

Measures (1) fit wall time, DropoutCNN over plain ``model.fit`` on the same
architecture, data, epochs and batch size (median ratio of interleaved
repeats), and (2) per-call predict latency of ``predict_proba`` against
``model.predict`` on the same fitted model.

    python benchmarks/bench_dropout.py [--repeats 5] [--epochs 20]

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from cnnfix import DropoutCNN
from cnnfix.datasets import load_digit_images


def keras_baseline(X, y, epochs, seed):
    """The architecture of DropoutCNN() written directly in Keras, trained
    at its default batch size and learning rate (constant)."""
    keras.utils.set_random_seed(seed)
    p = DropoutCNN().get_params()
    L = keras.layers
    norm = L.Normalization(axis=-1)
    norm.adapt(X)
    model = keras.Sequential(
        [keras.Input(X.shape[1:]), norm]
        + [
            layer
            for filters in p["conv_filters"]
            for layer in [
                layer
                for _ in range(p["convs_per_block"])
                for layer in (
                    L.Conv2D(filters, 3, padding="same", use_bias=False),
                    L.BatchNormalization(),
                    L.ReLU(),
                )
            ]
            + [L.MaxPooling2D(2, padding="same")]
        ]
        + [
            L.Flatten(),
            L.Dense(p["dense_units"], activation="relu"),
            L.Dropout(p["dropout"]),
            L.Dense(10, activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.Adam(p["learning_rate"])
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=epochs, batch_size=p["batch_size"], shuffle=True, verbose=0)
    return model


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def per_call_ms(fn, calls=30):
    fn()  # warm up: tracing happens on the first call
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    ours, theirs = [], []
    for seed in range(args.repeats):  # interleaved, so drift hits both alike
        t, model = timed(
            lambda s=seed: keras_baseline(X_train, y_train, args.epochs, s)
        )
        theirs.append(t)
        clf = DropoutCNN(
            epochs=args.epochs,
            early_stopping=False,
            validation_split=0.0,
            random_state=seed,
        )
        t, _ = timed(lambda c=clf: c.fit(X_train, y_train))
        ours.append(t)
    n_trainable = lambda m: sum(int(np.prod(w.shape)) for w in m.trainable_weights)  # noqa: E731
    assert n_trainable(clf.model_) == n_trainable(model), "architectures differ"
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]

    rows = [
        ("fit, DropoutCNN (s, median)", f"{statistics.median(ours):.2f}"),
        ("fit, plain Keras model.fit (s, median)", f"{statistics.median(theirs):.2f}"),
        (
            "fit ratio DropoutCNN / Keras (median of pairs)",
            f"{statistics.median(ratios):.3f}",
        ),
    ]
    for n in (1, 32, 400):
        batch = X_test[:n]
        ours_ms = per_call_ms(lambda b=batch: clf.predict_proba(b))
        keras_ms = per_call_ms(lambda b=batch: clf.model_.predict(b, verbose=0))
        rows.append(
            (
                f"predict {n} images: predict_proba / model.predict (ms)",
                f"{ours_ms:.1f} / {keras_ms:.1f} ({keras_ms / ours_ms:.0f}x faster)",
            )
        )
    rows.append(
        ("test accuracy (DropoutCNN, last repeat)", f"{clf.score(X_test, y_test):.4f}")
    )

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Keras {keras.__version__}"
    )
    print(
        f"Digits 75/25 split, {args.epochs} epochs, batch "
        f"{DropoutCNN().batch_size}, {args.repeats} repeats; DropoutCNN with "
        "its default schedule, plain Keras at a constant learning rate\n"
    )
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
