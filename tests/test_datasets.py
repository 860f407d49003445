"""Local data sets; nothing here downloads."""

import gzip

import numpy as np
import pytest

from cnnfix.datasets import (
    FASHION_MNIST_FILES,
    load_damaged_digits,
    load_digit_images,
    load_fashion_mnist,
)


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_digit_images():
    X, y = load_digit_images()
    assert X.shape == (1797, 8, 8, 1) and X.dtype == np.float32
    assert set(y) == set(range(10))


def test_fashion_mnist_reads_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "X_train": rng.integers(0, 256, (5, 28, 28)),
        "y_train": rng.integers(0, 10, 5),
        "X_test": rng.integers(0, 256, (3, 28, 28)),
        "y_test": rng.integers(0, 10, 3),
    }
    for key, name in FASHION_MNIST_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    (X_train, _), (X_test, y_test) = load_fashion_mnist(tmp_path)
    assert X_train.shape == (5, 28, 28, 1) and X_test.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(X_train[..., 0], arrays["X_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_fashion_mnist_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"
    ):
        load_fashion_mnist(tmp_path)


def test_damaged_digits_are_imbalanced_and_noisy():
    X_train, X_test, y_train, y_test, flipped = load_damaged_digits(0)
    assert len(X_train) == len(y_train) and len(X_test) == len(y_test)
    counts = np.bincount(y_train, minlength=10)
    assert counts[:5].min() > 3 * counts[5:].max()
    assert len(flipped) == int(0.08 * len(y_train))
    assert np.bincount(y_test).min() >= 40  # the test part stays whole


def test_load_image_folder_is_list_then_read(tmp_path):
    from PIL import Image

    from cnnfix.datasets import list_image_folder, load_image_folder, read_images

    rng = np.random.default_rng(0)
    for i, label in enumerate(["hex", "hex", "torx", "slot"]):
        (tmp_path / label).mkdir(exist_ok=True)
        image = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / label / f"{i}.png")
    X, y = load_image_folder(tmp_path)
    paths, labels = list_image_folder(tmp_path)
    np.testing.assert_array_equal(X, read_images(paths))
    np.testing.assert_array_equal(y, labels)
    assert y.tolist() == ["hex", "hex", "slot", "torx"]
