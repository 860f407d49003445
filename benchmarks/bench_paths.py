"""Epoch time of DropoutCNN on file paths against the decoded in-memory array.

``--limit`` Fashion-MNIST images are written as 28x28 grey PNG files in a
class-folder tree (make_image_folder.py), then the same DropoutCNN (default
architecture, ``validation_split=0``, no early stopping) is fitted for
``--epochs`` epochs on the decoded array (``load_image_folder``) and on the
paths (``load_image_folder(as_paths=True)``), alternating ``--repeats``
times. Reported: the median seconds per epoch after the first (which
includes building and tracing the model) and the ratio paths / array.

    python benchmarks/bench_paths.py [--limit 5000] [--epochs 3] [--repeats 2]

A quick check, not the issue's full benchmark (70,000 files, peak memory,
``image_dataset_from_directory``), which comes later.
"""

import argparse
import statistics
import tempfile
import time

from make_image_folder import write_tree

from cnnfix import DropoutCNN
from cnnfix.datasets import load_image_folder


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


def epoch_seconds(X, y, epochs):
    timer = EpochTimer()
    DropoutCNN(
        epochs=epochs,
        validation_split=0.0,
        early_stopping=False,
        image_size=28,
        random_state=0,
        callbacks=[timer],
    ).fit(X, y)
    return statistics.median(timer.times[1:] or timer.times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cnnfix-paths-") as root:
        write_tree(root, limit=args.limit)
        X, y = load_image_folder(root)
        paths, _ = load_image_folder(root, as_paths=True)
        times = {"array": [], "paths": []}
        for _ in range(args.repeats):
            times["array"].append(epoch_seconds(X, y, args.epochs))
            times["paths"].append(epoch_seconds(paths, y, args.epochs))
    array, on_paths = (statistics.median(times[k]) for k in ("array", "paths"))
    print(f"{args.limit} 28x28 PNG files, DropoutCNN(), s/epoch (median)")
    print("| X | s/epoch |\n|---|---|")
    print(f"| decoded array | {array:.2f} |\n| file paths | {on_paths:.2f} |")
    print(f"paths / array: {on_paths / array:.2f}x")


if __name__ == "__main__":
    main()
