"""GridSearchCV over a ClassBalancer + DropoutCNN pipeline in parallel: joblib's
loky processes, and a dask.distributed LocalCluster through joblib's dask
backend (loopback only). The same code runs on a real cluster by pointing
the Client at its scheduler."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from cnnfix import ClassBalancer, DropoutCNN, make_pipeline

from .conftest import TINY

GRID = {"dropoutcnn__dropout": [0.2, 0.5]}


def _search(n_jobs):
    cnn = DropoutCNN(**{**TINY, "epochs": 12})
    pipeline = make_pipeline(ClassBalancer(random_state=0), cnn)
    return GridSearchCV(pipeline, GRID, cv=2, n_jobs=n_jobs, error_score="raise")


@pytest.fixture(scope="module")
def imbalanced(small_digits):
    """Class 2 cut to 20 images, so the balancer has work to do."""
    X, y = small_digits
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:20]])
    return X[keep], y[keep]


@pytest.fixture(scope="module")
def serial(imbalanced):
    return _search(n_jobs=None).fit(*imbalanced)


def _assert_same_search(search, serial, X, y):
    """The same search as in one process, up to float rounding: workers run
    TensorFlow with fewer threads, which changes the order of its sums."""
    assert search.cv_results_.keys() == serial.cv_results_.keys()
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        atol=0.05,
    )
    assert serial.score(X, y) > 0.9  # the fits learned something to compare
    assert np.mean(search.predict(X) == serial.predict(X)) > 0.95


@pytest.mark.slow
def test_grid_search_in_two_loky_processes(imbalanced, serial):
    search = _search(n_jobs=2).fit(*imbalanced)
    _assert_same_search(search, serial, *imbalanced)


@pytest.mark.slow
def test_grid_search_on_a_dask_local_cluster(imbalanced, serial):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        search = _search(n_jobs=-1).fit(*imbalanced)
    ran_on = {task["worker"] for task in tasks.data}
    assert len(ran_on) == 2, ran_on  # the fits ran on both cluster workers
    _assert_same_search(search, serial, *imbalanced)
