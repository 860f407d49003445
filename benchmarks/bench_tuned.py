"""TunedCNNClassifier vs the same Hyperband search written with keras-tuner.

On digits (stratified 75/25 split), both run the same Hyperband search
(max_epochs=10, factor=3, over the search space below, the default before
issue #14), score trials on the same stratified 20% validation split with
early stopping (patience 3) and keep the best trial's model
(``train_finalists=False``: the identical trials are what is compared; the finalists
come after them). Both run keras-tuner's Hyperband plan: the same number
of trials with the same epoch budgets (TunedCNNClassifier's defaults take
the place of one sampled trial); the script checks it from the trials'
records and counts the epochs each side trained. Reports wall time (ratio,
same process), test accuracy, and resident memory growth over 3 more
consecutive fits of a smaller search (random, 5 trials of up to 5 epochs,
default space). ``--identical`` runs only the identical-trial comparison.

``--budgets 60 120 240`` measures ``time_budget`` instead: one default
Hyperband search per budget on 600 training digits, its whole fit time
(search and refit) against the budget, and the trials it ran. Budgets of
a minute and more, as users set them: the least a fit does (start the
search's worker, run its first trial, train one epoch of the first
finalist) took about 22 s on 2 slow cores, so a 20 s budget, measured
before, ran 11% over by design.

``--splits 3`` measures issue #14's target: digits, three stratified 75/25
splits (random_state 0, 1, 2), defaults on both sides (only
``random_state``, the split's, is set): TunedCNNClassifier's and
DropoutCNN's test accuracy and fit time, per split and mean, as a Markdown
table.

``--cv 3 5`` measures what ``cv=`` costs: the default search on the first
split scored on the validation split, then with ``cv=3`` and ``cv=5``: the
search's seconds, the whole fit's and their ratios to ``cv=None``, and the
test accuracy.

``--refit-options 3`` measures the refit choices on the same splits, with
DropoutCNN's configuration (the search's first finalist): (a) the model
trained with early stopping on the stratified 80% and restored best
weights, as it is; (b) the same configuration retrained on all the
training data for its best epoch scaled by n_all / n_train; (c) the same
for the unscaled best epoch.

    python benchmarks/bench_tuned.py
    python benchmarks/bench_tuned.py --identical
    python benchmarks/bench_tuned.py --budgets 60 120 240
    python benchmarks/bench_tuned.py --splits 3
    python benchmarks/bench_tuned.py --refit-options 3
    python benchmarks/bench_tuned.py --cv 3 5
"""

import argparse
import gc
import json
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import keras_tuner as kt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from cnnfix import DropoutCNN, TunedCNNClassifier
from cnnfix._input import stratified_split
from cnnfix.datasets import load_digit_images
from cnnfix.tuning import DEFAULT_SEARCH_SPACE

SEED = 0

#: The space the hand-written search below samples.
SPACE = {
    # One, two or three blocks of 16, 32 or 64 filters, doubling per block.
    "conv_filters": DEFAULT_SEARCH_SPACE["conv_filters"],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.5),
    "learning_rate": (1e-4, 1e-2),
}


class EpochLog(keras.callbacks.Callback):
    """Appends one line per epoch trained to a file (also from the search's
    worker process, where a counter in memory would not come back)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as f:
            f.write("1\n")


def epochs_logged(path):
    return len(Path(path).read_text().split()) if Path(path).exists() else 0


def budgets(values):
    """The trials' Hyperband budgets, ``{(epochs, initial epoch): count}``,
    from their hyperparameter values."""
    return dict(
        sorted(
            Counter(
                (v["tuner/epochs"], v["tuner/initial_epoch"]) for v in values
            ).items()
        )
    )


def rss_mb(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def tree_rss_mb():
    """Resident memory of this process and all its descendants (the search
    workers and the fork server they come from)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0.0, [os.getpid()]
    while stack:
        pid = stack.pop()
        try:
            total += rss_mb(pid)
        except OSError:
            continue
        stack.extend(children.get(pid, []))
    return total


