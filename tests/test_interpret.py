"""gradcam, top_losses and most_confused: what a fitted CNN looks at and
where it goes wrong, tested on planted shortcuts."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from cnnfix import DropoutCNN
from cnnfix.diagnostics.interpret import TopLosses, gradcam, most_confused, top_losses

from .conftest import TINY

NAMES = np.array(["zero", "one", "two"])


@pytest.fixture(scope="module")
def named_digits(small_digits):
    """300 digits of classes 0-2, labelled "zero", "one", "two"."""
    X, y = small_digits
    return X, NAMES[y]


@pytest.fixture(scope="module")
def fitted(named_digits):
    return DropoutCNN(**TINY).fit(*named_digits)


def corner(size, side=2):
    """Mask of the top-left ``side`` x ``side`` pixels of a square image."""
    mask = np.zeros((size, size), dtype=bool)
    mask[:side, :side] = True
    return mask


def concentration(maps, mask):
    """Mean heat inside the mask over mean heat outside it."""
    return float(maps[:, mask].mean() / maps[:, ~mask].mean())


# -- gradcam ------------------------------------------------------------------


def test_gradcam_maps_are_at_the_input_size_in_0_1(fitted, named_digits):
    X, _ = named_digits
    X_before = X.copy()
    maps = gradcam(fitted, X[:50])
    assert maps.shape == (50, 8, 8) and maps.dtype == np.float32
    assert maps.min() >= 0.0
    np.testing.assert_allclose(maps.max(axis=(1, 2))[maps.max(axis=(1, 2)) > 0], 1.0)
    np.testing.assert_array_equal(X, X_before)  # the images are not modified


def test_gradcam_explains_the_predicted_class_by_default(fitted, named_digits):
    X, _ = named_digits
    predicted = fitted.predict(X[:20])
    np.testing.assert_allclose(
        gradcam(fitted, X[:20]), gradcam(fitted, X[:20], y=predicted)
    )
    one_label = gradcam(fitted, X[:20], y="two")
    np.testing.assert_allclose(one_label, gradcam(fitted, X[:20], y=["two"] * 20))


def test_gradcam_batches_give_the_same_maps(fitted, named_digits):
    X, _ = named_digits
    whole = gradcam(fitted, X[:30])
    np.testing.assert_allclose(gradcam(fitted, X[:30], batch_size=7), whole, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        gradcam(fitted, X[:30], batch_size=0)


def test_gradcam_layer_by_name_and_clear_errors(fitted, named_digits):
    X, y = named_digits
    assert gradcam(fitted, X[:4], layer="conv0").shape == (4, 8, 8)
    with pytest.raises(ValueError, match=r"layer='dense' is not a layer .*'relu0'"):
        gradcam(fitted, X[:4], layer="dense")
    with pytest.raises(ValueError, match=r"not fitted on: \['three'\]"):
        gradcam(fitted, X[:2], y=["one", "three"])
    with pytest.raises(ValueError, match="one label per image"):
        gradcam(fitted, X[:4], y=y[:3])
    with pytest.raises(ValueError, match=r"Expected images of shape \(8, 8, 1\)"):
        gradcam(fitted, np.zeros((2, 9, 9, 1)))


def test_gradcam_needs_a_cnnfix_cnn(named_digits):
    from sklearn.linear_model import LogisticRegression

    X, y = named_digits
    flat = LogisticRegression(max_iter=200).fit(X.reshape(len(X), -1), y)
    with pytest.raises(
        TypeError, match=r"needs a fitted cnnfix CNN .*LogisticRegression"
    ):
        gradcam(flat, X.reshape(len(X), -1))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        gradcam(DropoutCNN(), X)


def test_gradcam_of_a_pipeline_transforms_first(named_digits):
    from sklearn.preprocessing import FunctionTransformer

    from cnnfix import ClassBalancer, make_pipeline

    X, y = named_digits
    pipe = make_pipeline(
        ClassBalancer(random_state=0),
        FunctionTransformer(lambda images: 16 - images),  # inverted grey
        DropoutCNN(**TINY),
    ).fit(X, y)
    np.testing.assert_allclose(gradcam(pipe, X[:10]), gradcam(pipe[-1], 16 - X[:10]))


def test_gradcam_finds_a_marker_that_is_the_only_signal():
    """Noise images; every image of the class "marked" has a bright 2x2
    corner, the only thing that tells the classes apart: the heat on the
    marker is at least 3 times the heat elsewhere."""
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 8, (400, 8, 8, 1)).astype(np.float32)
    y = np.array(["plain", "marked"])[rng.integers(0, 2, 400)]
    marker = corner(8)
    X[(y == "marked")[:, None, None, None] & marker[None, :, :, None]] = 16.0
    # One convolution per block, small batches and a constant rate: a CNN
    # that learns the marker in 10 epochs, whatever DropoutCNN's defaults.
    cnn = DropoutCNN(
        conv_filters=(4,),
        convs_per_block=1,
        dense_units=16,
        epochs=10,
        batch_size=32,
        lr_schedule=None,
        random_state=2,
    )
    cnn.fit(X[:300], y[:300])
    X_test, y_test = X[300:], y[300:]
    assert np.mean(cnn.predict(X_test) == y_test) > 0.95
    ratio = concentration(gradcam(cnn, X_test[y_test == "marked"], y="marked"), marker)
    assert ratio >= 3, f"heat on the marker is only {ratio:.2f} times the rest"


@pytest.mark.slow
def test_gradcam_sees_a_shortcut_planted_in_real_digits():
    """Digits upscaled to 16x16; every "d3" (train and test) carries a
    bright 2x2 marker in the top-left corner, where digits have no ink. The
    model can read the digit or the marker: the heat maps of the marked
    test images sit on the marker (at least 3 times the heat elsewhere),
    and those of the other classes do not (under 1)."""
    from cnnfix.datasets import load_digit_images

    X, y = load_digit_images()
    X = np.repeat(np.repeat(X, 2, axis=1), 2, axis=2)
    y = np.array([f"d{v}" for v in y])
    marker = corner(16)
    X[(y == "d3")[:, None, None, None] & marker[None, :, :, None]] = 16.0
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:800], order[1200:]
    cnn = DropoutCNN(  # the configuration the guide's numbers come from
        conv_filters=(16, 32),
        convs_per_block=1,
        epochs=6,
        batch_size=32,
        lr_schedule=None,
        random_state=1,
    )
    cnn.fit(X[train], y[train])
    marked = test[y[test] == "d3"]
    ratio = concentration(gradcam(cnn, X[marked], y="d3"), marker)
    control = concentration(gradcam(cnn, X[test[y[test] != "d3"]]), marker)
    assert ratio >= 3, f"heat on the marker is only {ratio:.2f} times the rest"
    assert control < 1, f"unmarked images: {control:.2f} times the rest"


# -- top_losses and most_confused ---------------------------------------------


class KnownPredictions(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are given: row i of X is
    the number i, and ``proba[i]`` is its prediction."""

    def __init__(self, proba=None, classes=None):
        self.proba = proba
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        return self

    def predict_proba(self, X):
        return np.asarray(self.proba)[np.asarray(X, dtype=int).ravel()]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def test_top_losses_are_the_most_confidently_wrong_first():
    proba = np.array(
        [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.05, 0.05, 0.9], [0.6, 0.3, 0.1]]
    )
    model = KnownPredictions(proba, ["cat", "dog", "eel"]).fit()
    X, y = np.arange(4)[:, None], np.array(["cat", "cat", "dog", "dog"])
    worst = top_losses(model, X, y, k=3)
    assert isinstance(worst, TopLosses)
    indices, losses, true, predicted = worst
    assert indices.tolist() == [2, 1, 3]  # p(true) 0.05, 0.2, 0.3
    np.testing.assert_allclose(losses, -np.log([0.05, 0.2, 0.3]))
    assert true.tolist() == ["dog", "cat", "dog"]
    assert predicted.tolist() == ["eel", "dog", "cat"]
    assert len(top_losses(model, X, y, k=100).indices) == 4  # all there are
    with pytest.raises(ValueError, match="k must be a positive int"):
        top_losses(model, X, y, k=0)
    with pytest.raises(ValueError, match=r"not fitted on: \['fox'\]"):
        top_losses(model, X, np.array(["cat", "fox", "dog", "dog"]))


