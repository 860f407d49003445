"""Idle time in ``model.fit`` on arrays: Keras's own adapters against cnnfix's.

    python benchmarks/bench_input.py [--images 54000] [--epochs 3]

Keras makes a new ``tf.data`` iterator every epoch. When it drops the old
one, a pipeline with autotuning on waits for its tuning thread's next
round, which TensorFlow spaces out up to a minute; cnnfix's pipelines run
without autotuning (``cnnfix/_input/datasets.py``). Both fits train
DropoutCNN's default network (``bench_throughput.plain_model``)
on the same ``--images`` Fashion-MNIST training images, with 2,000 more as
validation data, for ``--epochs`` epochs, each fit in a fresh process:

- **Keras arrays**: ``model.fit(X, y, validation_data=(X_val, y_val))``;
- **cnnfix pipeline**: the same fit on ``array_dataset`` pipelines, as
  DropoutCNN makes them;
- **streamed balancing, Keras PyDataset**: the batches of
  ``ClassBalancer(stream=True)`` (``balanced_batches``, a
  ``keras.utils.PyDataset``) given to ``model.fit`` as they are;
- **streamed balancing, cnnfix pipeline**: the same batches through
  ``batch_dataset``, as DropoutCNN gives them.

Reported: each epoch's wall time, and the time of the whole ``fit`` beyond
its epochs (the iterator dropped after the last epoch). The wait appears
once an iterator has lived longer than the tuning thread's sleep, so short
epochs show little of it and it varies from run to run.

Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODES = {
    "keras": "Keras arrays",
    "cnnfix": "cnnfix pipeline",
    "pydataset": "streamed balancing, Keras PyDataset",
    "stream": "streamed balancing, cnnfix pipeline",
}
VALIDATION = 2000


def one_fit(mode, n_images, epochs):
    """Train in this process; return the epoch times and the fit's time."""
    import keras
    from bench_paths import EpochTimer
    from bench_throughput import plain_model

    from cnnfix import ClassBalancer, DropoutCNN
    from cnnfix._input.batches import balanced_batches
    from cnnfix._input.datasets import array_dataset, batch_dataset
    from cnnfix.datasets import load_fashion_mnist

    (X, y), _ = load_fashion_mnist()
    X = X[: n_images + VALIDATION].astype("float32") / 255
    y = y[: n_images + VALIDATION]
    X_val, y_val = X[-VALIDATION:], y[-VALIDATION:]
    X, y = X[:-VALIDATION], y[:-VALIDATION]
    keras.utils.set_random_seed(0)
    params = DropoutCNN().get_params()
    model = plain_model(X, params)
    batch = params["batch_size"]
    timer = EpochTimer()
    start = time.perf_counter()
    if mode == "keras":
        data = dict(x=X, y=y, batch_size=batch, validation_data=(X_val, y_val))
    else:
        validation = array_dataset(X_val, y_val, None, batch_size=batch, shuffle=False)
        data = dict(shuffle=False, validation_data=validation)  # they order rows
    if mode == "cnnfix":
        data["x"] = array_dataset(X, y, None, batch_size=batch, shuffle=True, seed=0)
    elif mode != "keras":
        balancer = ClassBalancer(stream=True, random_state=0).fit(X, y)
        batches = balanced_batches(X, y, balancer, batch_size=batch)
        data["x"] = batches if mode == "pydataset" else batch_dataset(batches)
    model.fit(**data, epochs=epochs, callbacks=[timer], verbose=0)
    del model  # dropping the fit's last iterators counts as the fit's time
    return {"epochs": timer.times, "fit": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=54000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_fit(args.child, args.images, args.epochs)))
        return
    print(
        f"Fashion-MNIST, {args.images:,} training and {VALIDATION:,} validation "
        f"images, DropoutCNN's default network, {args.epochs} epochs, one fresh "
        "process per fit.",
        flush=True,
    )
    rows = []
    sizes = ["--images", str(args.images), "--epochs", str(args.epochs)]
    for mode, name in MODES.items():
        child = subprocess.run(
            [sys.executable, __file__, "--child", mode, *sizes],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        beyond = result["fit"] - sum(result["epochs"])
        epochs = ", ".join(f"{t:.1f}" for t in result["epochs"])
        rows.append((name, epochs, beyond, result["fit"]))
        print(f"{name}: epochs {epochs} s; fit {result['fit']:.1f} s", flush=True)
    print()
    print("| fit on | epoch times (s) | beyond the epochs (s) | fit (s) |")
    print("|---|---|---|---|")
    for name, epochs, beyond, fit in rows:
        print(f"| {name} | {epochs} | {beyond:.1f} | {fit:.1f} |")
    print()
    fits = {mode: row[3] for mode, row in zip(MODES, rows, strict=True)}
    print(
        "cnnfix pipeline / Keras arrays, fit time: "
        f"{fits['cnnfix'] / fits['keras']:.3f}"
    )
    print(
        "streamed balancing, cnnfix pipeline / Keras PyDataset, fit time: "
        f"{fits['stream'] / fits['pydataset']:.3f}"
    )


if __name__ == "__main__":
    main()
