"""File paths as X: fit, predict, balance, persist and refuse bad input.

The data are the digits 0-2 written as PNG files in class folders (the
folder names are the labels), upscaled to 16x16 with a few files of other
sizes, so the paths and the decoded arrays hold the same pixels.
"""

import inspect
import os
import pickle
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import cnnfix
from cnnfix import ClassBalancer, DropoutCNN
from cnnfix import _validation as validation_module
from cnnfix._input import InputPolicy, working_size
from cnnfix._input import files as file_pipeline
from cnnfix._input.headers import plain_pngs
from cnnfix.datasets import load_image_folder, read_images
from cnnfix.exceptions import UnreadableImageError

from .conftest import TINY

NAMES = {0: "zero", 1: "one", 2: "two"}

#: Trains well enough on the digit files to compare accuracies, in ~2 s.
QUICK = {
    **TINY,
    "conv_filters": (8,),
    "convs_per_block": 1,
    "lr_schedule": None,
    "epochs": 6,
    "image_size": 16,
}


def _write_tree(root, sizes=None):
    """Digits 0-2 as grey PNG files root/<name>/<i>.png; ``sizes`` maps a
    file number to a side other than 16."""
    X, y = load_digits(return_X_y=True)
    keep = np.flatnonzero(y < 3)[:240]
    for i in keep:
        folder = root / NAMES[y[i]]
        folder.mkdir(parents=True, exist_ok=True)
        side = (sizes or {}).get(int(i), 16)
        image = Image.fromarray((X[i].reshape(8, 8) * 15).astype(np.uint8))
        image.resize((side, side), Image.Resampling.BILINEAR).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _write_tree(tmp_path_factory.mktemp("digits"), sizes={0: 20, 1: 12})


@pytest.fixture(scope="module")
def data(tree):
    """(paths, decoded images at 16x16, labels), split in halves by class."""
    paths, y = load_image_folder(tree, as_paths=True)
    images = read_images(paths, 16, "grayscale")
    train, test = next(StratifiedKFold(2, shuffle=True, random_state=0).split(paths, y))
    return paths, images, y, train, test


@pytest.fixture(scope="module")
def on_paths(data):
    paths, _, y, train, _ = data
    return DropoutCNN(**QUICK).fit(paths[train], y[train])


