"""Faults, persistence, resources and property tests over every estimator."""

import io
import json
import multiprocessing.util
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import cloudpickle
import joblib
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from cnnfix import ClassBalancer, DropoutCNN, TunedCNNClassifier, make_pipeline

from .conftest import TINY
from .test_bad_input import TUNED

ESTIMATORS = {
    "DropoutCNN": lambda **p: DropoutCNN(**{**TINY, **p}),
    "TunedCNNClassifier": lambda **p: TunedCNNClassifier(**{**TUNED, **p}),
    "TunedCNNClassifier-isolated": lambda **p: TunedCNNClassifier(
        **{**TUNED, "isolate_search": True, **p}
    ),
    "Pipeline": lambda **p: make_pipeline(
        ClassBalancer(random_state=0), DropoutCNN(**{**TINY, **p})
    ),
}


def _set_callbacks(estimator, callbacks):
    name = "dropoutcnn__callbacks" if hasattr(estimator, "steps") else "callbacks"
    return estimator.set_params(**{name: callbacks})


@pytest.fixture(scope="module", params=["DropoutCNN", "TunedCNNClassifier", "Pipeline"])
def fitted(request, small_digits):
    return ESTIMATORS[request.param]().fit(*small_digits)


# -- faults --------------------------------------------------------------------


