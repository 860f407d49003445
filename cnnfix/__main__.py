"""Command line: ``python -m cnnfix demo`` diagnoses and fixes a damaged
digits dataset; ``python -m cnnfix diagnose`` reports on an .npz file.

Only the standard library is imported here; cnnfix's heavy parts load
inside the commands, so ``python -m cnnfix --help`` answers at once.
"""

import argparse
import sys
import time


def run_demo(*, epochs=100, cv=3, random_state=0, verbose=1):
    """Damage the digits, train, diagnose, apply the fixes, train again.

    Parameters
    ----------
    epochs : int, default=100
        Maximum epochs of each fit.
    cv : int, default=3
        Folds of the diagnosis.
    random_state : int, default=0
        Seeds the damage, the CNNs and the folds.
    verbose : int, default=1
        0 prints nothing; 1 prints each step, its time and the report on
        stdout (and diagnose's progress on stderr).

    Returns
    -------
    dict
        ``accuracy_before``, ``accuracy_after``, ``balanced_accuracy_before``
        and ``balanced_accuracy_after`` on the clean test images;
        ``applied`` (a line per fix), ``n_flipped`` (labels flipped),
        ``n_flipped_flagged`` (of them, flagged as label noise) and the
        ``report``.
    """
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from . import DropoutCNN, diagnose
    from .datasets import load_damaged_digits

    start = time.perf_counter()
    X_train, X_test, y_train, y_test, flipped = load_damaged_digits(random_state)

    def say(message):
        if verbose:
            print(message, flush=True)

    def step(message):
        say(f"[{time.perf_counter() - start:5.1f} s] {message}")

    def evaluate(clf):
        y_pred = clf.predict(X_test)
        return accuracy_score(y_test, y_pred), balanced_accuracy_score(y_test, y_pred)

    counts = np.bincount(y_train, minlength=10)
    say(
        "cnnfix demo: scikit-learn's digits, training part damaged: classes 5-9 "
        f"kept at ~15% (counts {counts.tolist()}), {len(flipped)} labels "
        f"({len(flipped) / len(y_train):.0%}) flipped; {len(X_test)} clean test "
        "images.\n"
    )
    cnn = DropoutCNN(epochs=epochs, random_state=random_state)
    step("1/4 training DropoutCNN on the damaged data")
    before = evaluate(clone(cnn).fit(X_train, y_train))
    step(f"    accuracy {before[0]:.4f}, balanced accuracy {before[1]:.4f}")
    step(f"2/4 diagnosing ({cv} cross-validation fits)")
    report = diagnose(
        X_train, y_train, cnn, cv=cv, random_state=random_state, verbose=verbose
    )
    say("\n" + report.summary() + "\n")
    flagged = report["label_noise"].indices if report.has("label_noise") else []
    found = len(set(flagged) & set(flipped.tolist()))
    if flagged:
        step(
            f"    of the {len(flipped)} flipped labels, {found} are among "
            f"the {len(flagged)} flagged"
        )
    step("3/4 applying the fixes")
    X_fixed, y_fixed, fixed, applied = report.apply(X_train, y_train, cnn)
    for line in applied or ["nothing to fix"]:
        say(f"    - {line}")
    step("4/4 training the fixed model")
    after = evaluate(fixed.fit(X_fixed, y_fixed))
    step("done")
    return {
        "accuracy_before": float(before[0]),
        "accuracy_after": float(after[0]),
        "balanced_accuracy_before": float(before[1]),
        "balanced_accuracy_after": float(after[1]),
        "applied": applied,
        "n_flipped": len(flipped),
        "n_flipped_flagged": found,
        "report": report,
    }


def demo(args):
    result = run_demo(epochs=args.epochs, cv=args.cv, random_state=args.random_state)
    print(
        "\n                   before   after\n"
        f"accuracy           {result['accuracy_before']:.4f}   "
        f"{result['accuracy_after']:.4f}\n"
        f"balanced accuracy  {result['balanced_accuracy_before']:.4f}   "
        f"{result['balanced_accuracy_after']:.4f}"
    )
    return 0


def diagnose_file(args):
    import numpy as np

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
