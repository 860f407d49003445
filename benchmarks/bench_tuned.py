"""TunedCNNClassifier vs the same Hyperband search written with keras-tuner.

On digits (stratified 75/25 split), both run Hyperband with the default
budget (max_epochs=10, factor=3) over the default search space, score trials
on the same stratified 20% validation split with early stopping
(patience 3), then train the best configuration on all training data for
the best trial's epochs. Reports wall time (ratio, same process), test
accuracy, and resident memory growth over 3 more consecutive fits of a
smaller search (random, 5 trials of up to 5 epochs, default space).

    python benchmarks/bench_tuned.py
"""

import gc
import os
import platform
import shutil
import tempfile
import time
from itertools import pairwise

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import keras_tuner as kt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from cnnfix import TunedCNNClassifier
from cnnfix.base import stratified_split
from cnnfix.datasets import load_digit_images

SEED = 0


def rss_mb():
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def direct_keras_tuner(X, y):
    """The search a user writes by hand (cf. shared/seed-article.md)."""
    rng = check_random_state(SEED)
    keras_seed = int(rng.randint(np.iinfo(np.int32).max))
    train, val = stratified_split(y, 0.2, rng)
    tuner_seed = int(check_random_state(SEED).randint(np.iinfo(np.int32).max))
    keras.utils.set_random_seed(keras_seed)
    mean = X[train].mean(axis=(0, 1, 2)).tolist()
    var = np.maximum(X[train].var(axis=(0, 1, 2)), 1e-6).tolist()

    def build(hp):
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        n_blocks = hp.Choice("n_blocks", [1, 2, 3])
        filters = hp.Choice("filters", [16, 32, 64])
        kernel = hp.Choice("kernel_size", [3, 5])
        bn = hp.Choice("batch_norm", [True, False])
        units = hp.Choice("dense_units", [64, 128, 256])
        dropout = hp.Float("dropout", 0.0, 0.5)
        L = keras.layers
        inputs = keras.Input(X.shape[1:])
        x = L.Normalization(mean=mean, variance=var)(inputs)
        for i in range(n_blocks):
            x = L.Conv2D(filters * 2**i, kernel, padding="same", use_bias=not bn)(x)
            if bn:
                x = L.BatchNormalization()(x)
            x = L.MaxPooling2D(2, padding="same")(L.ReLU()(x))
        x = L.Dense(units, activation="relu")(L.Flatten()(x))
        outputs = L.Dense(10, activation="softmax")(
            L.Dropout(dropout)(x) if dropout else x
        )
        model = keras.Model(inputs, outputs)
        model.compile(
            keras.optimizers.Adam(lr),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    directory = tempfile.mkdtemp()
    try:
        tuner = kt.Hyperband(
            build,
            objective="val_accuracy",
            max_epochs=10,
            factor=3,
            seed=tuner_seed,
            directory=directory,
            project_name="p",
            max_consecutive_failed_trials=1,
        )
        tuner.search(
            X[train],
            y[train],
            validation_data=(X[val], y[val]),
            epochs=10,
            batch_size=32,
            verbose=0,
            callbacks=[
                keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
            ],
        )
        best = tuner.oracle.get_best_trials(1)[0]
        keras.backend.clear_session()
        model = build(best.hyperparameters)
        model.fit(X, y, epochs=best.best_step + 1, batch_size=32, verbose=0)
        return model, len(tuner.oracle.trials)
    finally:
        shutil.rmtree(directory)


def main():
    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    start = time.perf_counter()
    model, n_direct = direct_keras_tuner(X_train, y_train)
    t_direct = time.perf_counter() - start
    acc_direct = float(np.mean(model.predict_on_batch(X_test).argmax(1) == y_test))
    print(f"direct keras-tuner: {t_direct:.0f} s", flush=True)

    start = time.perf_counter()
    clf = TunedCNNClassifier(random_state=SEED).fit(X_train, y_train)
    t_ours = time.perf_counter() - start
    acc_ours = clf.score(X_test, y_test)
    print(f"TunedCNNClassifier: {t_ours:.0f} s", flush=True)

    small = dict(tuner="random", max_trials=5, max_epochs=5, random_state=SEED)
    TunedCNNClassifier(**small).fit(X_train, y_train)  # warm-up: first-use caches
    gc.collect()
    rss = [rss_mb()]
    for _ in range(3):
        TunedCNNClassifier(**small).fit(X_train, y_train)
        gc.collect()
        rss.append(rss_mb())

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, Keras {keras.__version__}, "
        f"keras-tuner {kt.__version__}\n"
    )
    print("| measure | TunedCNNClassifier | keras-tuner directly |\n|---|---|---|")
    print(f"| trials | {clf.n_trials_} | {n_direct} |")
    print(f"| wall time (s) | {t_ours:.1f} | {t_direct:.1f} |")
    print(f"| time ratio (ours / direct) | {t_ours / t_direct:.3f} | 1 |")
    print(f"| test accuracy | {acc_ours:.4f} | {acc_direct:.4f} |")
    growth = ", ".join(f"{b - a:+.0f}" for a, b in pairwise(rss))
    print(
        f"| RSS growth over 3 more fits (MB) | {rss[-1] - rss[0]:+.0f} ({growth}) | - |"
    )
    print(f"\nbest_params_: {clf.best_params_}")


if __name__ == "__main__":
    main()
