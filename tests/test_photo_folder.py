"""benchmarks/make_photo_folder.py writes the photo folder the photo
benchmark and the diagnose tests measure: mixed sizes, real photos, planted
faults, the same files for the same seed."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "make_photo_folder.py"


@pytest.fixture(scope="module")
def make_photo_folder():
    spec = importlib.util.spec_from_file_location("make_photo_folder", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folder(make_photo_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("photos")
    planted = make_photo_folder.write_photo_folder(out, seed=3, per_class=6)
    return out, planted


def _files(out):
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name != "planted.json")


def test_the_photos_are_mixed_sizes_of_both_formats_and_orientations(folder):
    out, planted = folder
    faults = {
        out / p for key in ("dark", "corrupt", "tiny", "text") for p in planted[key]
    }
    photos = [p for p in _files(out) if p not in faults]
    assert {p.parent.name for p in photos} == {"people", "places", "things"}
    assert len(photos) == 3 * 6
    sizes = []
    for path in photos:
        with Image.open(path) as image:
            assert image.mode == "RGB"
            sizes.append(image.size)
    assert all(150 <= side <= 400 for size in sizes for side in size)
    assert {w > h for w, h in sizes} == {True, False}  # landscape and portrait
    assert {p.suffix for p in photos} == {".jpg", ".png"}


def test_the_planted_faults_are_listed_and_are_what_they_say(folder):
    out, planted = folder
    assert json.loads((out / "planted.json").read_text()) == planted
    assert len(planted["dark"]) == 10
    for path in planted["dark"]:
        with Image.open(out / path) as image:
            assert np.asarray(image).mean() < 20
    with Image.open(out / planted["tiny"][0]) as image:
        assert image.size == (8, 8)
    with pytest.raises(OSError), Image.open(out / planted["corrupt"][0]) as image:
        image.load()
    assert (out / planted["text"][0]).suffix == ".txt"
    sources = [set(names) for names in planted["sources"].values()]
    assert sum(map(len, sources)) == len(set().union(*sources))  # no shared photo


def test_the_same_seed_writes_the_same_files(make_photo_folder, folder, tmp_path):
    out, planted = folder
    again = make_photo_folder.write_photo_folder(tmp_path / "a", seed=3, per_class=6)
    assert again == planted
    first, second = _files(out), _files(tmp_path / "a")
    assert [p.relative_to(out) for p in first] == [
        p.relative_to(tmp_path / "a") for p in second
    ]
    assert all(
        a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True)
    )
    other = make_photo_folder.write_photo_folder(tmp_path / "b", seed=4, per_class=6)
    assert other["dark"] != planted["dark"]


def test_without_scikit_image_each_class_keeps_its_own_photo(
    make_photo_folder, monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    planted = make_photo_folder.write_photo_folder(tmp_path, per_class=2)
    assert planted["sources"] == {
        "people": ["grace_hopper.jpg"],
        "places": ["china.jpg"],
        "things": ["flower.jpg"],
    }
