"""TunedCNNClassifier against DropoutCNN on Fashion-MNIST, within a time budget.

    python benchmarks/bench_tuned_fashion.py [--train 60000] [--time-budget 3600]

Needs Fashion-MNIST on disk (``apt-get install -y dataset-fashion-mnist``).
On ``--train`` training images (all 60,000 by default; fewer: a stratified
subset), defaults on both sides and the same seed:

- ``TunedCNNClassifier(time_budget=...)``: the default Hyperband search
  over the default space (trials on a 10,000-image sample:
  ``max_search_samples``), then its finalists trained to convergence on
  all the training part, the whole ``fit`` within the budget (each
  trial's minutes and the search's share of the budget it ran under, and
  each finalist's validation score, epochs, minutes, weight in the kept
  model and test accuracy alone are reported);
- ``DropoutCNN()``: the configuration the search starts from.

Reports the wall time of each fit and the test accuracy of each on the
10,000 test images, from the same run. The issue's targets: the tuned fit
ends within 65 minutes and scores at least DropoutCNN's test accuracy +
0.005, and at least 0.93.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.model_selection import train_test_split

from cnnfix import DropoutCNN, TunedCNNClassifier
from cnnfix.architectures import ensemble_members
from cnnfix.datasets import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=60000)
    parser.add_argument("--time-budget", type=float, default=3600)
    args = parser.parse_args()
    (X, y), (X_test, y_test) = load_fashion_mnist()
    if args.train < len(X):
        X, _, y, _ = train_test_split(
            X, y, train_size=args.train, stratify=y, random_state=0
        )
    rows = []
    for name, clf in (
        (
            f"TunedCNNClassifier(time_budget={args.time_budget:g})",
            TunedCNNClassifier(time_budget=args.time_budget, random_state=0),
        ),
        ("DropoutCNN()", DropoutCNN(random_state=0)),
    ):
        start = time.perf_counter()
        clf.fit(X, y)
        minutes = (time.perf_counter() - start) / 60
        rows.append((name, clf.score(X_test, y_test), minutes, clf))

    print(f"{len(X):,} training images (10% of them for validation); CPU.\n")
    print("| estimator | test accuracy (10,000 images) | fit time (min) |")
    print("|---|---|---|")
    for name, accuracy, minutes, _ in rows:
        print(f"| {name} | {accuracy:.4f} | {minutes:.1f} |")
    tuned = rows[0][3]
    trials = sum(d or 0 for d in tuned.search_results_["duration"]) / 60
    print(
        f"\nTuned: {tuned.n_trials_} trials ({trials:.1f} min), "
        f"kept {tuned.best_params_} "
        f"(validation score {tuned.best_score_:.4f}, {tuned.n_epochs_} epochs). "
        f"Difference in test accuracy, tuned - DropoutCNN: "
        f"{rows[0][1] - rows[1][1]:+.4f}."
    )
    print(
        "\nThe trials, in creation order. The search's share of the budget "
        "(the budget less the finalists' estimate when the trial started) "
        "is where the trial-cut would stop the trial; ended is the running "
        "sum of the trials' durations (the worker's start is not in it):\n"
    )
    print("| trial | score | best epoch | minutes | ended (min) | share ended (min) |")
    print("|---|---|---|---|---|---|")
    results, ended = tuned.search_results_, 0.0
    for i, trial_id in enumerate(results["trial_id"]):
        minutes = (results["duration"][i] or 0) / 60
        ended += minutes
        score = results["score"][i]
        share = (args.time_budget - results["refit_estimate"][i]) / 60
        print(
            f"| {trial_id} | {'-' if score is None else f'{score:.4f}'} | "
            f"{results['best_epoch'][i]} | {minutes:.1f} | {ended:.1f} | "
            f"{share:.1f} |"
        )
    # The kept model's members, heaviest first (the model itself when it
    # is one finalist), and each one's test accuracy alone.
    members = ensemble_members(tuned.model_)
    alone = {}
    for member, finalist in zip(
        members,
        sorted(tuned.finalists_, key=lambda f: -f["weight"]),
        strict=False,
    ):
        proba = np.concatenate(
            [
                member.predict_on_batch(X_test[i : i + 2000].astype("float32"))
                for i in range(0, len(X_test), 2000)
            ]
        )
        alone[id(finalist)] = float(np.mean(tuned.classes_[proba.argmax(1)] == y_test))
    print(
        "\nThe finalists, in training order (the defaults first); weight is "
        "the finalist's share of the kept model's probabilities (an average "
        "of finalists when more than one has weight):\n"
    )
    print(
        "| finalist | validation score | best epoch | epochs | minutes | weight "
        "| test accuracy alone |"
    )
    print("|---|---|---|---|---|---|---|")
    for finalist in tuned.finalists_:
        test = alone.get(id(finalist))
        print(
            f"| {finalist['params']} | {finalist['score']:.4f} | "
            f"{finalist['best_epoch']} | {finalist['epochs']} | "
            f"{finalist['duration'] / 60:.1f} | {finalist['weight']:.2f} | "
            f"{'-' if test is None else f'{test:.4f}'} |"
        )


if __name__ == "__main__":
    main()
