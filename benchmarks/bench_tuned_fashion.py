"""TunedCNNClassifier on Fashion-MNIST within an hour on this machine.

    python benchmarks/bench_tuned_fashion.py [--train 30000] [--search-minutes 50]

Needs Fashion-MNIST on disk (``apt-get install -y dataset-fashion-mnist``).
A Hyperband search (max_epochs=9, factor=3: trials of 1, 3 and 9 epochs)
over the default search space on ``--train`` training images (a stratified
subset), 10% of them for validation, then the refit of the best
configuration on all of them. Once ``--search-minutes`` have passed, each
trial still to come stops after its first epoch (a callback that acts only
in the search's worker process, so the refit is not cut). Reports the wall
time of the whole fit and the test accuracy on the 10,000 test images.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
from sklearn.model_selection import train_test_split

from cnnfix import TunedCNNClassifier
from cnnfix.datasets import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=30000)
    parser.add_argument("--search-minutes", type=float, default=50)
    parser.add_argument("--max-epochs", type=int, default=9)
    args = parser.parse_args()
    (X, y), (X_test, y_test) = load_fashion_mnist()
    if args.train < len(X):
        X, _, y, _ = train_test_split(
            X, y, train_size=args.train, stratify=y, random_state=0
        )
    clf = TunedCNNClassifier(
        max_epochs=args.max_epochs,
        validation_split=0.1,
        batch_size=128,
        random_state=0,
        verbose=1,
        callbacks=[SearchDeadline(time.time() + 60 * args.search_minutes)],
    )
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    accuracy = clf.score(X_test, y_test)
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}\n"
    )
    print("| measure | value |\n|---|---|")
    print(f"| training images | {len(X):,} (10% of them for validation) |")
    print(f"| trials run | {clf.n_trials_} |")
    print(f"| wall time, search + refit (min) | {seconds / 60:.1f} |")
    print(f"| best validation accuracy | {clf.best_score_:.4f} |")
    print(f"| test accuracy (10,000 images) | {accuracy:.4f} |")
    print(f"| refit epochs | {clf.n_epochs_} |")
    print(f"\nbest_params_: {clf.best_params_}")


class SearchDeadline(keras.callbacks.Callback):
    """Stops each trial after the epoch that ends past ``deadline`` (a Unix
    time), in the search's worker process only."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline, self.parent = deadline, os.getpid()

    def on_epoch_end(self, epoch, logs=None):
        if os.getpid() != self.parent and time.time() > self.deadline:
            self.model.stop_training = True


if __name__ == "__main__":
    main()
