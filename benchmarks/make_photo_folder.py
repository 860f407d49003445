"""Write a folder of ordinary colour photos with planted faults, for bench_photos.py.

The tree is ``OUT/<class>/<name>.jpg|.png``, three classes of ``--per-class``
photos each (120 by default), JPEG and PNG, every side between 150 and 400
px, portrait and landscape. The photos are crops of real photos that ship
inside installed packages: scikit-learn's sample images, matplotlib's sample
data and, when scikit-image is installed (a benchmark-only dependency),
``skimage.data``. Each class is cut from its own source photos, so the
classes can be learnt from the pixels but are not one image each:

- ``people``: Grace Hopper (matplotlib), the astronaut (scikit-image);
- ``places``: the Chinese temple (scikit-learn), the rocket (scikit-image);
- ``things``: the flower (scikit-learn), the coffee cup and the cat
  (scikit-image).

Every photo is a random crop (a fifth to nine tenths of the source's area,
any aspect from 3:5 to 5:3), maybe flipped, with its brightness, contrast and
saturation jittered, resized to a random size. The planted faults are added
to the class folders: a truncated JPEG, a ``.txt`` file, an 8x8 image and ten
very dark photos. ``OUT/planted.json`` lists them (paths relative to OUT)
with the sources and the seed. The same seed writes the same files; it takes
a few seconds.

    python benchmarks/make_photo_folder.py OUT [--seed 0] [--per-class 120]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.cbook import get_sample_data
from PIL import Image, ImageEnhance, ImageOps
from sklearn.datasets import load_sample_image

#: Each class's source photos: (package, name) pairs, read by ``_source``.
SOURCES = {
    "people": (("matplotlib", "grace_hopper.jpg"), ("skimage", "astronaut")),
    "places": (("sklearn", "china.jpg"), ("skimage", "rocket")),
    "things": (
        ("sklearn", "flower.jpg"),
        ("skimage", "coffee"),
        ("skimage", "chelsea"),
    ),
}
#: The range of either side of a written photo, in pixels.
SIDES = (150, 400)
#: How many very dark photos are planted, spread over the classes.
N_DARK = 10


def _source(package, name):
    """One source photo as an RGB Pillow image, or None if its package is
    not installed."""
    if package == "sklearn":
        return Image.fromarray(load_sample_image(name))
    if package == "matplotlib":
        with get_sample_data(name, asfileobj=True) as f:
            return Image.open(f).convert("RGB")
    try:
        import skimage.data
    except ImportError:
        return None
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def load_sources():
    """The source photos of each class; a class keeps at least its
    scikit-learn or matplotlib photo when scikit-image is missing."""
    sources = {}
    for label, names in SOURCES.items():
        loaded = [(name, _source(package, name)) for package, name in names]
        sources[label] = [(name, image) for name, image in loaded if image is not None]
    return sources


def random_photo(rng, source):
    """A random crop of ``source``: flipped or not, colour-jittered and
    resized so that both sides lie within ``SIDES``."""
    width, height = source.size
    area = rng.uniform(0.2, 0.9) * width * height
    aspect = np.exp(rng.uniform(np.log(3 / 5), np.log(5 / 3)))  # width / height
    crop_w = int(min(width, np.sqrt(area * aspect)))
    crop_h = int(min(height, np.sqrt(area / aspect)))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    image = source.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    for enhancer in (
        ImageEnhance.Brightness,
        ImageEnhance.Contrast,
        ImageEnhance.Color,
    ):
        image = enhancer(image).enhance(rng.uniform(0.7, 1.3))
    elongation = max(crop_w, crop_h) / min(crop_w, crop_h)
    shortest = min(SIDES[1], max(SIDES[0] + 50, int(np.ceil(SIDES[0] * elongation))))
    long_side = rng.integers(shortest, SIDES[1] + 1)
    ratio = max(crop_w, crop_h) / long_side
    size = [max(SIDES[0], min(SIDES[1], round(s / ratio))) for s in (crop_w, crop_h)]
    return image.resize(size, Image.Resampling.BILINEAR)


def _save(image, path, rng):
    if path.suffix == ".jpg":
        image.save(path, quality=int(rng.integers(75, 96)))
    else:
        image.save(path)


def write_photo_folder(out, *, seed=0, per_class=120):
    """Write the photo folder under ``out`` and return the planted faults
    (also written to ``out/planted.json``)."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    sources = load_sources()
    labels = sorted(sources)
    n_files = len(labels) * per_class + N_DARK + 2
    numbers = iter(rng.permutation(np.arange(1000, 1000 + n_files)))

    def new_path(label, suffix=None):
        suffix = suffix or (".png" if rng.random() < 0.3 else ".jpg")
        return out / label / f"IMG_{next(numbers)}{suffix}"

    def photo(label):
        names = sources[label]
        return random_photo(rng, names[int(rng.integers(len(names)))][1])

    for label in labels:
        (out / label).mkdir(parents=True, exist_ok=True)
        for _ in range(per_class):
            _save(photo(label), new_path(label), rng)
    planted = {"dark": [], "seed": seed}
    for i in range(N_DARK):
        label = labels[i % len(labels)]
        dark = ImageEnhance.Brightness(photo(label)).enhance(rng.uniform(0.03, 0.08))
        path = new_path(label)
        _save(dark, path, rng)
        planted["dark"].append(path)
    tiny = new_path(labels[0], ".png")
    photo(labels[0]).resize((8, 8), Image.Resampling.BILINEAR).save(tiny)
    truncated = new_path(labels[1], ".jpg")
    _save(photo(labels[1]), truncated, rng)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    text = out / labels[2] / "notes.txt"
    text.write_text("Photos for the cnnfix benchmark; not an image.\n")
    planted.update(
        corrupt=[truncated],
        tiny=[tiny],
        text=[text],
        per_class=per_class,
        sources={label: [name for name, _ in sources[label]] for label in labels},
    )
    planted = {
        key: [str(p.relative_to(out)) for p in value]
        if isinstance(value, list)
        else value
        for key, value in planted.items()
    }
    (out / "planted.json").write_text(json.dumps(planted, indent=2) + "\n")
    return planted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the photos into")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--per-class", type=int, default=120, help="photos a class")
    args = parser.parse_args()
    planted = write_photo_folder(args.out, seed=args.seed, per_class=args.per_class)
    sources = "; ".join(f"{k}: {', '.join(v)}" for k, v in planted["sources"].items())
    print(
        f"Wrote {3 * args.per_class} photos and the planted faults under "
        f"{args.out} (sources: {sources}); see {args.out}/planted.json"
    )


if __name__ == "__main__":
    main()
