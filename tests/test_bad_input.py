"""Bad input, one matrix over every public estimator, the balancer and diagnose.

Each cell says what cnnfix does with one kind of bad input: raise a
ValueError/TypeError from cnnfix (never a TensorFlow traceback) whose message
names the problem, or, where accepting it is the documented design, accept
it. Nothing the caller passed in is ever modified.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from cnnfix import ClassBalancer, DropoutCNN, TunedCNNClassifier, diagnose

from .conftest import QUICK_SEARCH, TINY

#: The quick search, in this process (the input checks run before any
#: search, so isolation changes nothing here).
TUNED = {**QUICK_SEARCH, "isolate_search": False}

MAKERS = {
    "DropoutCNN": lambda **p: DropoutCNN(**{**TINY, "epochs": 1, **p}),
    "TunedCNNClassifier": lambda **p: TunedCNNClassifier(**{**TUNED, **p}),
    "ClassBalancer": lambda **p: ClassBalancer(**p),
}
TARGETS = [*MAKERS, "diagnose"]
CLASSIFIERS = ["DropoutCNN", "TunedCNNClassifier"]


def _classifiers(error, message):
    """The same expectation for both classifiers (inputs only they take)."""
    return {c: (error, message) for c in CLASSIFIERS}


class Accepted:
    """Accepting this input is the documented design, for the reason given."""

    def __init__(self, reason):
        self.reason = reason


class Reported:
    """diagnose reports this input as a finding instead of refusing it."""

    def __init__(self, code):
        self.code = code


ROWS_ARE_COPIED = Accepted(
    "ClassBalancer's random resampling only copies or drops whole rows, like "
    "imbalanced-learn's random samplers (SMOTE refuses non-finite pixels)"
)
BAD_LABELS = (ValueError, r"Unknown label type")
ONE_CLASS = {
    "DropoutCNN": (ValueError, r"at least 2 classes; got 1 class"),
    "TunedCNNClassifier": (ValueError, r"at least 2 classes; got 1 class"),
    "ClassBalancer": (ValueError, r"more than 1 class.*at least 2 classes"),
    "diagnose": (
        ValueError,
        r"diagnose needs labels of at least 2 classes; got 1 class",
    ),
}


MISSING_LABELS = (
    ValueError,
    r"got y with 2 missing labels \(None or NaN\) at rows \[1, 51\]",
)


def _missing_labels(labels, missing):
    """Labels that are not 0..k-1, missing at rows 1 and 51."""

    def make(X, y):
        y = np.asarray(labels, dtype=object)[y] if labels else y + 3.0
        y[[1, 51]] = missing
        return X, y, {}, {}

    return make


def _object_pixels(X, y):
    X = X.astype(object)
    X[0, 0, 0, 0] = "dark"
    return X, y, {}, {}


#: case -> (make(X, y) -> (X, y, fit kwargs, parameters), {target: expected}).
#: A target missing from the dict has no such input (sample weights for the
#: balancer); "*" is the expectation of every target not named.
CASES = {
    "NaN pixels": (
        lambda X, y: (np.where(X > 8, np.nan, X), y, {}, {}),
        {
            "*": (ValueError, "Input X contains NaN"),
            "ClassBalancer": ROWS_ARE_COPIED,
            "diagnose": Reported("invalid_values"),
        },
    ),
    "inf pixels": (
        lambda X, y: (np.where(X > 8, np.inf, X), y, {}, {}),
        {
            "*": (ValueError, "Input X contains infinity"),
            "ClassBalancer": ROWS_ARE_COPIED,
            "diagnose": Reported("invalid_values"),
        },
    ),
    "empty arrays": (
        lambda X, y: (X[:0], y[:0], {}, {}),
        {"*": (ValueError, r"Found array with 0 sample\(s\)")},
    ),
    "one sample": (lambda X, y: (X[:1], y[:1], {}, {}), ONE_CLASS),
    "one class": (lambda X, y: (X, np.zeros_like(y), {}, {}), ONE_CLASS),
    "1-D X": (
        lambda X, y: (X[:, 0, 0, 0], y, {}, {}),
        {
            "*": (ValueError, r"got X with 1 dimension, shape \(300,\)"),
            "ClassBalancer": (ValueError, r"Expected 2D array, got 1D array"),
        },
    ),
    "6-D X": (
        lambda X, y: (X[..., None, None], y, {}, {}),
        {
            "*": (ValueError, r"got X with 6 dimensions, shape \(300, 8, 8, 1, 1, 1\)"),
            "ClassBalancer": Accepted(
                "ClassBalancer resamples any array with a leading sample axis"
            ),
        },
    ),
    "X/y length mismatch": (
        lambda X, y: (X, y[:-1], {}, {}),
        {
            "*": (ValueError, r"inconsistent numbers of samples: \[300, 299\]"),
            "diagnose": (ValueError, r"one label per image.*got y with shape \(299,\)"),
        },
    ),
    "object X holding a word": (
        _object_pixels,
        {
            "*": (ValueError, r"Expected numeric pixel values; got X with dtype obj"),
            "ClassBalancer": ROWS_ARE_COPIED,
        },
    ),
    "string X": (
        lambda X, y: (np.full(X.shape, "pixel"), y, {}, {}),
        {
            "*": (ValueError, r"Expected numeric pixel values; got X with dtype <U5"),
            "ClassBalancer": ROWS_ARE_COPIED,
        },
    ),
    "complex X": (
        lambda X, y: (X.astype(complex), y, {}, {}),
        {"*": (ValueError, "Complex data not supported")},
    ),
    "sparse X": (
        lambda X, y: (sp.csr_matrix(X.reshape(len(X), -1)), y, {}, {}),
        {
            "*": (TypeError, "Sparse data was passed for X, but dense data is"),
            "ClassBalancer": Accepted(
                "ClassBalancer resamples sparse rows, as imbalanced-learn does"
            ),
        },
    ),
    "NaN labels": (_missing_labels(None, np.nan), {"*": MISSING_LABELS}),
    "None labels": (
        _missing_labels(["cat", "dog", "owl"], [None, np.nan]),
        {"*": MISSING_LABELS},
    ),
    "continuous y": (lambda X, y: (X, y + 0.5, {}, {}), {"*": BAD_LABELS}),
    "2-D y": (
        lambda X, y: (X, np.c_[y, y], {}, {}),
        {
            "*": (ValueError, r"y should be a 1d array, got an array of shape"),
            "diagnose": (ValueError, r"one label per image.*\(300, 2\)"),
        },
    ),
    "negative sample weights": (
        lambda X, y: (X, y, {"sample_weight": -np.ones(len(y))}, {}),
        _classifiers(ValueError, "Negative values in data passed to `sample_weight`"),
    ),
    "all-zero sample weights": (
        lambda X, y: (X, y, {"sample_weight": np.zeros(len(y))}, {}),
        _classifiers(ValueError, "Sample weights must contain at least one non-zero"),
    ),
    "label unseen in class_weight": (
        lambda X, y: (X, y, {}, {"class_weight": {0: 1.0, 7: 5.0}}),
        _classifiers(ValueError, r"class_weight names labels \[7\] that are not in y"),
    ),
    "label unseen in sampling_strategy": (
        lambda X, y: (X, y, {}, {"sampling_strategy": {7: 500}}),
        {"ClassBalancer": (ValueError, r"The \{7\} target class is/are not present")},
    ),
    "invalid parameter": (
        lambda X, y: (X, y, {}, {"random_state": "zero"}),
        {"*": (ValueError, r"The 'random_state' parameter of \w+ must be")},
    ),
}


def _expected(case, target):
    expected = CASES[case][1]
    return expected.get(target, expected.get("*"))


CELLS = [
    pytest.param(case, target, id=f"{case}-{target}")
    for case, (_, expected) in CASES.items()
    for target in TARGETS
    if target in expected or "*" in expected
]


def _call(target, X, y, fit_params, params):
    if target == "diagnose":
        return diagnose(X, y, checks="data", **params)
    estimator = MAKERS[target](**params)
    if target == "ClassBalancer":
        return estimator.fit_resample(X, y)
    return estimator.fit(X, y, **fit_params)


def _copy(a):
    return a.copy() if hasattr(a, "copy") else a


def _assert_unchanged(arrays, copies):
    for array, copy in zip(arrays, copies, strict=True):
        if sp.issparse(array):
            assert (array != copy).nnz == 0
        elif array.dtype == object:  # NaN != NaN: compare the objects held
            pairs = zip(array.ravel(), copy.ravel(), strict=True)
            assert all(a is b or a == b for a, b in pairs)
        else:
            np.testing.assert_array_equal(array, copy)
            assert array.dtype == copy.dtype


@pytest.mark.parametrize("case, target", CELLS)
def test_bad_input(small_digits, case, target):
    X, y, fit_params, params = CASES[case][0](*small_digits)
    expected = _expected(case, target)
    arrays = [X, y, *fit_params.values()]
    copies = [_copy(a) for a in arrays]

    if isinstance(expected, Accepted):
        X_out, y_out = _call(target, X, y, fit_params, params)
        assert X_out.shape[1:] == X.shape[1:] and X_out.shape[0] == len(y_out)
    elif isinstance(expected, Reported):
        assert _call(target, X, y, fit_params, params).has(expected.code)
    else:
        error, message = expected
        with pytest.raises(error, match=message) as caught:
            _call(target, X, y, fit_params, params)
        frames = [str(entry.path) for entry in caught.traceback]
        assert not [f for f in frames if "tensorflow" in f or "keras" in f], frames
    _assert_unchanged(arrays, copies)


# -- at predict time -----------------------------------------------------------


@pytest.fixture(scope="module", params=CLASSIFIERS)
def fitted(request, small_digits):
    return MAKERS[request.param]().fit(*small_digits)


PREDICT_CASES = {
    "other image shape": (
        lambda X: X[:, :4, :4],
        r"Expected images of shape \(8, 8, 1\) \(as in fit\); got X with "
        r"per-image shape \(4, 4, 1\)",
    ),
    "other channel count": (
        lambda X: np.repeat(X, 3, axis=-1),
        r"Expected images of shape \(8, 8, 1\).*per-image shape \(8, 8, 3\)",
    ),
    "flat rows of another width": (
        lambda X: X.reshape(len(X), -1)[:, :10],
        r"X has 10 features, but \w+ is expecting 64 features",
    ),
    "NaN pixels": (lambda X: np.where(X > 8, np.nan, X), "Input X contains NaN"),
    "1-D X": (lambda X: X[:, 0, 0, 0], r"got X with 1 dimension"),
}


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("case", PREDICT_CASES)
def test_bad_input_at_predict_time(fitted, small_digits, case, method):
    make, message = PREDICT_CASES[case]
    X = make(small_digits[0])
    copy = X.copy()
    with pytest.raises(ValueError, match=message):
        getattr(fitted, method)(X)
    np.testing.assert_array_equal(X, copy)


@pytest.mark.parametrize("target", CLASSIFIERS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_predict_before_fit(small_digits, target, method):
    X, y = small_digits
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError, match=f"This {target} instance is not fitted"):
        getattr(MAKERS[target](), method)(*args)


def test_smote_refuses_what_random_resampling_accepts(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="strategy='smote' interpolates pixel values"):
        ClassBalancer("smote").fit_resample(np.where(X > 8, np.nan, X), y)


# -- a folder name as X, labels of mixed types -------------------------------

MIXED_LABELS = (ValueError, r"Mix of label input types \(string and number\)")

#: case -> (make(X, y, folder) -> (X, y), expected of every estimator target).
FIRST_STEP_CASES = {
    "folder string as X": (
        lambda X, y, folder: (str(folder), y),
        (ValueError, r"got the folder .*load_image_folder\('.*', as_paths=True\)"),
    ),
    "labels mixing int and str": (
        lambda X, y, folder: (X, np.array([*y[:-1], "cat"], dtype=object)),
        MIXED_LABELS,
    ),
}


@pytest.mark.parametrize("target", list(MAKERS))
@pytest.mark.parametrize("case", FIRST_STEP_CASES)
def test_first_wrong_step_gets_a_cnnfix_error(small_digits, tmp_path, case, target):
    make, (error, message) = FIRST_STEP_CASES[case]
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    X, y = make(*small_digits, tmp_path / "photos")
    y_before = y.copy()
    with pytest.raises(error, match=message):
        _call(target, X, y, {}, {})
    _assert_unchanged([y], [y_before])


@pytest.mark.parametrize("case", FIRST_STEP_CASES)
def test_first_wrong_step_gets_a_cnnfix_error_from_diagnose(
    small_digits, tmp_path, case
):
    make, (error, message) = FIRST_STEP_CASES[case]
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    X, y = make(*small_digits, tmp_path / "photos")
    y_before = y.copy()
    with pytest.raises(error, match=message):
        _call("diagnose", X, y, {}, {})
    _assert_unchanged([y], [y_before])


def test_a_folder_as_test_data_gets_a_cnnfix_error_from_diagnose(
    small_digits, tmp_path
):
    message = FIRST_STEP_CASES["folder string as X"][1][1]
    with pytest.raises(ValueError, match=message):
        _call("diagnose", *small_digits, {}, {"X_test": str(tmp_path)})
