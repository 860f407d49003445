"""Input checks shared by every estimator; no training here."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from cnnfix import DropoutCNN, diagnose
from cnnfix._validation import (
    check_labels,
    check_sample_weight,
    infer_image_shape,
    validate_images,
)


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


# -- missing labels ------------------------------------------------------------


def _objects(*values):
    """A 1-D object array holding ``values`` as they are."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


DROP_HINT = r"keep = ~pandas\.isna\(y\).*X, y = X\[keep\], y\[keep\]"


@pytest.mark.parametrize(
    "y",
    [
        pytest.param(np.array([3.0, np.nan, 7.0, np.nan]), id="float NaN"),
        pytest.param(np.array(["cat", None, "dog", np.nan], dtype=object), id="None"),
        pytest.param(["cat", None, "dog", None], id="list with None"),
    ],
)
def test_missing_labels_are_named_by_row(y):
    with pytest.raises(ValueError, match=r"2 missing labels \(None or NaN\) at rows "):
        check_labels(y)
    with pytest.raises(ValueError, match=r"at rows \[1, 3\]\. Drop the unlabelled"):
        check_labels(y)


def test_missing_labels_in_a_pandas_series():
    pd = pytest.importorskip("pandas")
    # A non-default index: rows are positions, as X[keep] uses them.
    for y in (
        pd.Series([3, np.nan, 7, 3], index=[10, 11, 12, 13]),
        pd.Series([3, pd.NA, 7, 3], dtype="Int64"),
        pd.Series(["cat", None, "dog", "cat"], dtype="string"),
        pd.Series(["cat", np.nan, "dog", "cat"], dtype="category"),
    ):
        with pytest.raises(
            ValueError, match=r"1 missing label \(None or NaN\) at rows \[1\]"
        ):
            check_labels(y)
    # The fix the message gives works.
    y = pd.Series([3, np.nan, 7, 3])
    X = np.arange(4)
    keep = ~pd.isna(y)
    X, y = X[keep], y[keep]
    np.testing.assert_array_equal(check_labels(y), [3, 7, 3])


def test_many_missing_labels_show_the_first_ten_and_the_count():
    y = np.where(np.arange(40) % 3 == 0, np.nan, 5.0)
    message = (
        r"14 missing labels \(None or NaN\) at rows \[0, 3, 6, 9, 12, 15, 18, 21, "
        r"24, 27\] \(the first 10 of 14\)\. Drop the unlabelled images first: "
    )
    with pytest.raises(ValueError, match=message + DROP_HINT):
        check_labels(y)


def test_missing_label_check_warns_nothing_and_modifies_nothing():
    y = np.array([3.0, np.nan, 7.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="1 missing label"):
            check_labels(y)
    np.testing.assert_array_equal(y, [3.0, np.nan, 7.0])


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 7, 3]),
        np.array(["nan", "None", ""]),  # strings that only look missing
        np.array([True, False, True]),
        np.array([], dtype=float),  # empty: scikit-learn says "0 sample(s)"
        np.zeros((0, 2)),
        np.array([3.5, -1.0, np.inf]),  # not labels, but not missing either
        _objects((3, 7), "dog"),  # tuples compare equal to themselves
        _objects(np.array([3, 7]), "dog"),  # an array: ambiguous, not missing
    ],
)
def test_labels_that_are_not_missing_pass(y):
    assert check_labels(y) is y  # an array comes back as it is, not copied


def test_labels_must_be_one_per_image_when_the_count_is_given():
    assert check_labels([3, 7], n_samples=2).tolist() == [3, 7]
    with pytest.raises(ValueError, match=r"y of shape \(3,\); got y with shape \(2,\)"):
        check_labels([3, 7], n_samples=3)
    with pytest.raises(ValueError, match=r"got y with shape \(2, 2\)\. Pass a 1-D"):
        check_labels([[3, 7], [7, 3]], n_samples=2)


@pytest.mark.parametrize(
    "y", [np.array([3.0, 7.0, np.nan, 3.0]), np.array([3, 7, None, 3], dtype=object)]
)
def test_validate_images_refuses_missing_labels(y):
    # Before scikit-learn's checks, which say only "Input y contains NaN"
    # (after a RuntimeWarning, for some of its checks).
    message = r"1 missing label \(None or NaN\) at rows \[2\]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            validate_images(Holder(), np.zeros((4, 8, 8, 1)), y, reset=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda paths: np.array(paths),
        lambda paths: np.array(paths, dtype=object),
        lambda paths: list(paths),
        lambda paths: pd.Series(paths, index=[5, 9]),
    ],
    ids=["str array", "object array", "list", "Series"],
)
def test_file_paths_as_X_are_checked_by_estimators_and_diagnose(make):
    X = make(["parts/bolt/a.png", "parts/nut/b.png"])
    # The estimators and diagnose read files: these do not exist, and the
    # error says so.
    with pytest.raises(FileNotFoundError, match=r"2 of the 2 paths are not files"):
        DropoutCNN().fit(X, ["bolt", "nut"])
    with pytest.raises(FileNotFoundError, match=r"2 of the 2 paths are not files"):
        diagnose(X, ["bolt", "nut"], checks="data")


def test_images_of_different_sizes_say_to_resize():
    images = [np.zeros((8, 8)), np.zeros((9, 9)), np.zeros((8, 8))]
    with pytest.raises(
        ValueError, match=r"list of 3 images of 2 shapes, such as \(8, 8\) and \(9, 9\)"
    ):
        DropoutCNN().fit(images, ["bolt", "nut", "bolt"])


@pytest.mark.parametrize(
    "y",
    [
        [3, "cat", 3, "cat"],
        np.array([3, "cat", 3, "cat"], dtype=object),
        pd.Series([3, "cat", 3, "cat"]),
    ],
    ids=["list", "object array", "Series"],
)
def test_labels_mixing_strings_and_numbers_are_refused(y):
    # np.asarray would turn [3, "cat"] into ["3", "cat"] without a word.
    with pytest.raises(ValueError, match=r"Mix of label input types.*'cat'.*3"):
        check_labels(y)


def test_labels_of_one_type_and_missing_labels_are_not_mixed():
    for y in (["cat", "dog"], [3, 7], np.array([3, 7], dtype=object), [True, 2]):
        check_labels(y)
    with pytest.raises(ValueError, match="missing label"):
        check_labels(["cat", None, "dog", np.nan])


def test_a_folder_as_X_points_to_load_image_folder(tmp_path):
    (tmp_path / "cats").mkdir()
    for X in (str(tmp_path), tmp_path):
        with pytest.raises(ValueError, match=r"got the folder .*as_paths=True\)"):
            validate_images(Holder(), X, ["cat"], reset=True)
    with pytest.raises(ValueError, match=r"a single path .*Pass a list of one"):
        validate_images(Holder(), str(tmp_path / "cat.png"), ["cat"], reset=True)
