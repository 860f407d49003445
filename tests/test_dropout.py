"""DropoutCNN: mixed precision, and its defaults on real data (slow)."""

import pickle
import warnings

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

import cnnfix
from cnnfix import DropoutCNN
from cnnfix._training import planned_epochs

from .conftest import TINY


def test_mixed_precision_fits_predicts_and_persists(small_digits, tmp_path):
    X, y = small_digits
    labels = np.array(["zero", "one", "two"])[y]
    before = keras.config.dtype_policy().name
    clf = DropoutCNN(**{**TINY, "epochs": 8}, precision="mixed").fit(X * 16, labels)
    assert keras.config.dtype_policy().name == before  # not leaked
    assert clf.model_.get_layer("conv0").compute_dtype == "float16"
    assert clf.model_.get_layer("probabilities").compute_dtype == "float32"
    proba = clf.predict_proba(X * 16)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.score(X * 16, labels) > 0.7  # it learned (chance: 0.33)
    clf.save(tmp_path / "mixed.keras")
    with warnings.catch_warnings():  # e.g. Keras's "Skipping variable loading"
        warnings.simplefilter("error", UserWarning)
        copies = [
            cnnfix.load(tmp_path / "mixed.keras"),
            pickle.loads(pickle.dumps(clf)),
        ]
    for copy in copies:
        assert copy.model_.get_layer("conv0").compute_dtype == "float16"
        np.testing.assert_allclose(copy.predict_proba(X * 16), proba, atol=1e-6)
    assert keras.config.dtype_policy().name == before


def test_float32_is_the_default_precision(small_digits):
    X, y = small_digits
    clf = DropoutCNN(**TINY).fit(X, y + 10)
    assert clf.precision == "float32"
    assert {layer.compute_dtype for layer in clf.model_.layers[1:]} == {"float32"}


def test_unknown_precision_gets_sklearn_s_message(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="'precision' parameter of DropoutCNN"):
        DropoutCNN(**TINY, precision="float16").fit(X, y)


@pytest.mark.slow
def test_defaults_reach_98_5_percent_on_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    clf = DropoutCNN(random_state=0).fit(X_train, y_train)
    assert accuracy_score(y_test, clf.predict(X_test)) >= 0.985
    assert clf.n_epochs_ <= planned_epochs(len(X_train), clf.batch_size)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_defaults_are_robust_to_the_seed(digits, seed):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    clf = DropoutCNN(random_state=seed).fit(X_train * 16, y_train)  # raw 0-255 scale
    assert accuracy_score(y_test, clf.predict(X_test * 16)) >= 0.98


def test_plateau_schedule_divides_the_learning_rate_when_the_loss_stalls():
    # Noise images with random string labels: the validation loss cannot
    # improve for long, so the schedule must act; without it the rate stays.
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(120, 6, 5, 3), dtype=np.uint8)
    y = rng.choice(np.array(["cat", "dog", "owl"]), size=120)
    settings = dict(TINY, epochs=12, patience=3, learning_rate=0.01)
    plateau = DropoutCNN(**settings, lr_schedule="plateau").fit(X, y)
    rates = np.asarray(plateau.history_["learning_rate"])
    assert rates[0] == pytest.approx(0.01)
    steps = rates[1:] / rates[:-1]
    assert np.any(np.isclose(steps, 0.2)), rates  # divided by 5 at a stall
    assert np.all(np.isclose(steps, 0.2) | np.isclose(steps, 1.0)), rates
    constant = DropoutCNN(**settings, lr_schedule=None).fit(X, y)
    assert constant.n_epochs_ > 1
    assert np.allclose(constant.history_.get("learning_rate", 0.01), 0.01)
    assert float(constant.model_.optimizer.learning_rate) == pytest.approx(0.01)


def test_unknown_lr_schedule_gets_sklearn_s_message(small_digits):
    X, y = small_digits
    message = r"'lr_schedule' parameter of DropoutCNN must be None or .*'plateau'"
    with pytest.raises(ValueError, match=message):
        DropoutCNN(**TINY, lr_schedule="cosine").fit(X, y)


class _PlannedEpochs(keras.callbacks.Callback):
    """Records the epochs the fit planned and ends it after one."""

    def on_epoch_end(self, epoch, logs=None):
        self.planned = self.params["epochs"]
        self.model.stop_training = True


def test_auto_epochs_are_planned_from_the_training_part_s_size(small_digits):
    X, y = small_digits  # 300 images, 30 of them held out for validation
    seen = _PlannedEpochs()
    clf = DropoutCNN(**dict(TINY, epochs="auto", batch_size=1), callbacks=[seen])
    clf.fit(X, y)
    # 270 training images, one a step: 23 epochs make the planned 6,000
    # steps (all 300 images would plan 20).
    assert seen.planned == planned_epochs(270, 1) == 23
    assert clf.n_epochs_ == 1


def test_epochs_refuses_other_strings(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="'epochs' parameter of DropoutCNN"):
        DropoutCNN(**{**TINY, "epochs": "max"}).fit(X, y)