def direct_keras_tuner(X, y, max_epochs, log):
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
        # keras-tuner takes strings: (32, 64) is "32-64", as in cnnfix.
        labels = ["-".join(map(str, filters)) for filters in SPACE["conv_filters"]]
        conv_filters = [int(f) for f in hp.Choice("conv_filters", labels).split("-")]
        kernel = hp.Choice("kernel_size", [3, 5])
        bn = hp.Boolean("batch_norm")
        units = hp.Choice("dense_units", [64, 128, 256])
        dropout = hp.Float("dropout", 0.0, 0.5)
        L = keras.layers
        inputs = keras.Input(X.shape[1:])
        x = L.Normalization(mean=mean, variance=var)(inputs)
        for filters in conv_filters:
            x = L.Conv2D(filters, kernel, padding="same", use_bias=not bn)(x)
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
            max_epochs=max_epochs,
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
            epochs=max_epochs,
            batch_size=32,
            verbose=0,
            callbacks=[
                keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
                EpochLog(log),
            ],
        )
        best = tuner.oracle.get_best_trials(1)[0]
        values = [t.hyperparameters.values for t in tuner.oracle.trials.values()]
        return tuner.load_model(best), budgets(values)
    finally:
        shutil.rmtree(directory)


def time_budgets(budgets):
    """Whole fit time against ``time_budget`` (the first fit also starts the
    worker server, as in a fresh process)."""
    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=600, stratify=y, random_state=0
    )
    print(
        "| time_budget (s) | fit time (s) | ratio | trials | longest trial (s) "
        "| test accuracy |\n|---|---|---|---|---|---|"
    )
    for budget in budgets:
        clf = TunedCNNClassifier(time_budget=budget, random_state=SEED, verbose=0)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        print(
            f"| {budget:g} | {elapsed:.1f} | {elapsed / budget:.2f} | "
            f"{clf.n_trials_} | {max(clf.search_results_['duration']):.1f} | "
            f"{clf.score(X_test, y_test):.4f} |",
            flush=True,
        )


def digit_splits(n_splits):
    """Digits in stratified 75/25 splits, random_state 0, 1, ..."""
    X, y = load_digit_images()
    for seed in range(n_splits):
        yield (
            seed,
            *train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed),
        )


def against_dropout(n_splits):
    """Issue #14's target: Tuned's mean test accuracy >= DropoutCNN's - 0.002
    and its mean fit time <= 5x DropoutCNN's, defaults on both sides."""
    rows = []
    for seed, X_train, X_test, y_train, y_test in digit_splits(n_splits):
        row = [seed]
        for estimator in (DropoutCNN, TunedCNNClassifier):
            clf = estimator(random_state=seed)
            if estimator is TunedCNNClassifier:
                clf.set_params(verbose=0)
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            row += [clf.score(X_test, y_test), time.perf_counter() - start]
        row.append(clf.best_params_)
        rows.append(row)
        print(row, flush=True)
    print(
        "\n| split | DropoutCNN accuracy | Tuned accuracy | DropoutCNN fit (s) "
        "| Tuned fit (s) | time ratio | Tuned best_params_ |\n"
        "|---|---|---|---|---|---|---|"
    )
    for seed, acc_d, t_d, acc_t, t_t, params in rows:
        print(
            f"| {seed} | {acc_d:.4f} | {acc_t:.4f} | {t_d:.1f} | {t_t:.1f} "
            f"| {t_t / t_d:.2f} | {params} |"
        )
    acc_d, t_d, acc_t, t_t = (np.mean([r[i] for r in rows]) for i in (1, 2, 3, 4))
    print(
        f"| mean | {acc_d:.4f} | {acc_t:.4f} | {t_d:.1f} | {t_t:.1f} "
        f"| {t_t / t_d:.2f} | |"
    )
    print(
        f"\nTarget: accuracy {acc_t:.4f} >= {acc_d - 0.002:.4f}: "
        f"{acc_t >= acc_d - 0.002}; time {t_t / t_d:.2f}x <= 5x: {t_t <= 5 * t_d}"
    )


