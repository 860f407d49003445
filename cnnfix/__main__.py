"""Command line: ``python -m cnnfix demo`` diagnoses and fixes a damaged
digits dataset; ``python -m cnnfix diagnose`` reports on an .npz file."""

import argparse
import sys
import time

import numpy as np


def apply_fixes(report, X, y, estimator):
    """The fixes a Diagnosis suggests, applied: drop suspected mislabelled
    samples and exact copies, balance the classes. Returns the new (X, y,
    estimator) and a line per fix."""
    from sklearn.base import clone

    from .balance import ClassBalancer

    drop, done = set(), []
    for code in ("label_noise", "exact_duplicates", "conflicting_labels"):
        if report.has(code) and report[code].severity != "info":
            drop |= set(report[code].indices)
            done.append(f"dropped {len(report[code].indices)} samples ({code})")
    keep = np.setdiff1d(np.arange(len(X)), sorted(drop))
    estimator = clone(estimator)
    if report.has("class_imbalance"):
        estimator.set_params(balancer=ClassBalancer(random_state=0))
        done.append("balanced the classes: balancer=ClassBalancer()")
    return X[keep], y[keep], estimator, done


def demo(args):
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from . import DropoutCNN, diagnose
    from .datasets import load_damaged_digits

    start = time.perf_counter()
    X_train, X_test, y_train, y_test, flipped = load_damaged_digits(args.random_state)

    def step(message):
        print(f"[{time.perf_counter() - start:5.1f} s] {message}", flush=True)

    def evaluate(clf):
        y_pred = clf.predict(X_test)
        return accuracy_score(y_test, y_pred), balanced_accuracy_score(y_test, y_pred)

    counts = np.bincount(y_train, minlength=10)
    print(
        "cnnfix demo: scikit-learn's digits, training part damaged: classes 5-9 "
        f"kept at ~15% (counts {counts.tolist()}), {len(flipped)} labels "
        f"({len(flipped) / len(y_train):.0%}) flipped; {len(X_test)} clean test "
        "images.\n"
    )
    cnn = DropoutCNN(epochs=args.epochs, random_state=args.random_state)
    step("1/4 training DropoutCNN on the damaged data")
    before = evaluate(clone(cnn).fit(X_train, y_train))
    step(f"    accuracy {before[0]:.4f}, balanced accuracy {before[1]:.4f}")
    step(f"2/4 diagnosing ({args.cv} cross-validation fits)")
    report = diagnose(
        X_train,
        y_train,
        cnn,
        cv=args.cv,
        random_state=args.random_state,
        verbose=1,
    )
    print("\n" + report.summary() + "\n")
    if report.has("label_noise"):
        found = set(report["label_noise"].indices) & set(flipped.tolist())
        step(
            f"    of the {len(flipped)} flipped labels, {len(found)} are among "
            f"the {len(report['label_noise'].indices)} flagged"
        )
    step("3/4 applying the fixes")
    X_fixed, y_fixed, fixed, done = apply_fixes(report, X_train, y_train, cnn)
    for line in done or ["nothing to fix"]:
        print(f"    - {line}")
    step("4/4 training the fixed model")
    after = evaluate(fixed.fit(X_fixed, y_fixed))
    print(
        "\n                   before   after\n"
        f"accuracy           {before[0]:.4f}   {after[0]:.4f}\n"
        f"balanced accuracy  {before[1]:.4f}   {after[1]:.4f}"
    )
    step("done")
    return 0


def diagnose_file(args):
    from . import diagnose

    with np.load(args.path) as data:
        missing = {"X", "y"} - set(data.files)
        if missing:
            print(
                f"{args.path} has arrays {data.files}; expected 'X' (images) and "
                "'y' (labels), and optionally 'X_test'.",
                file=sys.stderr,
            )
            return 2
        X, y = data["X"], data["y"]
        X_test = data["X_test"] if "X_test" in data.files else None
    report = diagnose(
        X,
        y,
        X_test=X_test,
        checks=args.checks,
        cv=args.cv,
        random_state=args.random_state,
        verbose=1,
    )
    print(report.to_json(indent=2) if args.json else report.summary())
    return 0 if report.ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cnnfix",
        description="Find and fix the usual reasons a CNN has low accuracy.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "demo",
        help="damage the built-in digits (imbalance, label noise), diagnose, "
        "fix, and print accuracy before and after",
    )
    p.add_argument(
        "--epochs", type=int, default=100, help="maximum epochs per fit (default 100)"
    )
    p.add_argument("--cv", type=int, default=3, help="diagnosis folds (default 3)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.set_defaults(run=demo)
    p = commands.add_parser(
        "diagnose",
        help="report why accuracy may be low on images in an .npz file "
        "(arrays X, y and optionally X_test); exit status 1 if warnings",
    )
    p.add_argument("path", help="an .npz file made with np.savez(path, X=..., y=...)")
    p.add_argument(
        "--checks",
        default="all",
        choices=["all", "data", "labels"],
        help="which checks (default all: data and labels)",
    )
    p.add_argument("--cv", type=int, default=3, help="label-check folds (default 3)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=diagnose_file)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
