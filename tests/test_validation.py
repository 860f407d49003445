"""Input checks shared by every estimator; no training here."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from cnnfix._validation import check_sample_weight, infer_image_shape, validate_images


class Holder(BaseEstimator):
    """Stands in for an estimator: validate_images stores fitted shapes on it."""


@pytest.mark.parametrize(
    "n_features, image_shape, expected",
    [
        (64, None, (8, 8, 1)),
        (784, None, (28, 28, 1)),
        (1, None, (1, 1, 1)),
        (10, None, (10, 1, 1)),
        (64, (4, 16), (4, 16, 1)),
        (48, (4, 4, 3), (4, 4, 3)),
    ],
)
def test_infer_image_shape(n_features, image_shape, expected):
    assert infer_image_shape(n_features, image_shape) == expected


def test_image_shape_must_match_number_of_features():
    with pytest.raises(ValueError, match=r"holds 60 values per image, but X has 64"):
        infer_image_shape(64, (6, 10))


@pytest.mark.parametrize(
    "shape, expected",
    [((5, 8, 8, 3), (8, 8, 3)), ((5, 8, 8), (8, 8, 1)), ((5, 64), (8, 8, 1))],
)
def test_validate_images_shapes(shape, expected):
    est = Holder()
    X = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    images = validate_images(est, X, reset=True)
    assert images.shape == (5, *expected)
    assert images.dtype == np.float32
    assert est.image_shape_ == expected
    assert est.n_features_in_ == np.prod(expected)
    # Same values in the same order: only the shape changes.
    np.testing.assert_array_equal(images.ravel(), X.ravel())


def test_validate_images_accepts_nested_lists():
    est = Holder()
    images = validate_images(est, np.zeros((3, 4, 4)).tolist(), reset=True)
    assert images.shape == (3, 4, 4, 1)


def test_more_than_four_dimensions_is_rejected():
    with pytest.raises(ValueError, match=r"got X with 5 dimensions.*Reshape X"):
        validate_images(Holder(), np.zeros((2, 3, 3, 1, 1)), reset=True)


def test_one_dimensional_input_is_rejected():
    with pytest.raises(ValueError, match=r"got X with 1 dimension, shape \(5,\)"):
        validate_images(Holder(), np.zeros(5), reset=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_are_rejected(bad):
    X = np.zeros((4, 8, 8, 1))
    X[2, 3, 3, 0] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        validate_images(Holder(), X, np.arange(4) % 2, reset=True)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        validate_images(Holder(), np.zeros((4, 8, 8, 1)), np.zeros(3), reset=True)


@pytest.mark.parametrize(
    "predict_shape, message",
    [
        ((2, 10, 10, 1), r"Expected images of shape \(8, 8, 1\).*\(10, 10, 1\)"),
        ((2, 8, 8, 3), r"Expected images of shape \(8, 8, 1\).*\(8, 8, 3\)"),
        ((2, 4, 16), r"Expected images of shape \(8, 8, 1\).*\(4, 16, 1\)"),
        ((2, 50), r"X has 50 features, but Holder is expecting 64"),
    ],
)
def test_predict_time_shape_must_match_fit(predict_shape, message):
    est = Holder()
    validate_images(est, np.zeros((3, 8, 8, 1)), reset=True)
    with pytest.raises(ValueError, match=message):
        validate_images(est, np.zeros(predict_shape), reset=False)


def test_flat_input_at_predict_is_reshaped_to_the_fitted_image_shape():
    est = Holder()
    validate_images(est, np.zeros((3, 4, 16, 1)), reset=True)
    assert validate_images(est, np.ones((2, 64)), reset=False).shape == (2, 4, 16, 1)


def test_input_is_never_modified():
    X = np.random.default_rng(0).integers(0, 255, size=(6, 8, 8)).astype(np.uint8)
    y = np.array(list("ababab"))
    X_copy, y_copy = X.copy(), y.copy()
    validate_images(Holder(), X, y, reset=True)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_sample_weight_needs_two_weighted_classes():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="positive weight to only 1 class"):
        check_sample_weight([1, 1, 0, 0], X, np.array([0, 0, 1, 1]), 2)
    with pytest.raises(ValueError, match="Negative values"):
        check_sample_weight([1, -1, 1, 1], X, np.array([0, 0, 1, 1]), 2)
    weights = check_sample_weight([1, 2, 3, 4], X, np.array([0, 0, 1, 1]), 2)
    np.testing.assert_array_equal(weights, [1, 2, 3, 4])
