"""Write Fashion-MNIST as PNG files in a class-folder tree, for bench_images.py.

The tree is ``OUT/<class name>/<index>.png`` (the layout
:func:`cnnfix.datasets.load_image_folder` reads): all 70,000 images, the
60,000 training images first (indices 0-59999) and the 10,000 test images
after them (``--limit`` keeps the first N). ``--size`` upscales (bilinear) and
``--rgb`` writes three-channel files, for a variant closer to photos.
Fashion-MNIST comes from ``apt-get install -y dataset-fashion-mnist``.

    python benchmarks/make_image_folder.py OUT [--limit 10000] [--size 64] [--rgb]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from cnnfix.datasets import load_fashion_mnist

#: Fashion-MNIST's class names, usable as folder names.
CLASS_NAMES = (
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)


def write_tree(out, *, limit=None, size=None, rgb=False):
    """Write the images as PNG files under ``out``; return how many."""
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist()
    X = np.concatenate([X_train, X_test])[:limit, ..., 0]
    y = np.concatenate([y_train, y_test])[:limit]
    out = Path(out)
    for name in CLASS_NAMES:
        (out / name).mkdir(parents=True, exist_ok=True)
    for i, (pixels, label) in enumerate(zip(X, y, strict=True)):
        image = Image.fromarray(pixels)
        if size:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        if rgb:
            image = image.convert("RGB")
        image.save(out / CLASS_NAMES[label] / f"{i:05d}.png")
    return len(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the tree into")
    parser.add_argument("--limit", type=int, default=None, help="first N images")
    parser.add_argument("--size", type=int, default=None, help="side in pixels")
    parser.add_argument("--rgb", action="store_true", help="three channels")
    args = parser.parse_args()
    n = write_tree(args.out, limit=args.limit, size=args.size, rgb=args.rgb)
    print(f"Wrote {n} PNG files under {args.out}")


if __name__ == "__main__":
    main()
