"""Command line: ``python -m cnnfix demo`` diagnoses and fixes a damaged
digits dataset; ``python -m cnnfix diagnose`` reports on a folder of images
(one sub-folder per class) or an .npz file. Ctrl-C stops either with one
line and exit status 130.

Argument parsing only: the work is done by cnnfix's modules
(:func:`cnnfix.demo.run_demo`, :func:`cnnfix.diagnose`). They and NumPy are
imported inside the commands, so that ``python -m cnnfix --help`` answers at
once: this module imports only the standard library.
"""

import argparse
import os
import sys


def epochs(value):
    """``--epochs``: "auto" or an int (argparse names this in its error)."""
    return value if value == "auto" else int(value)


def demo(args):
    from .demo import run_demo

    result = run_demo(epochs=args.epochs, cv=args.cv, random_state=args.random_state)
    print("\n                   before   after")
    for key in ("accuracy", "balanced_accuracy"):
        before, after = result[f"{key}_before"], result[f"{key}_after"]
        print(f"{key.replace('_', ' '):<19}{before:.4f}   {after:.4f}")
    return 0


def diagnose_file(args):
    from . import diagnose

    try:
        if not os.path.exists(args.path):
            raise ValueError(
                f"{args.path!r} does not exist. Expected a folder holding one "
                "sub-folder of images per class, or an .npz file."
            )
        if os.path.isdir(args.path):
            from .datasets import list_image_folder

            (X, y), X_test = list_image_folder(args.path), None
        elif args.path.endswith(".npz"):
            X, y, X_test = _read_npz(args.path)
        else:
            raise ValueError(
                f"{args.path!r} is a file, not a folder or an .npz file. Pass the "
                "folder that holds one sub-folder of images per class."
            )
    except (OSError, ValueError) as error:
        print(f"cnnfix diagnose: {error}", file=sys.stderr)
        return 2
    options = ("image_size", "checks", "cv", "random_state")
    report = diagnose(
        X, y, X_test=X_test, verbose=1, **{k: getattr(args, k) for k in options}
    )
    print(report.to_json(indent=2) if args.json else report.summary())
    if args.html:
        with open(args.html, "w", encoding="utf-8") as page:
            # Files: the thumbnails come from the files the findings name.
            images = None if os.path.isdir(args.path) else X
            page.write(report.to_html(images, page=True))
        print(f"wrote {args.html}", file=sys.stderr)
    return 0 if report.ok else 1


def image_size(text):
    """``--image-size``: "HxW" (height by width) or one side, as diagnose's
    ``image_size``."""
    try:
        sides = tuple(int(side) for side in text.lower().split("x"))
    except ValueError:
        sides = ()
    if len(sides) not in (1, 2) or min(sides) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HxW (height by width, such as 48x64) or one side (64); "
            f"got {text!r}"
        )
    return sides if len(sides) == 2 else sides[0]


def _read_npz(path):
    import numpy as np

    with np.load(path) as data:
        if {"X", "y"} - set(data.files):
            raise ValueError(
                f"{path} has arrays {data.files}; expected 'X' (images) and "
                "'y' (labels), and optionally 'X_test'."
            )
        return data["X"], data["y"], data.get("X_test")


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
        "--epochs",
        type=epochs,
        default="auto",
        help='epochs of each fit, as DropoutCNN\'s epochs (default "auto")',
    )
    p.add_argument("--cv", type=int, default=3, help="diagnosis folds (default 3)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.set_defaults(run=demo)
    p = commands.add_parser(
        "diagnose",
        help="report why accuracy may be low on a folder of images (one "
        "sub-folder per class) or an .npz file (arrays X, y and optionally "
        "X_test); exit status 1 if warnings",
    )
    p.add_argument(
        "path",
        help="a folder path/<class name>/<image files>, or an .npz file made "
        "with np.savez(path, X=..., y=...)",
    )
    p.add_argument(
        "--checks",
        default="all",
        choices=["all", "data", "labels"],
        help="which checks (default all: data and labels)",
    )
    p.add_argument("--cv", type=int, default=3, help="label-check folds (default 3)")
    p.add_argument(
        "--image-size",
        type=image_size,
        metavar="HxW",
        help="decode the files at this size, such as 48x64 (default: the "
        "aspect of most files, at most 64 pixels a side)",
    )
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write the report as one self-contained HTML page, with "
        "thumbnails of the flagged images",
    )
    p.set_defaults(run=diagnose_file)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:  # one line and status 130, no traceback
        print("cnnfix: interrupted (Ctrl-C)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