def _snapshot(folder):
    return {
        p: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


# -- fit and predict -------------------------------------------------------------


def test_fit_on_paths_learns_as_on_the_decoded_array(data, on_paths):
    paths, images, y, train, test = data
    on_arrays = DropoutCNN(**QUICK).fit(images[train], y[train])
    assert on_paths.image_shape_ == on_arrays.image_shape_ == (16, 16, 1)
    assert on_paths.n_features_in_ == 256
    np.testing.assert_array_equal(on_paths.classes_, ["one", "two", "zero"])
    # The same pixels: identical normalisation (all 120 training files decoded).
    stats = [m.model_.get_layer(index=1).get_weights() for m in (on_paths, on_arrays)]
    for a, b in zip(*stats, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Batches differ in order (Keras shuffles arrays its own way), so the
    # weights differ: the accuracies agree within noise.
    accuracy = on_paths.score(paths[test], y[test])
    assert accuracy > 0.8
    assert abs(accuracy - on_arrays.score(images[test], y[test])) < 0.1
    assert on_paths.n_epochs_ == QUICK["epochs"]
    assert {"val_loss", "val_accuracy"} <= set(on_paths.history_)


def test_predict_on_paths_equals_predict_on_the_decoded_array(data, on_paths):
    paths, images, _, _, test = data
    expected = on_paths.predict_proba(images[test])
    np.testing.assert_array_equal(on_paths.predict_proba(paths[test]), expected)
    np.testing.assert_array_equal(
        on_paths.predict(paths[test]), on_paths.classes_[expected.argmax(axis=1)]
    )


@pytest.mark.parametrize(
    "make",
    [
        list,
        lambda p: [Path(x) for x in p],
        lambda p: p.astype(str),
        lambda p: pd.Series(p, index=np.arange(len(p)) + 100),
        lambda p: pd.DataFrame({"path": p}),
    ],
    ids=["list", "Path objects", "str array", "Series", "one-column DataFrame"],
)
def test_every_container_of_paths_predicts_alike(data, on_paths, make):
    paths = data[0][data[4]][:20]
    np.testing.assert_array_equal(
        on_paths.predict_proba(make(paths)), on_paths.predict_proba(paths)
    )


def test_predict_decodes_in_chunks_with_the_same_result(data, on_paths):

    paths = data[0][:50]
    expected = on_paths.predict_proba(paths)
    seven_rows = InputPolicy(predict_bytes=7 * 16 * 16 * 4)
    chunks = list(file_pipeline.decoded_chunks(paths, (16, 16, 1), seven_rows))
    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    (chunked,) = on_paths._probabilities([on_paths.model_], paths, policy=seven_rows)
    # Equal up to float rounding, which depends on the batch size.
    np.testing.assert_allclose(chunked, expected, rtol=1e-5)


def test_size_and_colour_come_from_the_files(tree, tmp_path):
    paths, y = load_image_folder(tree, as_paths=True)
    # Three sizes, nearly all 16x16: the working size is theirs, and no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf = DropoutCNN(**{**TINY, "epochs": 1}).fit(paths, y)
    assert clf.image_shape_ == (16, 16, 1) and clf.working_size_ == (16, 16)
    # One colour file among grey ones: every file is read as RGB.
    Image.new("RGB", (16, 16), (200, 10, 10)).save(tmp_path / "red.png")
    mixed = np.append(paths, str(tmp_path / "red.png"))
    clf = DropoutCNN(**{**TINY, "epochs": 1, "image_size": (10, 12)})
    clf.fit(mixed, np.append(y, "one"))
    assert clf.image_shape_ == (10, 12, 3)
    assert clf.predict_proba(paths[:3]).shape == (3, 3)


def test_paths_predict_on_a_model_fitted_on_arrays_of_another_size(data):
    paths, _, y, train, test = data
    small = read_images(paths, 8, "grayscale")
    clf = DropoutCNN(**TINY).fit(small[train], y[train])
    # Files are resized to the fitted 8x8 grey shape, as read_images does it.
    np.testing.assert_array_equal(
        clf.predict_proba(paths[test]), clf.predict_proba(small[test])
    )


def test_arrays_of_another_shape_on_a_model_fitted_on_paths(data, on_paths):
    images = data[1]
    with pytest.raises(
        ValueError, match=r"Expected images of shape \(16, 16, 1\).*\(8, 8, 1\)"
    ):
        on_paths.predict(images[:5, ::2, ::2])


# -- balancing and weights ---------------------------------------------------------


def _one_epoch(clf, paths, y_encoded, weights=None):
    """The decoded batches of one epoch of ``clf``'s training arguments."""
    from cnnfix.base import FitRun

    run = FitRun((paths, y_encoded, weights), None, None, seed=0, verbose=0)
    batches = clf._fit_arguments(run.train, run)["x"]
    return [batches[i] for i in range(len(batches))]


def test_stream_balancing_decodes_balanced_batches(data):
    paths, images, y, _, _ = data
    rows = np.r_[
        np.flatnonzero(y == "zero"),
        np.flatnonzero(y == "one")[:10],
        np.flatnonzero(y == "two")[:20],
    ]
    clf = DropoutCNN(**TINY, balancer=ClassBalancer(stream=True))
    clf.classes_, clf.image_shape_ = np.unique(y), (16, 16, 1)
    y_encoded = np.searchsorted(clf.classes_, y[rows])
    epoch = _one_epoch(clf, paths[rows], y_encoded)
    counts = np.bincount(np.concatenate([b[1] for b in epoch]), minlength=3)
    assert counts.tolist() == [80, 80, 80]
    # The batches hold the decoded pixels of the rows they name.
    X_batch = epoch[0][0]
    assert X_batch.shape[1:] == (16, 16, 1) and X_batch.dtype == np.float32
    assert {tuple(x.ravel()) for x in X_batch} <= {
        tuple(x.ravel()) for x in images[rows].astype(np.float32)
    }


def test_class_weight_reaches_the_decoded_batches(data):
    paths, _, y, _, _ = data
    rows = np.r_[np.flatnonzero(y == "zero")[:30], np.flatnonzero(y == "one")[:10]]
    clf = DropoutCNN(**TINY, class_weight={"one": 3.0})
    clf.classes_, clf.image_shape_ = np.unique(y), (16, 16, 1)
    y_encoded = np.searchsorted(clf.classes_, y[rows])
    weights = np.where(y[rows] == "one", 3.0, 1.0).astype(np.float32)
    epoch = _one_epoch(clf, paths[rows], y_encoded, weights)
    assert all(len(batch) == 3 for batch in epoch)
    targets = np.concatenate([b[1] for b in epoch])
    w = np.concatenate([b[2] for b in epoch])
    np.testing.assert_array_equal(w, np.where(targets == 0, 3.0, 1.0))
    # Every row once per epoch, in a new order each epoch.
    assert sorted(targets.tolist()) == sorted(y_encoded.tolist())


@pytest.mark.parametrize("stream", [False, True])
def test_fit_on_paths_with_a_balancer_and_class_weight(data, stream):
    paths, _, y, train, test = data
    clf = DropoutCNN(
        **TINY,
        image_size=16,
        balancer=ClassBalancer(stream=stream),
        class_weight="balanced",
    ).fit(paths[train][10:], y[train][10:])
    assert isinstance(clf.balancer_, ClassBalancer)
    assert clf.predict(paths[test]).shape == (len(test),)


def test_class_balancer_resamples_paths_as_rows(data):
    paths, _, y, _, _ = data
    rows = np.r_[np.flatnonzero(y == "zero"), np.flatnonzero(y == "one")[:8]]
    X_res, y_res = ClassBalancer(random_state=0).fit_resample(paths[rows], y[rows])
    assert X_res.ndim == 1 and len(X_res) == 160
    assert dict(zip(*np.unique(y_res, return_counts=True), strict=True)) == {
        "one": 80,
        "zero": 80,
    }
    label_of = dict(zip(paths, y, strict=True))
    assert all(label_of[p] == label for p, label in zip(X_res, y_res, strict=True))
    frame = pd.DataFrame({"file": [Path(p) for p in paths[rows]]})
    X_frame, _ = ClassBalancer(random_state=0).fit_resample(frame, y[rows])
    assert list(X_frame.columns) == ["file"] and len(X_frame) == 160


def test_smote_refuses_paths(data):
    paths, _, y, _, _ = data
    with pytest.raises(ValueError, match=r"cannot resample file paths"):
        ClassBalancer("smote").fit_resample(paths, y)


# -- scikit-learn protocols and persistence ----------------------------------------


def test_pickle_clone_and_save_load_predict_on_paths(data, on_paths, tmp_path):
    paths = data[0][data[4]]
    expected = on_paths.predict_proba(paths)
    restored = pickle.loads(pickle.dumps(on_paths))
    np.testing.assert_array_equal(restored.predict_proba(paths), expected)
    on_paths.save(tmp_path / "model.keras")
    loaded = cnnfix.load(tmp_path / "model.keras")
    assert loaded.image_shape_ == (16, 16, 1) and loaded.image_size == 16
    np.testing.assert_array_equal(loaded.predict_proba(paths), expected)
    assert clone(on_paths).get_params()["image_size"] == 16


@pytest.mark.integration
def test_grid_search_on_paths_in_two_processes(data):
    paths, _, y, train, test = data
    search = GridSearchCV(
        DropoutCNN(**{**TINY, "epochs": 2, "image_size": 12}),
        {"dropout": [0.2, 0.5]},
        cv=2,
        n_jobs=2,
    ).fit(paths[train], y[train])
    assert search.best_estimator_.image_shape_ == (12, 12, 1)
    assert 0 <= search.score(paths[test], y[test]) <= 1


# -- bad input (nothing on disk changes) ---------------------------------------------


@pytest.fixture()
def untouched(tree):
    before = _snapshot(tree)
    yield
    assert _snapshot(tree) == before


def test_fit_and_predict_leave_the_files_untouched(data, untouched):
    paths, _, y, _, _ = data
    DropoutCNN(**{**TINY, "epochs": 1, "image_size": 16}).fit(paths, y).predict(paths)


def test_a_missing_path_is_named(data, untouched):
    paths, _, y, _, _ = data
    missing = np.append(paths, "no/such/file.png")
    with pytest.raises(FileNotFoundError, match=r"1 of the 241 paths are not files: "):
        DropoutCNN(**TINY).fit(missing, np.append(y, "one"))
    with pytest.raises(FileNotFoundError, match=r"'no/such/file.png'"):
        DropoutCNN(**TINY).fit(missing, np.append(y, "one"))


@pytest.mark.parametrize("header_sample", [1000, 1], ids=["in headers", "in a batch"])
def test_a_corrupt_file_at_fit_is_named(data, tmp_path, monkeypatch, header_sample):
    paths, _, y, _, _ = data
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a PNG file")
    # With a sample of one header, the corrupt file is met while training.
    monkeypatch.setattr(validation_module, "HEADER_SAMPLE", header_sample)
    X = np.append(paths[::6], str(bad))
    with pytest.raises(UnreadableImageError, match=r"bad\.png") as caught:
        DropoutCNN(**{**TINY, "epochs": 1, "image_size": 16}).fit(
            X, np.append(y[::6], "one")
        )
    assert caught.value.paths == [str(bad)]
    assert "Remove or replace them" in str(caught.value)
    assert bad.read_bytes() == b"this is not a PNG file"


@pytest.mark.parametrize(
    "X, error, message",
    [
        (
            lambda p: np.c_[p, p],
            ValueError,
            r"file paths as a 1-D array.*2-D array of strings with shape \(240, 2\)",
        ),
        (
            lambda p: [*p[:-1], np.zeros((16, 16))],
            TypeError,
            r"either file paths or images.*239 paths and 1 items of type ndarray",
        ),
        (
            lambda p: pd.DataFrame({"a": p, "b": p}),
            ValueError,
            r"paths in one column; got a DataFrame of 2 columns",
        ),
        (lambda p: p[0], ValueError, r"a single path .*Pass a list of one"),
        (
            lambda p: np.r_[p[:-1], [None]].astype(object),
            TypeError,
            r"item 239 is None",
        ),
    ],
    ids=["2-D strings", "paths and arrays", "two columns", "one path", "None"],
)
def test_paths_in_shapes_the_estimators_cannot_take(data, untouched, X, error, message):
    paths, _, y, _, _ = data
    X = X(paths)
    with pytest.raises(error, match=message):
        DropoutCNN(**TINY).fit(X, y)


def test_a_single_image_where_a_batch_is_expected(data, on_paths):
    images = data[1]
    with pytest.raises(ValueError, match=r"a single image.*X\[None\]"):
        on_paths.predict(images[0])
    with pytest.raises(ValueError, match=r"a single image"):
        on_paths.predict_proba(images[0, :, :, 0])
    assert on_paths.predict(images[0][None]).shape == (1,)
    with pytest.raises(ValueError, match=r"a single path"):
        on_paths.predict(data[0][0])


def test_paths_are_not_modified(data):
    paths, _, y, _, _ = data
    X = [Path(p) for p in paths]
    copy = list(X)
    DropoutCNN(**{**TINY, "epochs": 1, "image_size": 16}).fit(X, y)
    assert X == copy and all(isinstance(p, Path) for p in X)
    assert os.fspath(X[0]) == paths[0]


# -- the decoded-image cache -------------------------------------------------------


def _count_reads(monkeypatch):
    """A Counter of how many times each file is decoded by the pipeline."""
    reads = Counter()

    def counting(paths, *args, **kwargs):
        reads.update(os.fspath(p) for p in paths)
        return read_images(paths, *args, **kwargs)

    monkeypatch.setattr(file_pipeline, "read_images", counting)
    return reads


@pytest.mark.parametrize("cache", [False, True])
def test_cache_decodes_each_file_once(data, monkeypatch, cache):
    paths, _, y, train, _ = data
    # The Pillow pipeline, also for plain PNG files (see the tests below).
    monkeypatch.setattr(file_pipeline, "plain_pngs", lambda paths, shape: False)
    reads = _count_reads(monkeypatch)
    params = {**QUICK, "epochs": 3, "validation_split": 0.25}
    clf = DropoutCNN(**params, cache=cache).fit(paths[train], y[train])
    assert set(reads) == set(paths[train])
    if cache:
        # Training files once for the normalisation statistics (all 90 of
        # them) and once for the batches; the 30 validation files once.
        assert Counter(reads.values()) == {2: 90, 1: 30}
    else:
        # At least once per epoch (Keras may prefetch batches of an epoch
        # that never comes).
        assert min(reads.values()) >= 3
    assert clf.n_epochs_ == 3


def test_cache_trains_the_same_model(data, on_paths):
    paths, _, y, train, test = data
    cached = DropoutCNN(**QUICK, cache=True).fit(paths[train], y[train])
    np.testing.assert_allclose(
        cached.predict_proba(paths[test]),
        on_paths.predict_proba(paths[test]),
        atol=1e-5,
    )


def test_cache_keeps_repeated_rows_once_and_returns_the_same_pixels(data):
    paths, images, _, _, _ = data
    rows = np.r_[0, 1, 0, 2, 1, 0]  # oversampled rows repeat a path
    cache = {}
    first = file_pipeline.decode(paths[rows], (16, 16, 1), cache)
    assert len(cache) == 3 and all(v.dtype == np.uint8 for v in cache.values())
    np.testing.assert_array_equal(first, images[rows].astype(np.float32))
    np.testing.assert_array_equal(
        file_pipeline.decode(paths[rows], (16, 16, 1), cache), first
    )


def test_cache_serves_stream_balanced_batches_from_memory(data, monkeypatch):
    from cnnfix.base import FitRun

    paths, images, y, _, _ = data
    rows = np.r_[np.flatnonzero(y == "zero"), np.flatnonzero(y == "one")[:10]]
    clf = DropoutCNN(**TINY, balancer=ClassBalancer(stream=True), cache=True)
    clf.classes_, clf.image_shape_ = np.unique(y), (16, 16, 1)
    y_encoded = np.searchsorted(clf.classes_, y[rows])
    run = FitRun((paths[rows], y_encoded, None), None, None, seed=0, verbose=0)
    batches = clf._fit_arguments(run.train, run)["x"]
    reads = _count_reads(monkeypatch)
    epochs = []
    for _ in range(3):
        epochs.append([batches[i] for i in range(len(batches))])
        batches.on_epoch_end()
    # The minority class is drawn again and again, but each file read once.
    assert set(reads.values()) == {1} and set(reads) <= set(paths[rows])
    for epoch in epochs:
        counts = np.bincount(np.concatenate([b[1] for b in epoch]), minlength=3)
        assert counts[0] == counts[2]  # "one" and "zero", balanced
        assert {tuple(x.ravel()) for b in epoch for x in b[0]} <= {
            tuple(x.ravel()) for x in images[rows].astype(np.float32)
        }


# -- plain PNG files: TensorFlow's decoder ---------------------------------------


def _png(path, pixels, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **options)
    return str(path)


@pytest.fixture
def png_files(tmp_path):
    """Plain PNG files: 12 grey and 12 RGB 10x14 images, not digits."""
    rng = np.random.default_rng(0)
    grey = [
        _png(tmp_path / "grey" / f"{i}.png", rng.integers(0, 256, (10, 14), np.uint8))
        for i in range(12)
    ]
    rgb = [
        _png(tmp_path / "rgb" / f"{i}.png", rng.integers(0, 256, (10, 14, 3), np.uint8))
        for i in range(12)
    ]
    return np.array(grey, dtype=object), np.array(rgb, dtype=object)


@pytest.mark.parametrize("kind, channels", [("grey", 1), ("grey", 3), ("rgb", 3)])
def test_png_dataset_gives_read_images_pixels(png_files, kind, channels):
    paths = png_files[0] if kind == "grey" else png_files[1]
    shape = (10, 14, channels)
    assert plain_pngs(paths, shape)
    y, weights = np.arange(12) * 7 + 3, np.linspace(0.5, 2, 12)
    dataset = file_pipeline.png_dataset(
        paths, y, weights, image_shape=shape, batch_size=5, seed=None
    )
    batches = [[t.numpy() for t in batch] for batch in dataset]
    assert [len(b[0]) for b in batches] == [5, 5, 2]
    images, labels, got = (
        np.concatenate(column) for column in zip(*batches, strict=True)
    )
    mode = "grayscale" if channels == 1 else "rgb"
    expected = read_images(paths, shape[:2], mode).astype(np.float32)
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(got, weights, rtol=1e-6)


def test_png_dataset_reshuffles_every_epoch_from_its_seed(png_files):
    paths = png_files[0]
    y = np.arange(len(paths)) + 100

    def epochs(seed):
        dataset = file_pipeline.png_dataset(
            paths, y, None, image_shape=(10, 14, 1), batch_size=4, seed=seed
        )
        return [np.concatenate([b[1].numpy() for b in dataset]) for _ in range(2)]

    first, second = epochs(0)
    assert sorted(first) == sorted(second) == list(y)
    assert list(first) != list(second)  # a new order each epoch
    assert [list(e) for e in epochs(0)] == [list(first), list(second)]


def test_only_plain_png_files_go_to_tensorflow(png_files, tmp_path):
    grey, rgb = png_files
    pixels = np.random.default_rng(1).integers(0, 256, (10, 14), np.uint8)
    assert not plain_pngs(rgb, (10, 14, 1))  # RGB to grey: Pillow
    assert not plain_pngs(grey, (10, 16, 1))  # a resize: Pillow
    palette = Image.fromarray(pixels).convert("P")
    palette.save(tmp_path / "palette.png")
    wide = Image.fromarray(pixels.astype(np.uint16) * 200)  # 16-bit grey
    wide.save(tmp_path / "sixteen.png")
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    _png(tmp_path / "photo.png", pixels, format="JPEG")  # JPEG bytes, .png name
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(Path(grey[0]).read_bytes()[:-20])
    for odd in ("palette.png", "sixteen.png", "photo.png", "truncated.png", "none.png"):
        assert not plain_pngs([*grey, str(tmp_path / odd)], (10, 14, 1))


def test_fit_on_plain_pngs_uses_tensorflow_and_learns_as_with_pillow(data, monkeypatch):
    paths, _, y, train, test = data
    train = [i for i in train if Image.open(paths[i]).size == (16, 16)]
    made = []
    png_dataset = file_pipeline.png_dataset

    def spying(*args, **kwargs):
        made.append(
            inspect.signature(png_dataset).bind(*args, **kwargs).arguments["seed"]
        )
        return png_dataset(*args, **kwargs)

    monkeypatch.setattr(file_pipeline, "png_dataset", spying)
    fast = DropoutCNN(**QUICK).fit(paths[train], y[train])
    assert len(made) == 2 and made[1] is None  # training (shuffled), validation
    monkeypatch.setattr(file_pipeline, "plain_pngs", lambda paths, shape: False)
    pillow = DropoutCNN(**QUICK).fit(paths[train], y[train])
    assert fast.n_epochs_ == pillow.n_epochs_ == QUICK["epochs"]
    accuracy = fast.score(paths[test], y[test])
    assert accuracy > 0.8
    assert abs(accuracy - pillow.score(paths[test], y[test])) < 0.1


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """30 colour photos of mixed sizes, JPEG and PNG, mostly landscape, of
    two string classes (the bright half differs), and their sizes."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    paths, labels, sizes = [], [], []
    for i in range(30):
        label = ("left", "right")[i % 2]
        height, width = 62 + (7 * i) % 9, 100 + i % 13  # aspects 0.55 to 0.7
        if i % 5 == 0:  # a few portraits
            height, width = width, height
        pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        half = slice(0, width // 2) if label == "left" else slice(width // 2, None)
        pixels[:, half] += 150
        path = root / f"{i}.{'jpg' if i % 3 else 'png'}"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
        labels.append(label)
        sizes.append((height, width))
    return np.array(paths, dtype=object), np.array(labels), sizes


def test_mixed_sizes_get_one_working_size_stated_once(photos, capsys):
    paths, y, sizes = photos
    expected = working_size(sizes, max_side=InputPolicy().working_side)
    assert len(set(sizes)) == len(sizes) and expected == (40, 64)  # 5:8
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a choice, not a warning
        clf = DropoutCNN(**{**TINY, "epochs": 1, "verbose": 1}).fit(paths, y)
    assert clf.working_size_ == clf.image_shape_[:2] == expected
    assert clf.image_shape_[2] == 3 and max(expected) == InputPolicy().working_side
    stated = [
        line
        for line in capsys.readouterr().out.splitlines()
        if "differ in size" in line
    ]
    assert len(stated) == 1 and f"{expected[0]}x{expected[1]}" in stated[0]
    assert clf.predict(paths[:4]).shape == (4,)
    # Every fold of the same data works at the same size.
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(paths, y)
    quiet = DropoutCNN(**{**TINY, "epochs": 1})
    assert {quiet.fit(paths[train], y[train]).working_size_ for train, _ in folds} == {
        expected
    }
    # An image_size, or arrays, choose nothing.
    assert (
        DropoutCNN(**{**TINY, "epochs": 1, "image_size": 20})
        .fit(paths, y)
        .working_size_
        is None
    )
