"""One fit on two logical CPU devices against one: images/s and accuracy.

DropoutCNN (defaults but ``epochs``, ``validation_split=0`` and no early
stopping, so both settings train the same number of steps) trains on the
first ``--train`` Fashion-MNIST training images and is scored on the
official 10,000 test images, once with ``distribution=None`` and once with
``distribution="mirrored"`` over two logical CPU devices
(``tf.config.set_logical_device_configuration``). Each setting runs in a
fresh process, since logical devices can only be set before TensorFlow
starts; both processes split the processor the same way, so only the
strategy differs. Images per second are over the epochs after the first
(which builds and traces the model).

The two replicas share the same cores, so this measures the correctness
and the overhead of ``tf.distribute``, not a speed-up. Images per second
on GPUs are ``bench_gpu.py``'s (still to measure without a GPU machine).

    python benchmarks/bench_distribute.py [--train 10000] [--epochs 4]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def one_setting(distribution, n_train, epochs, batch_size):
    """Fit in this process; return accuracy, images/s and replicas."""
    import keras
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from cnnfix import DropoutCNN
    from cnnfix.datasets import load_fashion_mnist

    (X_train, y_train), (X_test, y_test) = load_fashion_mnist()
    X_train, y_train = X_train[:n_train], y_train[:n_train]

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.started)

    times = []
    clf = DropoutCNN(
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.0,
        early_stopping=False,
        random_state=0,
        callbacks=[EpochTimes()],
        distribution=None if distribution == "none" else distribution,
    )
    started = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    later = times[1:] or times
    return {
        "accuracy": float(clf.score(X_test, y_test)),
        "images_per_s": n_train * len(later) / sum(later),
        "first_epoch_s": times[0],
        "fit_s": fit_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setting:  # a child process: one setting, as JSON
        result = one_setting(args.setting, args.train, args.epochs, args.batch_size)
        print("RESULT" + json.dumps(result))
        return

    # The children import cnnfix from this checkout.
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    rows = {}
    for setting in ("none", "mirrored"):
        command = [sys.executable, __file__, "--setting", setting]
        command += ["--train", str(args.train), "--epochs", str(args.epochs)]
        command += ["--batch-size", str(args.batch_size)]
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, env=env
        )
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][-1]
        rows[setting] = json.loads(line.removeprefix("RESULT"))

    one, two = rows["none"], rows["mirrored"]
    print(
        f"DropoutCNN, {args.train:,} Fashion-MNIST training images, "
        f"{args.epochs} epochs, batch_size={args.batch_size}, tested on the "
        f"official 10,000; {os.cpu_count()} CPU cores ({platform.machine()}) "
        "split into two logical devices in both runs.\n"
    )
    header = "distribution | replicas | images/s | first epoch (s) | fit (s) | accuracy"
    print(f"| {header} |")
    print("|---|---|---|---|---|---|")
    for name, replicas, row in (("None", 1, one), ('"mirrored"', 2, two)):
        print(
            f"| {name} | {replicas} | {row['images_per_s']:,.0f} | "
            f"{row['first_epoch_s']:.1f} | {row['fit_s']:.1f} | {row['accuracy']:.4f} |"
        )
    overhead = one["images_per_s"] / two["images_per_s"] - 1
    print(
        f"\nOverhead of the strategy: {overhead:+.0%} time per image after the "
        f"first epoch; accuracy {two['accuracy'] - one['accuracy']:+.4f}. "
        "GPU rows: still to measure (no GPU machine)."
    )


if __name__ == "__main__":
    main()
