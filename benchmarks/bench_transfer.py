"""TransferCNN on few images: pretrained backbone against training from scratch.

No ImageNet weights are reachable here, so the pretraining is done in this
script and labelled as such: a backbone is trained from random weights with
plain Keras on the Fashion-MNIST training images of classes 0-4 (28x28 grey
images repeated to RGB, as TransferCNN does), and its weights are saved to
a file. ``--backbone conv`` (the default) is a small CNN of one's own, six
3x3 convolutions with batch normalisation (32, 64, 128 filters), passed to
TransferCNN as a callable; ``--backbone mobilenet`` is MobileNetV3Small,
resized to 32x32 inside the model. Then, on classes 5-9 with
``--per-class`` training images per class (3 seeds each), the test accuracy
on all test images of classes 5-9 of:

- TransferCNN(weights=<that file>): the two-phase default;
- TransferCNN(weights=None): the same network from random weights;
- DropoutCNN(): the default small CNN from scratch;
- head only: TransferCNN(weights=<file>, fine_tune_layers=0);
- all at once: TransferCNN(weights=<file>, head_epochs=0) (no head phase,
  every layer trainable from the start).

    python benchmarks/bench_transfer.py [--quick] [--backbone {conv,mobilenet}]
        [--per-class 20 50] [--seeds 3]

Progress goes to stderr; the Markdown report to stdout.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from cnnfix import DropoutCNN
from cnnfix.datasets import load_fashion_mnist
from cnnfix.transfer import TransferCNN

METHODS = ("two-phase", "weights=None", "DropoutCNN", "head only", "all at once")


def progress(*args):
    print(*args, file=sys.stderr, flush=True)


def conv_backbone(input_shape):
    """A small CNN without a top: pixels 0-255 in, a 7x7x128 feature map out
    for 28x28 images. Its layers are named, so its weights file loads into
    the same network built anywhere."""
    import keras

    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    for block, filters in enumerate((32, 64, 128)):
        for i in range(2):
            name = f"block{block}_{i}"
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            x = layers.ReLU(name=f"{name}_relu")(x)
        if block < 2:
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name="backbone")


def mobilenet_backbone():
    import keras

    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), include_top=False, weights=None, name="backbone"
    )
    # Keras's MobileNetV3 averages batch statistics with momentum 0.999, which
    # needs many thousands of steps: after a short pretraining the moving
    # statistics are still near their start, and in inference mode (how
    # TransferCNN runs a pretrained backbone) the features are noise, the
    # validation accuracy at chance. 0.9 follows the batches within ~50 steps.
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    return backbone


def pretrain(X, y, path, *, backbone, epochs, seed):
    """Train ``backbone`` ("conv" or "mobilenet", random start) on (X, y)
    with plain Keras and save its weights to ``path``; return the best
    validation accuracy."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=X.shape[1:])
    if backbone == "mobilenet":
        network = mobilenet_backbone()
        x = keras.layers.Resizing(32, 32)(inputs)
    else:
        network, x = conv_backbone((*X.shape[1:3], 3)), inputs
    x = keras.layers.Concatenate()([x, x, x])
    x = network(x)  # training mode: batch normalisation learns its statistics
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(len(np.unique(y)), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        X,
        y,
        epochs=epochs,
        batch_size=128,
        validation_split=0.1,
        verbose=2,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
        ],
    )
    network.save_weights(path)
    return max(history.history["val_accuracy"])


def estimators(backbone, weights, seed, quick):
    """The five methods, seeded alike."""
    transfer = dict(random_state=seed)
    if backbone == "conv":
        transfer["backbone"] = conv_backbone
    if quick:
        transfer.update(head_epochs=1, epochs=1)
    return {
        "two-phase": TransferCNN(weights=weights, **transfer),
        "weights=None": TransferCNN(weights=None, **transfer),
        "DropoutCNN": DropoutCNN(random_state=seed, epochs=2 if quick else 100),
        "head only": TransferCNN(weights=weights, fine_tune_layers=0, **transfer),
        "all at once": TransferCNN(weights=weights, **{**transfer, "head_epochs": 0}),
    }


