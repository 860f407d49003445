"""Command line: ``python -m cnnfix demo`` diagnoses and fixes a damaged
digits dataset; ``python -m cnnfix diagnose`` reports on an .npz file.

Argument parsing only: the work is done by cnnfix's modules
(:func:`cnnfix.demo.run_demo`, :func:`cnnfix.diagnose`), imported inside the
commands, so ``python -m cnnfix --help`` answers at once.
"""

import argparse
import sys


def demo(args):
    from .demo import run_demo

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
