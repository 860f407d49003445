"""Training throughput of DropoutCNN's default model against the machine's peak.

    python benchmarks/bench_throughput.py [--images 10240] [--epochs 2]

On ``--images`` Fashion-MNIST training images (28x28x1), in one process:

- the float32 matrix-multiply peak: the best of a few 2048x2048
  ``tf.linalg.matmul`` calls (and NumPy's ``@``), 2 n^3 operations each;
- the floating-point work of one training image of the default model,
  counted from its layers: a convolution does 2 x output positions x
  kernel area x input channels x filters operations, a dense layer 2 x
  inputs x units; a training step costs about 3 times the forward pass
  (the forward pass, then the gradients of the inputs and of the weights);
- training images per second (the median of ``--epochs`` timed epochs
  after one untimed epoch, which traces the graph) of ``DropoutCNN()``'s
  own ``fit`` and of plain ``model.fit`` on the same model, then of plain
  Keras at other batch sizes, with ``jit_compile=True`` (XLA), from a
  cached, prebatched ``tf.data`` pipeline (the input side removed), and of
  one fixed batch trained with ``train_on_batch`` (the step alone);
- the default model with oneDNN turned off (``TF_ENABLE_ONEDNN_OPTS=0``),
  measured in a child process since the switch is read at import.

Achieved GFLOP/s is images/s times the work per image; its share of the
matmul peak says how far the processor is from its limit.

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import tensorflow as tf
from bench_paths import ARCHITECTURE, EpochTimer

from cnnfix import DropoutCNN
from cnnfix.architectures import build_cnn, compile_cnn
from cnnfix.datasets import load_fashion_mnist


def matmul_peak(n=2048, repeats=5):
    """Best float32 GFLOP/s of an n x n matrix product: TensorFlow, NumPy."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.linalg.matmul(a, b).numpy()
    best = min(timed(lambda: tf.linalg.matmul(a, b).numpy()) for _ in range(repeats))
    an, bn = a.numpy(), b.numpy()
    best_np = min(timed(lambda: an @ bn) for _ in range(repeats))
    return 2 * n**3 / best / 1e9, 2 * n**3 / best_np / 1e9


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def forward_flops(model):
    """Multiply-adds x 2 of the convolutions and dense layers, per image."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, filters = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += 2 * h * w * kh * kw * c_in * filters
        elif isinstance(layer, keras.layers.Dense):
            n_in, units = layer.kernel.shape
            total += 2 * n_in * units
    return total


def images_per_s(times, n):
    return n / statistics.median(times[1:])


def plain_model(X, params, jit_compile="auto", learning_rate=None):
    arch = {k: params[k] for k in ARCHITECTURE}
    norm = (X.mean(axis=(0, 1, 2)), X.var(axis=(0, 1, 2)))
    model = build_cnn(X.shape[1:], 10, normalization=norm, **arch)
    model = compile_cnn(
        model,
        optimizer=params["optimizer"],
        learning_rate=learning_rate or params["learning_rate"],
    )
    if jit_compile != "auto":  # recompile with the same optimizer
        model.compile(
            optimizer=model.optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
    return model


def keras_rate(X, y, params, epochs, batch_size, jit_compile="auto", dataset=False):
    keras.utils.set_random_seed(0)
    model = plain_model(X, params, jit_compile)
    timer = EpochTimer()
    if dataset:
        data = tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size).cache()
        data = data.prefetch(tf.data.AUTOTUNE)
        model.fit(data, epochs=epochs + 1, callbacks=[timer], verbose=0)
    else:
        model.fit(
            X, y, batch_size=batch_size, epochs=epochs + 1, callbacks=[timer], verbose=0
        )
    return images_per_s(timer.times, len(X))


def step_rate(X, y, params, batch_size, steps=40):
    """Images/s of train_on_batch on one fixed batch: the step, no input."""
    keras.utils.set_random_seed(0)
    model = plain_model(X, params)
    xb, yb = X[:batch_size], y[:batch_size]
    for _ in range(3):
        model.train_on_batch(xb, yb)
    seconds = timed(lambda: [model.train_on_batch(xb, yb) for _ in range(steps)])
    return steps * batch_size / seconds


def cnnfix_rate(X, y, params, epochs):
    timer = EpochTimer()
    clf = DropoutCNN(**params).set_params(
        epochs=epochs + 1,
        early_stopping=False,
        validation_split=0.0,
        lr_schedule=None,
        random_state=0,
        callbacks=[timer],
    )
    clf.fit(X, y)
    return images_per_s(timer.times, len(X))


def data(n):
    (X, y), _ = load_fashion_mnist()
    return X[:n].astype("float32"), y[:n]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10240)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--params", default="{}", help="DropoutCNN parameters (JSON)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    params = {**DropoutCNN().get_params(), **json.loads(args.params)}
    if isinstance(params["conv_filters"], list):
        params["conv_filters"] = tuple(params["conv_filters"])
    X, y = data(args.images)
    batch = params["batch_size"]
    if args.child:  # one number for the parent: plain Keras at the default batch
        print(keras_rate(X, y, params, args.epochs, batch))
        return

    peak, peak_np = matmul_peak()
    model = plain_model(X, params)
    train_flops = 3 * forward_flops(model)
    rows = []

    def add(name, rate):
        gflops = rate * train_flops / 1e9
        rows.append((name, rate, gflops))
        print(f"# {name}: {rate:.0f} images/s", file=sys.stderr, flush=True)

    add(f"DropoutCNN fit, batch {batch}", cnnfix_rate(X, y, params, args.epochs))
    add(f"Keras model.fit, batch {batch}", keras_rate(X, y, params, args.epochs, batch))
    for size in sorted({32, 128, 512} - {batch}):
        add(
            f"Keras model.fit, batch {size}",
            keras_rate(X, y, params, args.epochs, size),
        )
    add(
        f"Keras model.fit, batch {batch}, jit_compile=True",
        keras_rate(X, y, params, args.epochs, batch, jit_compile=True),
    )
    add(
        f"Keras model.fit, batch {batch}, cached prebatched tf.data",
        keras_rate(X, y, params, args.epochs, batch, dataset=True),
    )
    add(
        f"train_on_batch, one batch of {batch} (the step alone)",
        step_rate(X, y, params, batch),
    )
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--images",
            str(args.images),
            "--epochs",
            str(args.epochs),
            "--params",
            args.params,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"},
    )
    add(f"Keras model.fit, batch {batch}, oneDNN off", float(child.stdout.split()[-1]))

    print(
        f"{args.images:,} Fashion-MNIST images (28x28x1), {args.epochs} timed epochs "
        f"after one untimed; {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'} "
        "intra-op threads.\n"
    )
    arch = ", ".join(
        f"{k}={params[k]!r}" for k in ("conv_filters", "convs_per_block", "dense_units")
    )
    print(
        f"Model: DropoutCNN defaults ({arch}); {train_flops / 1e6:.1f} MFLOP per "
        f"training image (3 x {forward_flops(model) / 1e6:.1f} forward). "
        f"Float32 matmul peak: {peak:.0f} GFLOP/s (TensorFlow), {peak_np:.0f} "
        "GFLOP/s (NumPy), 2048x2048.\n"
    )
    print("| run | images/s | achieved GFLOP/s | share of matmul peak |")
    print("|---|---|---|---|")
    for name, rate, gflops in rows:
        print(f"| {name} | {rate:.0f} | {gflops:.1f} | {gflops / peak:.0%} |")


if __name__ == "__main__":
    main()
