"""File-level checks of diagnose on image files (cnnfix.diagnostics.files).

The trees are real files written into tmp_path: colour and grey PNGs of
digits upscaled with Pillow, odd-sized ones, a panorama, and corrupt files.
"""

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnfix.datasets import list_image_folder, read_headers
from cnnfix.diagnostics import DataThresholds, Finding
from cnnfix.diagnostics.files import check_files, name_files, summarize_files
from cnnfix.exceptions import UnreadableImageError

from .conftest import fashion_mnist
from .test_images import snapshot


def colour_digit(image, tint):
    grey = Image.fromarray((image[..., 0] * 15).astype(np.uint8)).resize((24, 24))
    return np.stack([np.asarray(grey) * t for t in tint], axis=-1).astype(np.uint8)


@pytest.fixture
def photo_tree(tmp_path, digits):
    """Two classes ("ring", "stud") of 24x24 colour digits; the planted
    faults: one grey image, one 6x6 thumbnail, one 24x80 panorama, one file
    that is not an image and one truncated PNG. Returns root and the names
    of the planted files."""
    X, y = digits
    root = tmp_path / "parts"
    for name in ("ring", "stud"):
        (root / name).mkdir(parents=True)
    for i in range(24):
        label = "ring" if y[i] % 2 else "stud"
        Image.fromarray(colour_digit(X[i], (1, 0.5, 0.2))).save(
            root / label / f"{i:02d}.png"
        )
    grey = Image.fromarray((X[30, ..., 0] * 15).astype(np.uint8)).resize((24, 24))
    grey.save(root / "ring/grey.png")
    Image.fromarray(colour_digit(X[31], (1, 1, 1))).resize((6, 6)).save(
        root / "stud/thumb.png"
    )
    Image.fromarray(colour_digit(X[32], (1, 0, 0))).resize((80, 24)).save(
        root / "stud/panorama.png"
    )
    (root / "ring/fake.png").write_bytes(b"this is not a PNG")
    data = (root / "stud/00.png").read_bytes()
    (root / "stud/truncated.png").write_bytes(data[: len(data) // 2])
    planted = {"grey.png", "thumb.png", "panorama.png", "fake.png", "truncated.png"}
    return root, planted


def test_planted_file_faults_are_named(photo_tree):
    root, _ = photo_tree
    before = snapshot(root)
    paths, _ = list_image_folder(root)
    summary, kept, findings = summarize_files(paths)
    by_code = {f.code: f for f in findings}

    unreadable = {Path(paths[i]).name for i in by_code["unreadable_files"].indices}
    assert unreadable == {"fake.png", "truncated.png"}
    assert by_code["unreadable_files"].severity == "error"
    odd = [Path(paths[i]).name for i in by_code["odd_image_sizes"].indices]
    assert sorted(odd) == ["panorama.png", "thumb.png"]
    grey = [Path(paths[i]).name for i in by_code["grey_images"].indices]
    assert grey == ["grey.png"]
    # Every readable file is decoded, at the common size, in colour.
    assert len(summary) == len(kept) == len(paths) - 2
    assert summary.image_shape == (24, 24, 3)
    assert {Path(paths[i]).name for i in kept} & unreadable == set()
    assert snapshot(root) == before  # nothing on disk touched


def test_clean_tree_has_no_file_findings(tmp_path, digits):
    X, y = digits
    for i in range(12):
        path = tmp_path / f"c{y[i] % 2}" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(colour_digit(X[i], (0.3, 1, 0.6))).save(path)
    paths, _ = list_image_folder(tmp_path)
    summary, kept, findings = summarize_files(paths)
    assert findings == []
    assert kept.tolist() == list(range(12))
    assert (len(summary), summary.image_shape) == (12, (24, 24, 3))


def test_aspect_threshold_is_a_factor_both_ways():
    # Common 100x100; 100x140 (1.4x) is within odd_aspect, 100x160 is not,
    # and so is 160x100 (taller instead of wider).
    assert 1.4 < DataThresholds().odd_aspect < 1.6
    sizes = np.array([[100, 100]] * 5 + [[100, 140], [100, 160], [160, 100]])
    grey = np.zeros(len(sizes), bool)
    (finding,) = check_files(
        [f"{i}.png" for i in range(8)], sizes, grey, {}, (100, 100)
    )
    assert sorted(finding.indices) == [6, 7]
    assert finding.evidence["n_odd_aspect"] == 2


def test_a_grey_dataset_has_no_grey_finding():
    sizes = np.full((6, 2), 10)
    grey = np.array([True] * 5 + [False])
    assert check_files(list("abcdef"), sizes, grey, {}, (10, 10)) == []


def test_name_files_maps_positions_back_to_paths():
    paths = np.array(["a.png", "b.png", "c.png", "d.png"], dtype=object)
    kept = np.array([0, 2, 3])  # b.png could not be read
    pixel = Finding("dark_images", "warning", "dark", indices=[2, 0])
    file = Finding("unreadable_files", "error", "bad", indices=[1])
    name_files([pixel, file], paths, kept)
    assert pixel.indices == [3, 0] and pixel.paths == ["d.png", "a.png"]
    assert file.indices == [1] and file.paths == ["b.png"]


def test_name_files_maps_the_evidence_examples_too():
    paths = np.array(["a.png", "b.png", "c.png", "d.png"], dtype=object)
    kept = np.array([0, 2, 3])  # b.png could not be read
    pairs = Finding(
        "near_duplicates", "info", "near", {"examples": [[1, 2]]}, indices=[1, 2]
    )
    groups = Finding(
        "conflicting_labels",
        "error",
        "conflict",
        {"examples": [{"indices": [0, 1], "labels": ["x", "y"]}]},
        indices=[0, 1],
    )
    name_files([pairs, groups], paths, kept)
    assert pairs.evidence["examples"] == [[2, 3]] == [pairs.indices]
    assert groups.evidence["examples"] == [{"indices": [0, 2], "labels": ["x", "y"]}]
    assert groups.paths == ["a.png", "c.png"]


def test_nothing_readable_is_an_error_that_names_the_files(tmp_path):
    bad = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in bad:
        path.write_bytes(b"no")
    with pytest.raises(UnreadableImageError, match=r"a\.png"):
        summarize_files(np.array([str(p) for p in bad], dtype=object))


def test_read_headers_reads_sizes_without_decoding(photo_tree):
    root, _ = photo_tree
    paths, _ = list_image_folder(root)
    sizes, grey, failed = read_headers(paths)
    names = [Path(p).name for p in paths]
    assert sizes[names.index("panorama.png")].tolist() == [24, 80]
    assert sizes[names.index("thumb.png")].tolist() == [6, 6]
    assert grey[names.index("grey.png")] and not grey[names.index("00.png")]
    # The truncated PNG has a readable header: only decoding finds it.
    assert {names[i] for i in failed} == {"fake.png"}


def test_diagnose_on_paths_names_the_files(photo_tree):
    from cnnfix import diagnose

    root, _ = photo_tree
    # A copy of a file in the other class: exact duplicates, conflicting labels.
    (root / "ring/copy.png").write_bytes((root / "stud/00.png").read_bytes())
    before = snapshot(root)
    paths, labels = list_image_folder(root)
    report = diagnose(list(paths), labels, checks="data")

    names = {f.code: [Path(p).name for p in f.paths] for f in report.findings}
    assert sorted(names["unreadable_files"]) == ["fake.png", "truncated.png"]
    assert sorted(names["odd_image_sizes"]) == ["panorama.png", "thumb.png"]
    assert names["grey_images"] == ["grey.png"]
    assert sorted(names["conflicting_labels"]) == ["00.png", "copy.png"]
    for finding in report.findings:  # indices are positions in the paths
        assert finding.paths == [paths[i] for i in finding.indices]
    assert report.details["n_samples"] == len(paths)
    assert "files:" in report.summary()

    fixed = report.apply(paths, labels)
    dropped = set(paths) - set(fixed.X)
    assert {Path(p).name for p in dropped} == {
        "fake.png",
        "truncated.png",
        "00.png",
        "copy.png",
    }
    assert snapshot(root) == before


def test_diagnose_reads_test_files_like_the_training_files(tmp_path, digits):
    from cnnfix import diagnose

    X, y = digits
    for i in range(20):
        path = tmp_path / "train" / f"c{y[i] % 2}" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(colour_digit(X[i], (1, 0.4, 0.4))).save(path)
    leaked = tmp_path / "test" / "leaked.png"
    leaked.parent.mkdir()
    leaked.write_bytes((tmp_path / "train/c0/0.png").read_bytes())
    Image.fromarray(colour_digit(X[40], (1, 0.4, 0.4))).save(tmp_path / "test/new.png")
    paths, labels = list_image_folder(tmp_path / "train")
    report = diagnose(
        paths, labels, X_test=[leaked, tmp_path / "test/new.png"], checks="data"
    )
    assert report.has("train_test_leakage")
    assert report["train_test_leakage"].paths == [str(tmp_path / "train/c0/0.png")]


# -- streaming the pixel checks over files -----------------------------------


def _tinted(images):
    """Grey uint8 images (n, h, w) as colour ones, a different tint each."""
    tints = np.random.default_rng(0).uniform(0.3, 1.0, (len(images), 1, 1, 3))
    return (images[..., None] * tints).astype(np.uint8)


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("block", [None, 100])
def test_a_summary_of_chunks_equals_the_summary_of_the_array(colour, block):
    from cnnfix.diagnostics.summary import BLOCK_PIXELS, summarize, summarize_chunks

    # With block: images summarised 100 at a time, across the chunks' bounds.
    pixels = block * 28 * 28 if block else BLOCK_PIXELS
    (X, _), _ = fashion_mnist()
    X = _tinted(X[:700, ..., 0]) if colour else X[:700].copy()
    X[5] = X[3]  # an exact copy
    X[9] //= 4  # a dark image
    whole = summarize(X, block_pixels=pixels)
    bounds = [0, 7, 300, 301, 700]  # uneven chunks, one of a single image
    parts = summarize_chunks(
        (X[a:b] for a, b in itertools.pairwise(bounds)), block_pixels=pixels
    )
    assert parts.hashes == whole.hashes and parts.image_shape == whole.image_shape
    np.testing.assert_allclose(parts.thumbs, whole.thumbs, atol=1e-6)
    assert parts.grey_range == pytest.approx(whole.grey_range, abs=1e-4)
    for name, values in whole.statistics.items():
        np.testing.assert_allclose(parts.statistics[name], values, atol=1e-5)
    for name, value in whole.moments.items():
        assert parts.moments[name] == pytest.approx(value, rel=1e-9)


def test_diagnose_streams_files_and_finds_what_the_array_shows(tmp_path, monkeypatch):
    """The files are decoded a chunk at a time, and the data findings of
    their summary, and of diagnose on the files, equal those on the decoded
    array, indices and all."""
    from cnnfix import diagnose
    from cnnfix.datasets import load_image_folder
    from cnnfix.diagnostics import files
    from cnnfix.diagnostics.duplicates import check_duplicates
    from cnnfix.diagnostics.image_checks import check_image_quality

    (X, y), _ = fashion_mnist()
    X, y = X[:400].copy(), np.array(["top", "trouser", "pullover"] * 134)[:400]
    X[10:14] //= 5  # dark
    X[20] = X[21]  # copies with different labels
    for i, (image, label) in enumerate(zip(X, y, strict=True)):
        (tmp_path / label).mkdir(exist_ok=True)
        Image.fromarray(image[..., 0]).save(tmp_path / label / f"{i:03d}.png")
    paths, labels = load_image_folder(tmp_path, as_paths=True)
    images, _ = load_image_folder(tmp_path)

    decoded = []
    read = files.read_images

    def counting(chunk, **kwargs):
        decoded.append(len(chunk))
        return read(chunk, **kwargs)

    monkeypatch.setattr(files, "read_images", counting)
    summary, kept, _ = summarize_files(paths, chunk_bytes=100 * 28 * 28)
    assert decoded == [100] * 4  # never more than a chunk (100 images) at once
    assert kept.tolist() == list(range(400))
    for check in (check_image_quality, lambda X: check_duplicates(X, labels)):
        chunked = {f.code: f.indices for f in check(summary)}
        assert chunked == {f.code: f.indices for f in check(images)}
    on_files = diagnose(paths, labels, checks="data")
    on_array = diagnose(images, labels, checks="data")
    found = {f.code: f.indices for f in on_files.findings}
    assert found == {f.code: f.indices for f in on_array.findings}
    assert {"dark_images", "conflicting_labels"} <= set(found)
    dark = on_files["dark_images"]
    assert {str(paths[i]) for i in dark.indices} == set(dark.paths)


def test_model_checks_on_files_get_paths_or_decoded_images(tmp_path, monkeypatch):
    """A cnnfix CNN trains on the paths (decoding batch by batch); any other
    estimator gets the files decoded into one array."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from cnnfix import DropoutCNN, diagnose
    from cnnfix.datasets import load_image_folder

    from .conftest import TINY

    (X, y), _ = fashion_mnist()
    names = {0: "top", 1: "trouser", 7: "sneaker"}
    rows = np.flatnonzero(np.isin(y, list(names)))[:60]
    for i in rows:
        (tmp_path / names[y[i]]).mkdir(exist_ok=True)
        Image.fromarray(X[i, ..., 0]).save(tmp_path / names[y[i]] / f"{i}.png")
    paths, labels = load_image_folder(tmp_path, as_paths=True)

    seen = []
    fit = DropoutCNN.fit

    def recording(self, X, y, **kwargs):
        seen.append(np.asarray(X).dtype.kind)
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(DropoutCNN, "fit", recording)
    cnn = diagnose(paths, labels, DropoutCNN(**TINY), checks="labels", cv=2)
    assert len(seen) == 2 and set(seen) <= {"U", "O"}  # strings: paths
    flat = make_pipeline(
        FunctionTransformer(lambda images: images.reshape(len(images), -1) / 255),
        LogisticRegression(max_iter=300),
    )
    linear = diagnose(paths, labels, flat, checks="labels", cv=2)
    for report in (cnn, linear):
        assert "labels" in report.to_dict()["checks_run"]
        assert 0 <= report.details["held_out_accuracy"] <= 1
    assert linear.details["held_out_accuracy"] > 0.8  # the pixels arrived
