"""Reading image files and class-folder trees (cnnfix._input, load_image_folder).

Every test reads real files written into tmp_path: scikit-learn's two sample
photos (JPEG) and PNG files made with NumPy, grey and colour, of mixed sizes.
"""

import mmap
import os
import shutil
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_sample_images

from cnnfix._input import InputPolicy, pool
from cnnfix._input.decode import decode_paths
from cnnfix.datasets import (
    inspect_images,
    list_image_folder,
    load_image_folder,
    read_image,
    read_images,
)
from cnnfix.exceptions import UnreadableImageError

from .conftest import require

CHINA, FLOWER = sorted(load_sample_images().filenames)  # 427x640 RGB JPEG


def pixels(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


@pytest.fixture
def tree(tmp_path):
    """Three classes; five of the eight images are 20x30 (height x width)."""
    root = tmp_path / "parts"
    arrays = {
        "bolt/b2.png": save(root / "bolt/b2.png", pixels((20, 30), 1)),
        "bolt/b1.png": save(root / "bolt/b1.png", pixels((20, 30, 3), 2)),
        "nut/n1.png": save(root / "nut/n1.png", pixels((20, 30), 3)),
        "nut/n2.png": save(root / "nut/n2.png", pixels((24, 24), 4)),
        "washer/w1.png": save(root / "washer/w1.png", pixels((20, 30), 5)),
        "washer/sub/w0.png": save(root / "washer/sub/w0.png", pixels((20, 30), 6)),
    }
    shutil.copy(CHINA, root / "bolt/china.jpg")
    shutil.copy(FLOWER, root / "nut/flower.JPEG")
    (root / "washer/notes.txt").write_text("not an image")
    save(root / "washer/.hidden.png", pixels((20, 30), 7))
    save(root / ".thumbnails/t.png", pixels((20, 30), 8))
    save(root / "loose.png", pixels((20, 30), 9))
    return root, arrays


def snapshot(root):
    return {
        p: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


EXPECTED_ORDER = [
    "bolt/b1.png",
    "bolt/b2.png",
    "bolt/china.jpg",
    "nut/flower.JPEG",
    "nut/n1.png",
    "nut/n2.png",
    "washer/sub/w0.png",
    "washer/w1.png",
]


def relative(paths, root):
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_list_image_folder_order_labels_and_skipped_files(tree):
    root, _ = tree
    paths, labels = list_image_folder(root)
    assert relative(paths, root) == EXPECTED_ORDER
    assert labels.tolist() == [name.split("/")[0] for name in EXPECTED_ORDER]
    assert paths.dtype == object and labels.dtype.kind == "U"
    assert all(isinstance(p, str) and os.path.isfile(p) for p in paths)


def test_load_picks_the_most_common_size_and_says_so(tree):
    root, arrays = tree
    with pytest.warns(UserWarning, match=r"3 different sizes.*most common, 20x30"):
        X, y = load_image_folder(root)
    assert X.shape == (8, 20, 30, 3) and X.dtype == np.uint8
    assert y.tolist() == [name.split("/")[0] for name in EXPECTED_ORDER]
    # Files of the chosen size come back exactly; grey ones on every channel.
    np.testing.assert_array_equal(X[0], arrays["bolt/b1.png"])
    for i in (1, 4, 6, 7):
        np.testing.assert_array_equal(
            X[i], np.repeat(arrays[EXPECTED_ORDER[i]][..., None], 3, axis=2)
        )
    # Resized files match reading each file alone.
    for i in (2, 3, 5):
        np.testing.assert_array_equal(
            X[i], read_image(root / EXPECTED_ORDER[i], (20, 30), "rgb")
        )


def test_grey_files_of_one_size_load_as_one_channel_without_a_warning(tmp_path):
    written = [save(tmp_path / c / f"{i}.png", pixels((9, 7), i)) for i, c in
               enumerate(["rivet", "rivet", "pin", "pin"])]  # fmt: skip
    X, y = load_image_folder(tmp_path)  # a warning would fail the test
    assert X.shape == (4, 9, 7, 1)
    assert y.tolist() == ["pin", "pin", "rivet", "rivet"]
    np.testing.assert_array_equal(X[..., 0], np.stack(written[2:] + written[:2]))


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({"image_size": 16}, (8, 16, 16, 3)),
        ({"image_size": (12, 40), "color_mode": "grayscale"}, (8, 12, 40, 1)),
        ({"image_size": [24, 24], "color_mode": "rgb"}, (8, 24, 24, 3)),
    ],
)
def test_image_size_and_color_mode(tree, kwargs, shape):
    root, _ = tree
    X, y = load_image_folder(root, **kwargs)
    assert X.shape == shape and X.dtype == np.uint8 and len(y) == 8