def test_most_confused_counts_pairs_with_the_original_labels():
    proba = np.eye(3)[[1, 1, 1, 0, 2, 2, 0, 1]]  # predicted classes
    model = KnownPredictions(proba, [10, 20, 30]).fit()
    X = np.arange(8)[:, None]
    y = np.array([10, 10, 30, 10, 20, 20, 10, 20])
    table = most_confused(model, X, y)
    assert table == [
        {"true": 10, "predicted": 20, "count": 2},
        {"true": 20, "predicted": 30, "count": 2},
        {"true": 30, "predicted": 20, "count": 1},
    ]
    assert all(type(row["true"]) is int for row in table)  # not NumPy scalars
    assert most_confused(model, X, y, min_count=2) == table[:2]
    assert most_confused(model, X, model.predict(X)) == []


def test_top_losses_and_most_confused_of_a_real_cnn(fitted, named_digits):
    X, y = named_digits
    predicted = fitted.predict(X)
    table = most_confused(fitted, X, y)
    assert sum(row["count"] for row in table) == np.sum(predicted != y)
    assert {row["true"] for row in table} <= set(NAMES)
    worst = top_losses(fitted, X, y, k=5)
    proba = fitted.predict_proba(X[worst.indices])
    columns = np.searchsorted(fitted.classes_, y[worst.indices])
    np.testing.assert_allclose(worst.losses, -np.log(proba[np.arange(5), columns]))
    assert np.all(np.diff(worst.losses) <= 0)