def sample(y, per_class, rng):
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), per_class, replace=False)
            for c in range(5, 10)
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--backbone", choices=["conv", "mobilenet"], default="conv")
    parser.add_argument("--per-class", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    args = parser.parse_args()
    start = time.perf_counter()

    (X_train, y_train), (X_test, y_test) = load_fashion_mnist()
    old = y_train < 5
    new_test = y_test >= 5
    X_test, y_test = X_test[new_test], y_test[new_test]
    X_old, y_old = X_train[old], y_train[old]
    seeds = range(args.seeds)
    if args.quick:
        X_old, y_old = X_old[:500], y_old[:500]
        X_test, y_test = X_test[:500], y_test[:500]
        seeds = range(1)
        args.per_class = args.per_class[:1]
        args.pretrain_epochs = 1

    with tempfile.TemporaryDirectory(prefix="cnnfix-bench-") as tmp:
        path = Path(tmp) / f"{args.backbone}_fashion_0_4.weights.h5"
        progress(f"pretraining on {len(y_old)} images of classes 0-4 ...")
        t0 = time.perf_counter()
        pretrain_accuracy = pretrain(
            X_old,
            y_old,
            path,
            backbone=args.backbone,
            epochs=args.pretrain_epochs,
            seed=0,
        )
        pretrain_seconds = time.perf_counter() - t0
        progress(f"pretrained: val accuracy {pretrain_accuracy:.3f}")

        results = {}  # (per_class, method) -> [(accuracy, seconds, epochs)]
        for per_class in args.per_class:
            for seed in seeds:
                rng = np.random.default_rng(seed)
                idx = sample(y_train, per_class, rng)
                X, y = X_train[idx], y_train[idx]
                methods = estimators(args.backbone, str(path), seed, args.quick)
                for method, clf in methods.items():
                    t0 = time.perf_counter()
                    clf.fit(X, y)
                    seconds = time.perf_counter() - t0
                    accuracy = clf.score(X_test, y_test)
                    epochs = getattr(clf, "phase_epochs_", (clf.n_epochs_,))
                    results.setdefault((per_class, method), []).append(
                        (accuracy, seconds, epochs)
                    )
                    progress(
                        f"{per_class}/class seed {seed} {method}: {accuracy:.3f} "
                        f"({seconds:.0f} s, epochs {epochs})"
                    )

    n_seeds = len(seeds)
    name = {"conv": "A small CNN", "mobilenet": "MobileNetV3Small"}[args.backbone]
    print(
        f"{name} pretrained here on Fashion-MNIST classes 0-4, not "
        f"ImageNet ({len(y_old)} images, {pretrain_seconds:.0f} s, validation "
        f"accuracy {pretrain_accuracy:.3f}); then fitted on classes 5-9 with few "
        f"training images per class; test accuracy on {len(y_test)} test images "
        f"of classes 5-9, mean (min-max) over {n_seeds} seeds. CPU.\n"
    )
    print("| method | " + " | ".join(f"{n}/class" for n in args.per_class) + " |")
    print("|---|" + "---|" * len(args.per_class))
    for method in METHODS:
        cells = []
        for per_class in args.per_class:
            accuracies = [a for a, _, _ in results[(per_class, method)]]
            cells.append(
                f"{statistics.mean(accuracies):.3f} "
                f"({min(accuracies):.3f}-{max(accuracies):.3f})"
            )
        print(f"| {method} | " + " | ".join(cells) + " |")
    print("\nMean fit time (s) and epochs run (phase one, phase two) per method:\n")
    print("| method | " + " | ".join(f"{n}/class" for n in args.per_class) + " |")
    print("|---|" + "---|" * len(args.per_class))
    for method in METHODS:
        cells = []
        for per_class in args.per_class:
            runs = results[(per_class, method)]
            seconds = statistics.mean(s for _, s, _ in runs)
            epochs = ", ".join(str(e) for _, _, e in runs)
            cells.append(f"{seconds:.0f} s; {epochs}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    progress(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