def test_grayscale_of_a_colour_photo_is_its_luminance(tree):
    root, _ = tree
    grey = read_image(root / "bolt/china.jpg", color_mode="grayscale")
    colour = read_image(root / "bolt/china.jpg").astype(float)
    assert grey.shape == (427, 640, 1) and colour.shape == (427, 640, 3)
    luminance = colour @ [0.299, 0.587, 0.114]
    assert np.abs(grey[..., 0] - luminance).mean() < 1.0


def test_as_paths_returns_existing_paths_matching_y_without_decoding(tree):
    root, _ = tree
    (root / "nut/broken.png").write_bytes(b"not a png")
    paths, y = load_image_folder(root, as_paths=True)
    assert paths.dtype == object and paths.shape == y.shape == (9,)
    assert all(os.path.isfile(p) for p in paths)
    assert [Path(p).relative_to(root).parts[0] for p in paths] == y.tolist()


def test_order_is_deterministic(tree):
    root, _ = tree
    with pytest.warns(UserWarning):
        first = load_image_folder(root, n_jobs=1)
    with pytest.warns(UserWarning):
        second = load_image_folder(root, n_jobs=3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_threads_give_the_same_images(tmp_path):
    # More files than one chunk, so the thread pool is used.
    paths = []
    for i in range(150):
        shape = (10, 12, 3) if i % 3 else (10, 12)
        save(tmp_path / f"{i:03d}.png", pixels(shape, i))
        paths.append(tmp_path / f"{i:03d}.png")
    one = read_images(paths, n_jobs=1)
    assert one.shape == (150, 10, 12, 3)
    np.testing.assert_array_equal(read_images(paths, n_jobs=4), one)
    np.testing.assert_array_equal(read_images(paths, n_jobs=-1), one)


def in_processes(paths, on_error="raise", return_kept=False):
    """``read_images(paths, n_jobs=2)`` with worker processes from 20 files."""
    policy = InputPolicy(process_files=20)
    paths = [os.fspath(p) for p in paths]
    images, kept = decode_paths(paths, None, None, 2, on_error=on_error, policy=policy)
    return (images, kept) if return_kept else images


@pytest.fixture
def made_folders(monkeypatch):
    """The temporary folders made during the test (other tests, in parallel
    workers, make their own)."""
    made, mkdtemp = [], tempfile.mkdtemp

    def recording(*args, **kwargs):
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return made


@pytest.mark.filterwarnings("ignore:The images have 3 different sizes")
def test_worker_processes_give_the_same_images_and_errors(
    tmp_path, monkeypatch, made_folders
):
    """From the policy's ``process_files`` files, loky worker processes
    decode: the same pixels, headers, guesses redone and failures as one
    thread."""
    import joblib

    paths = [tmp_path / "first.png"]
    save(paths[0], pixels((10, 12), 0))  # grey first: the mode guess is wrong
    for i in range(1, 60):
        shape = (10, 12, 3) if i % 3 else (10, 12)
        if i % 7 == 0:
            shape = (9, 14, 3)  # another size: resized
        save(tmp_path / f"{i:03d}.png", pixels(shape, i))
        paths.append(tmp_path / f"{i:03d}.png")
    Image.open(CHINA).resize((24, 20)).save(tmp_path / "photo.jpg")
    (tmp_path / "garbage.png").write_bytes(os.urandom(300))
    paths[5:5] = [tmp_path / "photo.jpg", tmp_path / "garbage.png"]
    with pytest.warns(UserWarning):
        one, kept_one = read_images(paths, n_jobs=1, on_error="warn", return_kept=True)
    calls = []

    class Spy(joblib.Parallel):
        def __init__(self, *args, **kwargs):
            calls.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", Spy)
    with pytest.warns(UserWarning, match=r"Skipped 1 of 62.*garbage\.png"):
        two, kept_two = in_processes(paths, on_error="warn", return_kept=True)
    assert calls and calls[0]["backend"] == "loky" and calls[0]["n_jobs"] == 2
    assert one.shape == (61, 10, 12, 3)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(kept_two, kept_one)
    with pytest.raises(UnreadableImageError, match=r"garbage\.png"):
        in_processes(paths)
    # The pixels went through a shared file, removed after each call.
    assert len(made_folders) == 3
    assert not any(os.path.exists(f) for f in made_folders)


def _bases(array):
    """The objects whose memory ``array`` views, down to the last (a
    memoryview's is its ``obj``)."""
    while array is not None:
        yield array
        array = getattr(array, "base", getattr(array, "obj", None))


def test_worker_processes_return_the_shared_memory_itself(
    tmp_path, monkeypatch, made_folders
):
    """When every file decodes, the output is an array over the workers'
    shared memory (no copy): a plain writable array that outlives the
    removed file and travels to joblib workers by value, not by file name;
    the same pixels as one thread, and as the copy where /dev/shm has no
    room."""
    import joblib

    paths = []
    for i in range(40):
        paths.append(tmp_path / f"{i:03d}.png")
        save(paths[-1], pixels((10, 12) if i % 4 == 1 else (10, 12, 3), i))
    one = read_images(paths, n_jobs=1)
    mapped = in_processes(paths)
    np.testing.assert_array_equal(mapped, one)
    assert not any(isinstance(a, np.memmap) for a in _bases(mapped))
    (folder,) = made_folders
    assert not os.path.exists(folder)
    if folder.startswith("/dev/shm"):
        # No copy was made: the memory is the mapping of the removed file.
        assert any(isinstance(a, mmap.mmap) for a in _bases(mapped))
    mapped[0] = 7  # writable, and still valid after the file went
    assert (mapped[0] == 7).all() and (mapped[1:] == one[1:]).all()
    sums = joblib.Parallel(n_jobs=2, backend="loky", max_nbytes=100)(
        joblib.delayed(np.sum)(mapped[i::2], dtype=np.int64) for i in range(2)
    )
    assert sum(sums) == mapped.sum(dtype=np.int64)
    monkeypatch.setattr(pool, "shared_folder", lambda nbytes: None)  # no room
    copied = in_processes(paths)
    np.testing.assert_array_equal(copied, one)
    assert copied.base is None  # decoded into a file on disk, then copied


def test_a_wrong_first_guess_is_corrected(tmp_path):
    """The first file is grey and of an uncommon size: its guesses are redone."""
    paths = [tmp_path / f"{i}.png" for i in range(4)]
    save(paths[0], pixels((5, 5), 0))
    for i in range(1, 4):
        save(paths[i], pixels((6, 8, 3), i))
    with pytest.warns(UserWarning, match="most common, 6x8"):
        X = read_images(paths)
    np.testing.assert_array_equal(X, read_images(paths, (6, 8), "rgb"))
    # Same size, grey first then colour: only the colour files are redone.
    save(tmp_path / "0.png", pixels((6, 8), 0))
    X = read_images(paths)
    assert X.shape == (4, 6, 8, 3)
    np.testing.assert_array_equal(X, read_images(paths, (6, 8), "rgb"))


def test_sixteen_bit_and_palette_images(tmp_path):
    deep = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 256
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(
        read_image(tmp_path / "deep.png")[..., 0], (deep >> 8).astype(np.uint8)
    )
    grey_palette = Image.fromarray(pixels((8, 8), 0)).convert("P")
    grey_palette.save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png").shape == (8, 8, 1)


@pytest.fixture
def damaged(tree):
    root, _ = tree
    data = Path(CHINA).read_bytes()
    (root / "bolt/truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "nut/garbage.png").write_bytes(os.urandom(300))
    return root


def test_unreadable_files_raise_an_error_naming_them(damaged):
    with pytest.raises(UnreadableImageError) as info:
        load_image_folder(damaged, image_size=16)
    message = str(info.value)
    assert "2 of the 10 image files" in message
    assert "truncated.jpg" in message and "garbage.png" in message
    assert 'on_error="warn"' in message
    assert sorted(Path(p).name for p in info.value.paths) == [
        "garbage.png",
        "truncated.jpg",
    ]
    assert isinstance(info.value, ValueError)


def test_on_error_warn_skips_unreadable_files(damaged):
    with pytest.warns(UserWarning, match=r"Skipped 2 of 10") as record:
        X, y = load_image_folder(damaged, image_size=16, on_error="warn")
    assert len(record) == 1
    assert "truncated.jpg" in str(record[0].message)
    assert "garbage.png" in str(record[0].message)
    assert X.shape == (8, 16, 16, 3) and y.tolist().count("bolt") == 3


def test_on_error_warn_matches_the_clean_tree(tree):
    root, _ = tree
    expected_X, expected_y = load_image_folder(root, image_size=16)
    (root / "nut/garbage.png").write_bytes(b"\x89PNG but not really")
    with pytest.warns(UserWarning, match=r"Skipped 1 of 9.*garbage\.png"):
        X, y = load_image_folder(root, image_size=16, on_error="warn")
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(y, expected_y)


def test_no_readable_file_is_an_error(tmp_path):
    for name in ("a/x.png", "b/y.png"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(b"junk")
    with pytest.raises(UnreadableImageError, match=r"None of the 2 image files"):
        load_image_folder(tmp_path, on_error="warn")


def test_read_image_error_names_the_file(tmp_path):
    (tmp_path / "bad.webp").write_bytes(b"junk")
    with pytest.raises(UnreadableImageError, match=r"bad\.webp.*valid image"):
        read_image(tmp_path / "bad.webp")


def test_files_on_disk_are_unchanged(damaged):
    before = snapshot(damaged)
    load_image_folder(damaged, as_paths=True)
    with pytest.warns(UserWarning):
        load_image_folder(damaged, on_error="warn")
    with pytest.raises(UnreadableImageError):
        load_image_folder(damaged)
    assert snapshot(damaged) == before


def test_read_images_explicit_settings_and_kept(tree):
    root, _ = tree
    paths, _ = list_image_folder(root)
    X, kept = read_images(paths, 10, "grayscale", return_kept=True)
    assert X.shape == (8, 10, 10, 1)
    np.testing.assert_array_equal(kept, np.arange(8))
    empty = read_images([], 10, "rgb")
    assert empty.shape == (0, 10, 10, 3)
    with pytest.raises(ValueError, match="paths is empty"):
        read_images([])


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*one sub-folder"):
        load_image_folder(tmp_path / "nowhere")


def test_root_is_a_file(tree):
    root, _ = tree
    with pytest.raises(NotADirectoryError, match=r"is a file, not a folder"):
        load_image_folder(root / "loose.png")


def test_images_directly_in_root(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png", pixels((4, 4), i))
    with pytest.raises(
        ValueError, match=r"holds 3 image files directly.*one folder per class"
    ):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no class sub-folders \(it is empty\)"):
        load_image_folder(tmp_path / "empty")


def test_one_class(tmp_path):
    save(tmp_path / "bolt/a.png", pixels((4, 4), 0))
    with pytest.raises(ValueError, match=r"only one class folder, 'bolt'"):
        load_image_folder(tmp_path)


def test_empty_class_folder_is_named(tree):
    root, _ = tree
    (root / "spring").mkdir()
    (root / "spring/readme.txt").write_text("todo")
    with pytest.raises(ValueError, match=r"\['spring'\].*hold no image files"):
        load_image_folder(root)


@pytest.mark.parametrize("image_size", [0, -3, 2.5, True, (4,), (4, 0), "64"])
def test_bad_image_size(tree, image_size):
    root, _ = tree
    with pytest.raises(ValueError, match=r"image_size must be None.*got"):
        load_image_folder(root, image_size=image_size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"color_mode": "RGB"}, r"color_mode must be one of .*got 'RGB'"),
        ({"color_mode": None}, r"color_mode must be one of"),
        ({"on_error": "ignore"}, r"on_error must be one of .*got 'ignore'"),
        ({"n_jobs": 0}, r"n_jobs must be None.*got 0"),
        ({"n_jobs": 1.5}, r"n_jobs must be None"),
    ],
)
def test_bad_parameters(tree, kwargs, match):
    root, _ = tree
    with pytest.raises(ValueError, match=match):
        load_image_folder(root, **kwargs)
    with pytest.raises(ValueError, match=match):
        load_image_folder(root, as_paths=True, **kwargs)


# -- plain PNG files: pyspng (cnnfix[fast]) ------------------------------------


def test_plain_pngs_decode_with_pyspng_to_pillows_pixels(tmp_path, monkeypatch):
    """With pyspng, plain 8-bit grey and RGB PNG files (with or without a
    transparent colour) decode to exactly Pillow's pixels, in every colour
    mode; other files, and conversions from RGB to grey, go to Pillow."""
    if pool.spng() is None:
        require("pyspng", "pip install cnnfix[fast]")
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (10, 14), np.uint8)
    colour = rng.integers(0, 256, (10, 14, 3), np.uint8)
    files = {
        "grey": (grey, {}),
        "colour": (colour, {}),
        "grey_transparent": (grey, {"transparency": 5}),
        "colour_transparent": (colour, {"transparency": (1, 2, 3)}),
        "palette": (grey, {"bits": 4}),
    }
    paths = []
    for name, (pixels, options) in files.items():
        image = Image.fromarray(pixels)
        if name == "palette":
            image = image.convert("P")
        image.save(tmp_path / f"{name}.png", **options)
        paths.append(str(tmp_path / f"{name}.png"))
    decoded = []
    spng = pool.spng()

    def counting(data):
        decoded.append(data[:8])
        return spng.load(data)

    counted = types.SimpleNamespace(load=counting)
    for mode in ("auto", "rgb", "grayscale"):
        monkeypatch.setattr(pool, "spng", lambda: counted)
        fast = [read_images([p], None, mode) for p in paths]
        monkeypatch.setattr(pool, "spng", lambda: None)
        pillow = [read_images([p], None, mode) for p in paths]
        for path, a, b in zip(paths, fast, pillow, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{path} {mode}")
    # pyspng read the 4 plain files in auto and rgb, the grey ones to grey.
    assert len(decoded) == 4 + 4 + 2


def test_reader_warnings_point_at_the_callers_line(tree, tmp_path):
    root, _ = tree
    paths, _ = list_image_folder(root)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    calls = {
        "load_image_folder": lambda: load_image_folder(root),
        "read_images": lambda: read_images(paths),
        "inspect_images": lambda: inspect_images(paths),
        "on_error": lambda: read_images(
            [*paths, tmp_path / "bad.png"], 8, on_error="warn"
        ),
    }
    for name, call in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert caught, name
        assert {w.filename for w in caught} == {__file__}, name
