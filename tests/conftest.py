import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gc

import keras  # noqa: F401  (TensorFlow, once, before the freeze below)
import numpy as np
import pytest
from sklearn.datasets import load_digits

# What the imports made lives as long as the test process: freeze it, as
# cnnfix's search worker does and for the reason given there
# (cnnfix/tuning/preload.py).
gc.freeze()

#: Settings that train a tiny CNN in well under a second per epoch.
TINY = dict(conv_filters=(4,), dense_units=16, epochs=3, batch_size=32, random_state=0)

#: One quick random trial of a small CNN, for TunedCNNClassifier: its first
#: (defaults') trial takes 8 filters and a light dropout, so it learns in 2
#: epochs; its finalist trains at most 4.
QUICK_SEARCH = dict(
    tuner="random",
    max_trials=1,
    max_epochs=2,
    epochs=4,
    search_space={"conv_filters": [(8,), (4,)], "dense_units": 16, "dropout": 0.2},
    random_state=0,
)


@pytest.fixture(scope="session")
def digits():
    """All 1,797 digits as (n, 8, 8, 1) float images with int labels."""
    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 8, 8, 1).astype(np.float32), y


@pytest.fixture(scope="session")
def small_digits(digits):
    """300 digits of classes 0-2: enough for a tiny CNN to learn."""
    X, y = digits
    keep = np.flatnonzero(y < 3)[:300]
    return X[keep], y[keep]


def require(what, install):
    """Skip a test that needs ``what`` (a dataset, a browser) where it is not
    installed; fail instead where CNNFIX_CI is set (.ci/run installs it)."""
    message = f"{what} is not installed: {install}"
    if os.environ.get("CNNFIX_CI"):
        pytest.fail(message)
    pytest.skip(message)


def fashion_mnist():
    """Fashion-MNIST's ((X_train, y_train), (X_test, y_test)), or a skip."""
    from cnnfix.datasets import load_fashion_mnist

    try:
        return load_fashion_mnist()
    except FileNotFoundError:
        require("Fashion-MNIST", "apt-get install -y dataset-fashion-mnist")
