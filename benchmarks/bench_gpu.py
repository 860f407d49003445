"""Images per second on a GPU: arrays and file paths, float32 and mixed (#13).

Needs a GPU; on a machine without one it says so and measures nothing, so
the GPU numbers stay "still to be measured" until a run on a GPU machine.
On a class-folder tree of PNG files (``make_image_folder.py``; Fashion-MNIST
at 28x28 grey or 64x64 RGB), DropoutCNN (defaults, ``validation_split=0``,
no early stopping, ``--batch-size``) trains ``--epochs`` epochs on:

- the decoded in-memory array (``load_image_folder``), and
- the file paths (``as_paths=True``), decoded on the fly by cnnfix's input
  pipeline,

each with ``precision="float32"`` and ``precision="mixed"``. Images per
second are over the epochs after the first (which builds and traces the
model), median over ``--repeats`` alternating runs.

The input/compute split: the input pipeline alone (the same batches of
the paths, decoded and iterated with nothing training) against a training
step on the array. When the input alone delivers images faster than
training consumes them, the pipeline keeps the GPU busy; the table gives
both per batch.

    python benchmarks/bench_gpu.py TREE [--epochs 3] [--batch-size 128]
    python benchmarks/bench_gpu.py SMALL_TREE --epochs 2 --repeats 1 --smoke
    python benchmarks/bench_gpu.py TREE --distribution mirrored   # + every GPU

With ``--distribution mirrored`` one more row trains on the array with
``distribution="mirrored"``: one fit over every GPU of the machine, the
batch size being the global batch. Not run yet: no GPU machine so far.
"""

import argparse
import os
import statistics
import time

import numpy as np
from bench_paths import EpochTimer, later_epochs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def input_only_seconds(clf, paths, y, epochs):
    """Seconds per epoch of the paths' input pipeline with nothing training:
    the fit arguments DropoutCNN would pass to Keras, iterated."""
    from cnnfix._input.pipeline import training_arguments

    classes, codes = np.unique(y, return_inverse=True)
    arguments, _ = training_arguments(
        paths,
        codes.astype(np.int32),
        None,
        classes=classes,
        balancer=None,
        batch_size=clf.batch_size,
        seed=0,
        image_shape=clf.image_shape_,
        cache=False,
    )
    source = arguments["x"]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        if hasattr(source, "__len__") and hasattr(source, "__getitem__"):
            for i in range(len(source)):
                source[i]
            if hasattr(source, "on_epoch_end"):
                source.on_epoch_end()
        else:  # a tf.data.Dataset
            for _batch in source:
                pass
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:] or times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", help="a class-folder tree of PNG files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--smoke", action="store_true", help="run on the CPU: checks the script only"
    )
    parser.add_argument(
        "--distribution",
        choices=["mirrored"],
        help='add a float32 row on the array with distribution="mirrored" '
        "(every GPU; the batch size is the global batch)",
    )
    args = parser.parse_args()

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.smoke:
        print(
            "No GPU on this machine: nothing measured. The GPU numbers are "
            "still to be measured (run this script on a GPU machine)."
        )
        return
    details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}

    from cnnfix import DropoutCNN
    from cnnfix.datasets import load_image_folder

    paths, y = load_image_folder(args.tree, as_paths=True)
    X, _ = load_image_folder(args.tree)
    size = X.shape[1:3]
    runs = {}
    fitted = None
    for _ in range(args.repeats):
        for precision in ("float32", "mixed"):
            for name, data in (("array", X), ("paths", paths)):
                timer = EpochTimer()
                clf = DropoutCNN(
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    validation_split=0.0,
                    early_stopping=False,
                    image_size=size,
                    precision=precision,
                    random_state=0,
                    callbacks=[timer],
                ).fit(data, y)
                runs.setdefault((name, precision), []).extend(later_epochs(timer))
                fitted = clf
        if args.distribution:  # one fit over every GPU
            timer = EpochTimer()
            DropoutCNN(
                epochs=args.epochs,
                batch_size=args.batch_size,
                validation_split=0.0,
                early_stopping=False,
                image_size=size,
                random_state=0,
                callbacks=[timer],
                distribution=args.distribution,
            ).fit(X, y)
            name = f"array, {args.distribution} over {max(len(gpus), 1)} device(s)"
            runs.setdefault((name, "float32"), []).extend(later_epochs(timer))
    seconds = {k: statistics.median(v) for k, v in runs.items()}
    feeding = input_only_seconds(fitted, paths, y, args.epochs)
    batches = -(-len(paths) // args.batch_size)

    print(
        f"{details.get('device_name', 'GPU')} ({len(gpus)} GPU(s) visible"
        f"{'; a smoke run on the CPU, not GPU numbers' if not gpus else ''}); "
        f"{len(paths):,} files of {size[0]}x{size[1]}x{X.shape[3]} from "
        f"{args.tree}; batch size {args.batch_size}; median of epochs "
        f"2-{args.epochs} over {args.repeats} run(s).\n"
    )
    print("| training on | precision | images/s | ms per step |")
    print("|---|---|---|---|")
    for (name, precision), s in sorted(seconds.items()):
        print(
            f"| {name} | {precision} | {len(paths) / s:,.0f} | "
            f"{1000 * s / batches:.1f} |"
        )
    print(
        f"\nInput vs compute, per batch of {args.batch_size}: the paths' input "
        f"pipeline alone (nothing training) {1000 * feeding / batches:.1f} ms "
        f"({len(paths) / feeding:,.0f} images/s); a float32 training step on "
        f"the array {1000 * seconds[('array', 'float32')] / batches:.1f} ms, a "
        f"mixed one {1000 * seconds[('array', 'mixed')] / batches:.1f} ms. The "
        "pipeline keeps the GPU busy when its time per batch is below the "
        "step's."
    )


if __name__ == "__main__":
    main()