class Fail(keras.callbacks.Callback):
    """Raises ``error`` at the end of the first epoch."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def on_epoch_end(self, epoch, logs=None):
        raise self.error("injected")


@pytest.fixture
def clean_dirs(tmp_path, monkeypatch):
    """An empty temporary directory and an empty working directory; the test
    asserts both are still empty at the end."""
    multiprocessing.util.get_temp_dir()  # the process-lifetime pymp-* folder
    tmp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir(), cwd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.chdir(cwd)
    yield tmp, cwd
    assert sorted(os.listdir(tmp)) == []
    assert sorted(os.listdir(cwd)) == []


@pytest.mark.slow
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_an_interrupted_fit_leaves_no_trace(small_digits, clean_dirs, name, error):
    X, y = small_digits
    fresh = _set_callbacks(ESTIMATORS[name](), [Fail(error)])
    with pytest.raises(error, match="injected"):
        fresh.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)

    previous = ESTIMATORS[name]().fit(X, y)
    expected = previous.predict_proba(X)
    _set_callbacks(previous, [Fail(error)])
    with pytest.raises(error, match="injected"):
        previous.fit(X[:, :4, :4], y)  # another image shape: the old one survives
    np.testing.assert_array_equal(previous.predict_proba(X), expected)


def test_an_interrupted_dropout_fit_leaves_no_trace(small_digits, clean_dirs):
    """The fast twin of the interrupted-fit test over every estimator: a
    DropoutCNN whose first epoch raises is left unfitted, and one fitted
    before keeps its model, with no file left behind."""
    X, y = small_digits
    fresh = DropoutCNN(**TINY, callbacks=[Fail(RuntimeError)])
    with pytest.raises(RuntimeError, match="injected"):
        fresh.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    previous = DropoutCNN(**TINY).fit(X, y)
    expected = previous.predict_proba(X)
    previous.set_params(callbacks=[Fail(RuntimeError)])
    with pytest.raises(RuntimeError, match="injected"):
        previous.fit(X[:, :4, :4], y)
    np.testing.assert_array_equal(previous.predict_proba(X), expected)


# -- persistence ---------------------------------------------------------------


def _joblib_round_trip(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


ROUND_TRIPS = {
    "pickle": lambda est: pickle.loads(pickle.dumps(est)),
    "cloudpickle": lambda est: cloudpickle.loads(cloudpickle.dumps(est)),
    "joblib": _joblib_round_trip,
}


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
def test_round_trips_give_identical_predictions(fitted, small_digits, how):
    X, y = small_digits
    restored = ROUND_TRIPS[how](fitted)
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    assert restored.score(X, y) == fitted.score(X, y)
    assert restored.get_params().keys() == fitted.get_params().keys()
    final, final_restored = (
        getattr(e, "steps", [[0, e]])[-1][1] for e in (fitted, restored)
    )
    assert sorted(vars(final_restored)) == sorted(vars(final))  # fitted attributes
    assert final_restored.history_ == final.history_
    assert getattr(final_restored, "best_params_", None) == getattr(
        final, "best_params_", None
    )


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
def test_a_fitted_balancer_round_trips(small_digits, how):
    X, y = small_digits
    y = np.where(np.arange(len(y)) % 3 == 0, y, 0)  # class 0 is the majority
    balancer = ClassBalancer(random_state=0).fit(X, y)
    restored = ROUND_TRIPS[how](balancer)
    assert restored.sampling_strategy_ == balancer.sampling_strategy_
    again = ClassBalancer(random_state=0).fit_resample(X, y)
    for a, b in zip(restored.fit_resample(X, y), again, strict=True):
        np.testing.assert_array_equal(a, b)


# -- resources -----------------------------------------------------------------


def _open_files():
    return len(os.listdir("/proc/self/fd"))


LINUX_PROC = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="reads /proc/self (Linux)"
)


@pytest.mark.slow
@LINUX_PROC
def test_fits_leak_no_threads_files_or_models(small_digits):
    import gc
    import weakref

    X, y = small_digits
    DropoutCNN(**TINY).fit(X, y).predict(X)  # Keras's own threads start once
    threads, files, models = threading.active_count(), _open_files(), []
    for seed in range(5):
        clf = DropoutCNN(**{**TINY, "random_state": seed}).fit(X, y)
        clf.predict(X)
        models.append(weakref.ref(clf.model_))
    del clf
    gc.collect()
    assert [m for m in models if m() is not None] == []
    assert threading.active_count() == threads
    assert _open_files() == files


@LINUX_PROC
def test_a_fit_leaks_no_thread_file_or_model(small_digits):
    """The fast twin of the leak and memory tests: after a warm-up fit, one
    more fit and predict leave the thread and file counts as they were, and
    its Keras model is freed with the estimator."""
    import gc
    import weakref

    X, y = small_digits
    DropoutCNN(**TINY).fit(X, y).predict(X)  # Keras's own threads start once
    threads, files = threading.active_count(), _open_files()
    clf = DropoutCNN(**{**TINY, "random_state": 1}).fit(X, y)
    clf.predict(X)
    model = weakref.ref(clf.model_)
    del clf
    gc.collect()
    assert model() is None
    assert threading.active_count() == threads
    assert _open_files() == files


@pytest.mark.slow
@LINUX_PROC
def test_consecutive_fits_keep_no_more_memory_than_keras_itself():
    """Every Keras model fitted in a process leaves a few MB inside TensorFlow
    (clear_session or not); cnnfix must add nothing to it, and hold no
    thread or file open."""
    script = Path(__file__).parents[1] / "benchmarks" / "bench_memory.py"
    done = subprocess.run(
        [sys.executable, str(script), "--fits", "10", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    ours, keras_itself = results["cnnfix"], results["keras"]
    assert ours["growth_per_fit_mb"] < keras_itself["growth_per_fit_mb"] + 3
    assert ours["rss_mb"][-1] - ours["rss_mb"][0] < 20 * 10  # bounded per fit
    assert len(set(ours["threads"][1:])) == 1
    assert len(set(ours["open_files"][1:])) == 1


# -- properties ----------------------------------------------------------------

LABELS = {
    "int": lambda k: np.arange(k) * 3 - 2,
    "str": lambda k: np.array([f"class {i}" for i in range(k)]),
    "bool": lambda k: np.array([True, False][:k]),
    "float": lambda k: np.arange(k) + 0.0,
}


@st.composite
def datasets(draw):
    n_classes = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(sorted(LABELS)))
    if kind == "bool":
        n_classes = 2
    n = draw(st.integers(n_classes, 24))
    layout = draw(st.sampled_from(["nhwc", "nhw", "flat"]))
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    channels = draw(st.integers(1, 3)) if layout == "nhwc" else 1
    shape = {
        "nhwc": (n, height, width, channels),
        "nhw": (n, height, width),
        "flat": (n, height * width),
    }[layout]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    codes = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n)])[:n]
    return rng.random(shape, dtype=np.float32), LABELS[kind](n_classes)[codes]


def assert_round_trip(X, y):
    """A one-epoch fit of a tiny CNN on (X, y) predicts labels of y's type,
    among its classes, and probabilities that sum to 1."""
    clf = DropoutCNN(
        conv_filters=(2,),
        dense_units=4,
        epochs=1,
        early_stopping=False,
        validation_split=0.0,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    predicted = clf.predict(X)
    assert predicted.shape == (len(X),) and predicted.dtype == y.dtype
    assert set(predicted) <= set(y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    "shape, kind",
    [
        ((7, 3, 5, 3), "str"),
        ((6, 4, 2), "bool"),
        ((9, 6), "float"),
        ((5, 1, 1, 1), "int"),
    ],
)
def test_some_shapes_and_label_types_round_trip(shape, kind):
    """The fast twin of the property test: fixed shapes and label types."""
    rng = np.random.default_rng(0)
    n_classes = 2 if kind == "bool" else 3
    codes = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, shape[0])])
    X, y = (
        rng.random(shape, dtype=np.float32),
        LABELS[kind](n_classes)[codes[: shape[0]]],
    )
    assert_round_trip(X, y)


@pytest.mark.slow
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=datasets())
def test_any_valid_shape_and_label_type_round_trips(data):
    assert_round_trip(*data)
