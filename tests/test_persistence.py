"""save / load: a .keras file that Keras reads too, loaded without pickle."""

import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from cnnfix import ClassBalancer, DropoutCNN, TunedCNNClassifier, load

from .conftest import TINY


@pytest.fixture(scope="module")
def fitted(small_digits):
    X, y = small_digits
    labels = np.array(["zero", "one", "two"])[y]  # string labels round-trip
    return DropoutCNN(**TINY, validation_split=0.2).fit(X, labels)


def test_save_and_load_give_identical_predictions(fitted, small_digits, tmp_path):
    X, _ = small_digits
    path = tmp_path / "model.keras"
    fitted.save(path)
    loaded = load(path)
    assert type(loaded) is DropoutCNN
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    assert loaded.image_shape_ == fitted.image_shape_
    assert loaded.history_ == fitted.history_
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert list(loaded.predict(X[:3])) == list(fitted.predict(X[:3]))


def test_the_file_is_a_keras_model_too(fitted, tmp_path):
    path = tmp_path / "model.keras"
    fitted.save(path)
    model = keras.saving.load_model(path, safe_mode=True)
    assert model.count_params() == fitted.model_.count_params()
    assert "cnnfix.json" in zipfile.ZipFile(path).namelist()


def test_load_in_another_process(fitted, small_digits, tmp_path):
    X, _ = small_digits
    path = tmp_path / "model.keras"
    fitted.save(path)
    np.save(tmp_path / "X.npy", X[:20])
    code = (
        "import sys, numpy as np, cnnfix; "
        "clf = cnnfix.load(sys.argv[1]); "
        "print(' '.join(clf.predict(np.load(sys.argv[2]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "X.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == list(fitted.predict(X[:20]))


def test_object_parameters_are_named_when_dropped(small_digits, tmp_path):
    X, y = small_digits
    clf = DropoutCNN(**TINY, balancer=ClassBalancer(random_state=0)).fit(X, y)
    with pytest.warns(UserWarning, match=r"\['balancer'\]"):
        clf.save(tmp_path / "model.keras")
    loaded = load(tmp_path / "model.keras")
    assert loaded.balancer is None
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_a_tuned_classifier_keeps_its_search_results(small_digits, tmp_path):
    X, y = small_digits
    clf = TunedCNNClassifier(
        tuner="random",
        max_trials=2,
        max_epochs=1,
        epochs=4,  # the finalists': a short fit, this test is about the file
        random_state=0,
        search_space={"conv_filters": [(4,), (8,)], "dense_units": 16},
    ).fit(X, y)
    clf.save(tmp_path / "tuned.keras")
    loaded = load(tmp_path / "tuned.keras")
    assert loaded.best_params_ == clf.best_params_
    assert loaded.search_results_ == clf.search_results_
    assert loaded.finalists_ == clf.finalists_ and len(clf.finalists_) == 2
    assert loaded.search_space == clf.search_space
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_bad_paths_and_files(fitted, tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(ValueError, match=r"ending in '\.keras'"):
        fitted.save(tmp_path / "model.pkl")
    with pytest.raises(NotFittedError):
        DropoutCNN().save(tmp_path / "model.keras")
    fitted.model_.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match=r"keras\.saving\.load_model"):
        load(tmp_path / "plain.keras")