def cv_cost(folds):
    """What ``cv=`` costs: the default search on one digits split (75/25,
    random_state 0) scored on the validation split and by ``cv=k`` for
    each k in ``folds``: the search's seconds (sum of the trials'), the
    whole fit's, and the test accuracy."""
    _, X_train, X_test, y_train, y_test = next(digit_splits(1))
    print(
        "| cv | search (s) | ratio | whole fit (s) | ratio | trials "
        "| test accuracy |\n|---|---|---|---|---|---|---|"
    )
    base = None
    for cv in (None, *folds):
        clf = TunedCNNClassifier(cv=cv, random_state=SEED, verbose=0)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        search = sum(clf.search_results_["duration"])
        base = base or (search, elapsed)
        print(
            f"| {cv} | {search:.1f} | {search / base[0]:.2f} | {elapsed:.1f} | "
            f"{elapsed / base[1]:.2f} | {clf.n_trials_} | "
            f"{clf.score(X_test, y_test):.4f} |",
            flush=True,
        )


def refit_options(n_splits):
    """Test accuracy of the refit choices for DropoutCNN's configuration."""
    print(
        "| split | (a) early stopping, restored | (b) all data, best x "
        "n_all/n_train | (c) all data, best epoch | best epoch | (b) epochs |\n"
        "|---|---|---|---|---|---|"
    )
    scores = []
    for seed, X_train, X_test, y_train, y_test in digit_splits(n_splits):
        kept = DropoutCNN(random_state=seed).fit(X_train, y_train)
        best = int(np.argmin(kept.history_["val_loss"])) + 1
        counts = np.unique(y_train, return_counts=True)[1]  # stratified, per class
        n_train = len(y_train) - sum(round(kept.validation_split * c) for c in counts)
        scaled = round(best * len(y_train) / n_train)
        row = [kept.score(X_test, y_test)]
        for epochs in (scaled, best):
            all_data = DropoutCNN(
                random_state=seed,
                validation_split=0.0,
                early_stopping=False,
                epochs=epochs,
            ).fit(X_train, y_train)
            row.append(all_data.score(X_test, y_test))
        scores.append(row)
        print(
            f"| {seed} | {row[0]:.4f} | {row[1]:.4f} | {row[2]:.4f} | {best} "
            f"| {scaled} |",
            flush=True,
        )
    means = np.mean(scores, axis=0)
    print(f"| mean | {means[0]:.4f} | {means[1]:.4f} | {means[2]:.4f} | | |")


