"""The default CNN's head at 32 to 224 pixels: Flatten against head="auto".

``build_cnn(input_shape, 10)`` + ``compile_cnn`` (the DropoutCNN default) on
``--n`` random RGB images, batch size 32: parameters, and the time of one
training epoch after a first (warm-up, tracing) epoch, median of
``--repeats``. Where "auto" picks Flatten the two models are the same and
are trained once.

    python benchmarks/bench_architecture.py [--n 256] [--repeats 1] [--sizes 32 64]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from cnnfix.architectures import build_cnn, compile_cnn

SIZES = (32, 64, 128, 224)


def epoch_seconds(model, X, y, repeats):
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)  # traces the graph
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="training images")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, args.n)
    print(f"{args.n} random RGB images, 10 classes, batch size 32, CPU.\n")
    print(
        "| size | auto head | parameters, flatten | parameters, auto "
        "| epoch (s), flatten | epoch (s), auto |"
    )
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        X = rng.random((args.n, size, size, 3), dtype=np.float32)
        row = {}
        for head in ("flatten", "auto"):
            model = compile_cnn(build_cnn((size, size, 3), 10, head=head))
            names = {layer.name for layer in model.layers}
            kind = "global_average" if "global_average" in names else "flatten"
            if head == "auto" and kind == "flatten":
                seconds = row["flatten"][2]  # the same model
            else:
                seconds = epoch_seconds(model, X, y, args.repeats)
            row[head] = (kind, model.count_params(), seconds)
        (_, p_flat, t_flat), (kind, p_auto, t_auto) = row["flatten"], row["auto"]
        print(
            f"| {size}x{size} | {kind} | {p_flat:,} | {p_auto:,} "
            f"| {t_flat:.2f} | {t_auto:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
