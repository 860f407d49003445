"""Command line: ``python -m cnnfix demo`` trains DropoutCNN on the digits."""

import argparse
import sys
import time


def demo(args):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    from . import DropoutCNN
    from .datasets import load_digit_images

    X, y = load_digit_images()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.random_state
    )
    print(
        f"cnnfix demo: DropoutCNN on scikit-learn's digits "
        f"({len(X_train)} training, {len(X_test)} test images of 8x8 pixels)"
    )
    clf = DropoutCNN(
        epochs=args.epochs,
        random_state=args.random_state,
        verbose=0 if args.quiet else 2,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    y_pred = clf.predict(X_test)
    print(f"trained {clf.n_epochs_} epochs in {seconds:.1f} s (early stopping)")
    print(f"test accuracy:          {accuracy_score(y_test, y_pred):.4f}")
    print(f"test balanced accuracy: {balanced_accuracy_score(y_test, y_pred):.4f}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cnnfix",
        description="Find and fix the usual reasons a CNN has low accuracy.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "demo", help="train DropoutCNN on the built-in digits and print test accuracy"
    )
    p.add_argument(
        "--epochs", type=int, default=100, help="maximum epochs (default 100)"
    )
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(run=demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