def identical_trials(max_epochs):
    """The same Hyperband search, by hand and with TunedCNNClassifier: wall
    times, trials, their budgets and the epochs trained. Returns the table
    rows and the fitted estimator."""
    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    work = Path(tempfile.mkdtemp(prefix="bench-tuned-"))
    try:
        start = time.perf_counter()
        model, direct = direct_keras_tuner(
            X_train, y_train, max_epochs, str(work / "direct")
        )
        t_direct = time.perf_counter() - start
        acc_direct = float(np.mean(model.predict_on_batch(X_test).argmax(1) == y_test))
        print(f"direct keras-tuner: {t_direct:.0f} s", flush=True)

        times, ours, epochs = [], [], []
        for i in range(2):  # the first starts the worker server (one TF import)
            log = work / f"ours{i}"
            clf = TunedCNNClassifier(
                max_epochs=max_epochs,
                search_space=SPACE,
                validation_split=0.2,
                patience=3,
                lr_schedule=None,  # hand-written trials keep their rate
                train_finalists=False,
                directory=work / f"search{i}",
                callbacks=[EpochLog(str(log))],
                random_state=SEED,
            )
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            times.append(time.perf_counter() - start)
            print(f"TunedCNNClassifier: {times[-1]:.0f} s", flush=True)
            trials = (work / f"search{i}" / "search").glob("trial_*/trial.json")
            ours.append(
                budgets(
                    json.loads(t.read_text())["hyperparameters"]["values"]
                    for t in trials
                )
            )
            epochs.append(epochs_logged(log))
        acc_ours = clf.score(X_test, y_test)
        epochs_direct = epochs_logged(work / "direct")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = all(b == direct for b in ours)
    rows = [
        f"| trials | {clf.n_trials_} | {sum(direct.values())} |",
        f"| trial budgets {{(epochs, initial epoch): trials}} | {ours[0]} | {direct} |",
        f"| same trial budgets | {same} | |",
        f"| epochs trained (early stopping, patience 3) | {epochs[0]} first, "
        f"{epochs[1]} second | {epochs_direct} |",
        f"| wall time, first fit (s) | {times[0]:.1f} | {t_direct:.1f} |",
        f"| wall time, second fit (s) | {times[1]:.1f} | |",
        f"| time ratio (ours / direct) | {times[0] / t_direct:.3f} first, "
        f"{times[1] / t_direct:.3f} second | 1 |",
        f"| test accuracy | {acc_ours:.4f} | {acc_direct:.4f} |",
    ]
    return rows, clf


def memory_growth(X_train, y_train):
    """RSS growth over 3 fits of a small search, isolated and in-process."""
    small = dict(tuner="random", max_trials=5, max_epochs=5, random_state=SEED)
    gc.collect()
    rss, tree = [rss_mb()], [tree_rss_mb()]
    for _ in range(3):
        TunedCNNClassifier(**small).fit(X_train, y_train)
        gc.collect()
        rss.append(rss_mb())
        tree.append(tree_rss_mb())
    inline = [rss_mb()]
    for _ in range(3):
        TunedCNNClassifier(**small, isolate_search=False).fit(X_train, y_train)
        gc.collect()
        inline.append(rss_mb())

    def growth(values):
        steps = ", ".join(f"{b - a:+.0f}" for a, b in pairwise(values))
        return f"{values[-1] - values[0]:+.0f} ({steps})"

    return [
        f"| RSS growth, this process, 3 fits (MB) | {growth(rss)} | |",
        f"| RSS growth, with workers and server, 3 fits (MB) | {growth(tree)} | |",
        f"| RSS growth, isolate_search=False, 3 fits (MB) | {growth(inline)} | |",
        f"| RSS of the worker server (MB) | {tree[-1] - rss[-1]:.0f} | |",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument(
        "--identical",
        action="store_true",
        help="only the identical-trial comparison (no memory measurement)",
    )
    parser.add_argument("--budgets", type=float, nargs="*")
    parser.add_argument("--splits", type=int)
    parser.add_argument("--refit-options", type=int)
    parser.add_argument("--cv", type=int, nargs="*")
    args = parser.parse_args()
    if args.cv:
        cv_cost(args.cv)
        return
    if args.budgets:
        time_budgets(args.budgets)
        return
    if args.splits:
        against_dropout(args.splits)
        return
    if args.refit_options:
        refit_options(args.refit_options)
        return
    rows, clf = identical_trials(args.max_epochs)
    if not args.identical:
        X, y = load_digit_images()
        X_train, _, y_train, _ = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=0
        )
        rows += memory_growth(X_train, y_train)
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, Keras {keras.__version__}, "
        f"keras-tuner {kt.__version__}, max_epochs={args.max_epochs}\n"
    )
    print("| measure | TunedCNNClassifier | keras-tuner directly |\n|---|---|---|")
    print("\n".join(rows))
    print(f"\nbest_params_: {clf.best_params_}")


if __name__ == "__main__":
    main()
