"""AutoKeras 3 against TunedCNNClassifier at the same time budgets.

    python benchmarks/bench_autokeras.py [--budgets 240] [--ak-python PYTHON]

AutoKeras is a benchmark-only dependency, installed in an environment of
its own that reuses this one's TensorFlow and Keras:
``python -m venv --system-site-packages /tmp/ak && /tmp/ak/bin/pip install
autokeras``. Its part runs in a child process under that environment's
Python (``--ak-python``).

On the same 10,000 Fashion-MNIST training images (a stratified subset,
random_state 0), scored on the official 10,000 test images, for each budget
of ``--budgets`` (seconds):

- AutoKeras as a new user would try it first: ``ak.ImageClassifier()``;
  what it raised is reported;
- ``ak.ImageClassifier()`` again (the default search space and greedy
  tuner), with the workaround: the child process makes the ``units`` that
  ``keras.layers.Dense`` receives a Python int; validated on the same
  stratified 10% that cnnfix holds out (never Keras's unshuffled tail).
  AutoKeras has no time budget: a callback ends the training of the trial
  at the first batch past the budget (that partial epoch is validated and
  scored, as keras-tuner does for any epoch), and no trial starts after it.
  With ``validation_data`` and no ``epochs`` AutoKeras keeps the best
  trial's model and does not refit it;
- ``TunedCNNClassifier(time_budget=...)`` given the time AutoKeras took
  (its whole ``fit``).

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.model_selection import train_test_split

from cnnfix.datasets import load_fashion_mnist

HERE = os.path.dirname(os.path.abspath(__file__))


def data(n_train=10000):
    (X, y), (X_test, y_test) = load_fashion_mnist()
    X, _, y, _ = train_test_split(X, y, train_size=n_train, stratify=y, random_state=0)
    return X, y, X_test, y_test


def autokeras_run(budget, max_trials, seed=0):
    """The AutoKeras side (run under the AutoKeras environment): a dict."""
    import tempfile

    import autokeras as ak
    import keras

    X, y, X_test, y_test = data()
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.1, stratify=y, random_state=seed
    )
    result = {}
    try:  # as a new user tries it first
        first = ak.ImageClassifier(
            max_trials=1, overwrite=True, seed=seed, directory=tempfile.mkdtemp()
        )
        first.fit(X_fit[:1000], y_fit[:1000], epochs=1, verbose=0)
        result["ImageClassifier()"] = "fitted"
    except Exception as error:  # reported, not handled
        result["ImageClassifier()"] = f"{type(error).__name__}: {error}"[:300]
    start = time.perf_counter()

    class Budget(keras.callbacks.Callback):
        """Ends the trial's training at the first batch past the budget
        (Keras still validates that partial epoch and keras-tuner scores
        it), and no trial starts after it. Batches, not epochs: one epoch
        of the greedy tuner's second trial (ResNet50 at 224x224) takes far
        longer on a CPU than the smaller budget."""

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - start > budget:
                self.model.stop_training = True
                oracle = model.tuner.oracle
                oracle.max_trials = min(oracle.max_trials, len(oracle.trials))

    # The workaround: Keras 3.15's Dense refuses the class count AutoKeras
    # passes (not a Python int), so the child makes it one.
    dense_init = keras.layers.Dense.__init__

    def int_units(self, units, *args, **kwargs):
        dense_init(self, int(units), *args, **kwargs)

    keras.layers.Dense.__init__ = int_units
    model = ak.ImageClassifier(
        max_trials=max_trials,
        overwrite=True,
        seed=seed,
        directory=tempfile.mkdtemp(),
    )
    keras.utils.set_random_seed(seed)
    try:
        model.fit(
            X_fit,
            y_fit,
            validation_data=(X_val, y_val),
            callbacks=[Budget()],
            verbose=0,
        )
        result["seconds"] = time.perf_counter() - start
        predicted = np.asarray(model.predict(X_test, verbose=0)).ravel()
        result["accuracy"] = float(np.mean(predicted.astype(int) == y_test))
        result["trials"] = len(model.tuner.oracle.trials)
    except Exception:  # the report says what failed
        result["seconds"] = time.perf_counter() - start
        result["error"] = traceback.format_exc()[-600:]
    return result


def cnnfix_run(estimator, X, y, X_test, y_test):
    start = time.perf_counter()
    estimator.fit(X, y)
    return estimator.score(X_test, y_test), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[240])
    parser.add_argument("--ak-python", default="/tmp/ak/bin/python")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--max-trials", type=int, default=100)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(autokeras_run(args.child, args.max_trials)))
        return

    from cnnfix import TunedCNNClassifier

    X, y, X_test, y_test = data()
    rows, notes = [], []
    for budget in args.budgets:
        child = subprocess.run(
            [
                args.ak_python,
                __file__,
                "--child",
                str(budget),
                "--max-trials",
                str(args.max_trials),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)},
        )
        if child.returncode != 0:
            raise SystemExit(child.stderr[-3000:])
        ak_result = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"# AutoKeras, budget {budget:g}: {ak_result}", file=sys.stderr, flush=True
        )
        seconds = ak_result["seconds"]
        if "error" in ak_result:
            notes.append(
                f"ImageClassifier at {budget:g} s failed: {ak_result['error']}"
            )
        if "ImageClassifier()" in ak_result:
            notes.append(
                "`ak.ImageClassifier().fit(...)` (1,000 images, 1 epoch): "
                + ak_result["ImageClassifier()"]
            )
        rows.append(
            (
                budget,
                "AutoKeras ImageClassifier (units made int)",
                ak_result.get("accuracy", float("nan")),
                seconds,
                f"{ak_result.get('trials', '?')} trials",
            )
        )
        tuned = TunedCNNClassifier(time_budget=round(seconds), random_state=0)
        score, took = cnnfix_run(tuned, X, y, X_test, y_test)
        rows.append(
            (
                budget,
                f"TunedCNNClassifier(time_budget={round(seconds)})",
                score,
                took,
                f"{tuned.n_trials_} trials",
            )
        )
        print(f"# {rows[-1]}", file=sys.stderr, flush=True)

    print(
        "10,000 Fashion-MNIST training images (stratified, random_state 0), "
        "the official 10,000 test images; AutoKeras validates on the same "
        "stratified 10% that cnnfix holds out.\n"
    )
    print("| budget (s) | estimator | test accuracy | fit (s) | notes |")
    print("|---|---|---|---|---|")
    for budget, name, score, took, note in rows:
        print(f"| {budget:g} | {name} | {score:.4f} | {took:.0f} | {note} |")
    for note in dict.fromkeys(notes):
        print("\n" + note.replace("\n", " "))


if __name__ == "__main__":
    main()
