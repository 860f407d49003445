"""BaseCNNClassifier behaviour, exercised through DropoutCNN with tiny models."""

import logging

import keras
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from cnnfix import DropoutCNN
from cnnfix._input import InputPolicy, stratified_split
from cnnfix._input.split import sample_weights

from .conftest import TINY


@pytest.fixture(scope="module")
def fitted(small_digits):
    X, y = small_digits
    return DropoutCNN(**TINY).fit(X, y)


def test_fitted_attributes(fitted):
    assert isinstance(fitted.model_, keras.Model)
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2])
    assert fitted.n_classes_ == 3
    assert fitted.n_features_in_ == 64
    assert fitted.image_shape_ == (8, 8, 1)
    assert set(fitted.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert fitted.n_epochs_ == len(fitted.history_["loss"]) == TINY["epochs"]
    assert all(isinstance(v, float) for v in fitted.history_["loss"])
    assert fitted.model_.output_shape == (None, 3)


def test_is_a_classifier():
    assert is_classifier(DropoutCNN())


def test_init_stores_parameters_and_builds_nothing():
    clf = DropoutCNN(dropout=0.3)
    assert clf.get_params()["dropout"] == 0.3
    assert not hasattr(clf, "model_")
    with pytest.raises(NotFittedError):
        clf.predict(np.zeros((1, 8, 8, 1)))


def test_predictions_for_each_input_layout_agree(fitted, small_digits):
    X, _ = small_digits
    expected = fitted.predict_proba(X[:20])
    np.testing.assert_array_equal(fitted.predict_proba(X[:20, :, :, 0]), expected)
    np.testing.assert_array_equal(
        fitted.predict_proba(X[:20].reshape(20, 64)), expected
    )


def test_predict_proba_rows_are_distributions_in_classes_order(fitted, small_digits):
    X, _ = small_digits
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(1)], fitted.predict(X))


def test_a_rows_probabilities_do_not_depend_on_the_order_of_X(fitted):
    # enough rows that a forward pass's rounding depends on a row's place
    X = np.random.default_rng(1).uniform(0, 16, size=(300, 8, 8, 1))
    proba = fitted.predict_proba(X)
    shuffled = np.random.default_rng(2).permutation(len(X))
    np.testing.assert_array_equal(fitted.predict_proba(X[shuffled]), proba[shuffled])


def test_predict_does_not_pay_model_predict(fitted, small_digits, monkeypatch):
    X, _ = small_digits
    expected = fitted.predict_proba(X)

    def slow_path(*args, **kwargs):
        raise AssertionError("model.predict was called")

    monkeypatch.setattr(fitted.model_, "predict", slow_path)
    np.testing.assert_allclose(fitted.predict_proba(X), expected, rtol=1e-6)
    many_chunks = InputPolicy(predict_rows=7)
    (chunked,) = fitted._probabilities([fitted.model_], X, policy=many_chunks)
    np.testing.assert_allclose(chunked, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog", "emu"]), np.array([10, -3, 7]), np.array([9.0, 0.0, 5.0])],
)
def test_any_label_type_round_trips(small_digits, labels):
    X, y = small_digits
    y_labels = labels[y]
    clf = DropoutCNN(**TINY).fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels)
    assert clf.predict(X).dtype == y_labels.dtype


def test_binary_boolean_labels(small_digits):
    X, y = small_digits
    clf = DropoutCNN(**{**TINY, "epochs": 8, "learning_rate": 0.01}).fit(X, y == 0)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y == 0) > 0.9


def test_same_seed_same_predictions_and_global_random_state_untouched(small_digits):
    X, y = small_digits
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    first = DropoutCNN(**TINY).fit(X, y).predict_proba(X)
    assert np.random.rand() == expected_next
    second = DropoutCNN(**TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = DropoutCNN(**{**TINY, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_refit_builds_a_fresh_model(small_digits):
    X, y = small_digits
    clf = DropoutCNN(**TINY).fit(X, y)
    first_model = clf.model_
    clf.fit(X[y < 2], y[y < 2])
    assert clf.model_ is not first_model
    assert clf.n_classes_ == 2 and clf.model_.output_shape == (None, 2)


def test_stratified_split_keeps_every_class_and_rare_samples():
    y = np.repeat([0, 1, 2, 3], [50, 30, 20, 1])  # sorted by class, one rare
    train, val = stratified_split(y, 0.2, np.random.RandomState(0))
    assert sorted(np.concatenate([train, val])) == list(range(len(y)))
    assert np.bincount(y[val], minlength=4).tolist() == [10, 6, 4, 0]
    assert 3 in y[train]
    assert not np.all(np.diff(train) > 0)  # shuffled, not the sorted order
    train, val = stratified_split(y, 0.0, np.random.RandomState(0))
    assert len(val) == 0 and len(train) == len(y)


def test_validation_data_come_from_every_class(small_digits):
    X, y = small_digits
    order = np.argsort(y, kind="stable")  # class-sorted, Keras's worst case
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["val_accuracy"])

    clf = DropoutCNN(**{**TINY, "epochs": 8, "learning_rate": 0.01}, callbacks=[Spy()])
    clf.fit(X[order], y[order])
    # Keras's unshuffled tail would be class 2 only; a model that had never
    # seen class 2 in training would score 0 on it.
    assert len(seen) == clf.n_epochs_ and max(seen) > 0.8


def test_early_stopping_stops_and_can_be_turned_off(small_digits):
    X, y = small_digits
    stopped = DropoutCNN(**{**TINY, "epochs": 60, "patience": 1}).fit(X, y)
    assert stopped.n_epochs_ < 60
    full = DropoutCNN(**{**TINY, "epochs": 4, "early_stopping": False}).fit(X, y)
    assert full.n_epochs_ == 4


def test_no_validation_data_means_no_val_metrics(small_digits):
    X, y = small_digits
    clf = DropoutCNN(**TINY, validation_split=0.0).fit(X, y)
    assert "val_loss" not in clf.history_


def test_normalize_learns_training_statistics(small_digits):
    X, y = small_digits
    raw = X * 16  # 0-255-like pixels
    clf = DropoutCNN(**{**TINY, "validation_split": 0.0}).fit(raw, y)
    norm = clf.model_.get_layer(index=1)
    assert type(norm).__name__ == "Normalization"
    np.testing.assert_allclose(np.ravel(norm.mean), raw.mean(), rtol=1e-5)
    plain = DropoutCNN(**TINY, normalize=False).fit(X, y)
    assert "Normalization" not in [type(la).__name__ for la in plain.model_.layers]


def test_zero_class_weight_means_the_class_is_not_learned(small_digits):
    X, y = small_digits
    settings = {**TINY, "epochs": 10, "learning_rate": 0.01}
    recall_2 = lambda clf: np.mean(clf.predict(X[y == 2]) == 2)  # noqa: E731
    assert recall_2(DropoutCNN(**settings).fit(X, y)) > 0.9
    assert recall_2(DropoutCNN(**settings, class_weight={2: 0.0}).fit(X, y)) < 0.1
    weights = np.where(y == 2, 0.0, 1.0)
    assert recall_2(DropoutCNN(**settings).fit(X, y, sample_weight=weights)) < 0.1


def test_balanced_class_weight():
    classes, y_encoded = np.array(["a", "b"]), np.array([0, 0, 0, 1])
    weights = sample_weights(y_encoded, classes, "balanced")
    np.testing.assert_allclose(weights, [4 / 6, 4 / 6, 4 / 6, 2.0])
    given = np.array([1, 1, 1, 0.5], dtype=np.float32)
    weights = sample_weights(y_encoded, classes, {"b": 3.0}, given)
    np.testing.assert_allclose(weights, [1, 1, 1, 1.5])
    assert sample_weights(y_encoded, classes) is None


def test_class_weight_naming_an_unknown_label(small_digits):
    X, y = small_digits
    with pytest.raises(
        ValueError, match=r"class_weight names labels \[7\] that are not in y"
    ):
        DropoutCNN(**TINY, class_weight={7: 2.0}).fit(X, y)


def test_augmentation_is_active_only_in_training(small_digits):
    X, y = small_digits
    flip = keras.layers.RandomFlip("horizontal")
    clf = DropoutCNN(**TINY, augmentation=[flip]).fit(X, y)
    assert "RandomFlip" in [type(la).__name__ for la in clf.model_.layers]
    assert flip not in clf.model_.layers  # the user's layer is copied
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    layer = clf.model_.get_layer(index=1)
    np.testing.assert_array_equal(layer(X[:5], training=False), X[:5])
    assert not np.array_equal(layer(X[:50], training=True), X[:50])


def test_verbose(small_digits, capsys):
    X, y = small_digits
    DropoutCNN(**TINY, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""
    DropoutCNN(**TINY, verbose=1).fit(X, y)
    assert "Epoch 1/3" in capsys.readouterr().out


def test_user_callbacks_run_every_epoch(small_digits):
    X, y = small_digits
    epochs = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)

    clf = DropoutCNN(**TINY, callbacks=[Count()]).fit(X, y)
    assert epochs == list(range(clf.n_epochs_))


def test_clone_fitted_and_unfitted(fitted):
    for est in (fitted, DropoutCNN(dropout=0.2)):
        copy = clone(est)
        assert copy.get_params() == est.get_params()
        with pytest.raises(NotFittedError):
            check_is_fitted(copy)


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"dropout": 1.5},
            r"'dropout' parameter of DropoutCNN must be a float in the range \[0.0, 1",
        ),
        (
            {"epochs": 0},
            r"'epochs' parameter of DropoutCNN must be an int in the range \[1, inf\)",
        ),
        ({"augmentation": "heavy"}, r"The 'augmentation' parameter of DropoutCNN"),
        ({"optimizer": "adamm"}, r"The 'optimizer' parameter of DropoutCNN"),
        (
            {"conv_filters": (8, 0)},
            r"conv_filters must be a non-empty tuple of positive ints",
        ),
        (
            {"conv_filters": ()},
            r"conv_filters must be a non-empty tuple of positive ints",
        ),
    ],
)
def test_invalid_parameters(small_digits, params, message):
    X, y = small_digits
    with pytest.raises(ValueError, match=message):
        DropoutCNN(**{**TINY, **params}).fit(X, y)


@pytest.mark.integration
def test_no_retracing_warning_when_many_fitted_models_predict(small_digits, caplog):
    X, y = small_digits
    models = [DropoutCNN(**{**TINY, "epochs": 1}).fit(X, y) for _ in range(6)]
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for model in models:
            model.model_.predict(X[:10], verbose=0)  # Keras's traced predict
    assert "retracing" not in caplog.text
    logging.getLogger("tensorflow").warning("other TensorFlow warnings pass")
    assert "other TensorFlow warnings pass" in caplog.text
