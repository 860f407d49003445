"""The ``distribution`` parameter: one fit on several devices.

Logical devices can only be set before TensorFlow starts, so the fits
under two logical CPU devices run in one fresh subprocess that prints its
findings as JSON; the checks that need no second device run here.
"""

import json
import os
import pickle
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from cnnfix import DropoutCNN, TunedCNNClassifier
from cnnfix._distribute import (
    LeftBehind,
    distribution_strategy,
    in_parallel_worker,
    left_behind,
    pad_batch,
)

ROOT = Path(__file__).resolve().parents[1]


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 6, 6, 1)).astype(np.float32)
    y = np.where(np.arange(n) % 2, "cat", "dog")
    return X, y


class FakeStrategy:
    """Stands for a ``tf.distribute.Strategy`` in the checks that need none."""

    def __init__(self, replicas=2, devices=("/cpu:0",), machines=1):
        self.num_replicas_in_sync = replicas
        self.extended = type("Extended", (), {"worker_devices": devices})()
        spec = {"worker": [f"host{i}:2222" for i in range(machines)]}
        cluster = type("Spec", (), {"as_dict": lambda self: spec})()
        resolver = type("Resolver", (), {"cluster_spec": lambda self: cluster})()
        self.cluster_resolver = resolver

    def scope(self):
        raise AssertionError("the checks come first")


# -- pure rules -------------------------------------------------------------


def test_pad_batch_repeats_rows_at_weight_zero():
    x = np.arange(3 * 2).reshape(3, 2)
    y = np.array([7, 8, 9])
    px, py, pw = pad_batch((x, y), 4)
    assert len(px) == len(py) == len(pw) == 4
    np.testing.assert_array_equal(py, [7, 8, 9, 7])
    np.testing.assert_array_equal(pw, [1, 1, 1, 0])
    # One row, three replicas short: the row repeats.
    px, py, pw = pad_batch((x[:1], y[:1], np.array([0.5])), 3)
    np.testing.assert_array_equal(py, [7, 7, 7])
    np.testing.assert_array_equal(pw, [0.5, 0, 0])
    # Divisible: unchanged, with unit weights added for one structure.
    px, py, pw = pad_batch((x[:2], y[:2]), 2)
    np.testing.assert_array_equal(px, x[:2])
    np.testing.assert_array_equal(pw, [1, 1])


def test_a_pickle_leaves_the_strategy_behind():
    strategy = FakeStrategy()
    assert left_behind(strategy) == LeftBehind("FakeStrategy")
    assert left_behind("mirrored") == "mirrored"
    clf = pickle.loads(pickle.dumps(DropoutCNN(distribution=strategy)))
    assert clf.distribution == LeftBehind("FakeStrategy")
    with pytest.raises(ValueError, match="left behind in the process that pickled"):
        clf.fit(*_images())


def test_batch_size_must_divide_across_replicas():
    with pytest.raises(
        ValueError, match=r"batch_size=33 does not split evenly.*32 or 34"
    ):
        distribution_strategy(FakeStrategy(replicas=2), batch_size=33, owner="X")
    assert distribution_strategy(FakeStrategy(), batch_size=32, owner="X") is not None


def test_several_machines_get_a_clear_error():
    strategy = FakeStrategy(replicas=2, machines=2)
    with pytest.raises(ValueError, match=r"over 2 machines.*keras-team/keras#20585"):
        distribution_strategy(strategy, batch_size=32, owner="X")


def test_devices_that_do_not_exist():
    X, y = _images()
    with pytest.raises(ValueError, match=r"does not have: \['/gpu:7'\]\. Available"):
        DropoutCNN(distribution=["/cpu:0", "/gpu:7"]).fit(X, y)
    strategy = FakeStrategy(devices=("/job:localhost/replica:0/task:0/device:GPU:3",))
    with pytest.raises(ValueError, match="FakeStrategy names devices"):
        DropoutCNN(distribution=strategy).fit(X, y)


def test_bad_distribution_value():
    with pytest.raises(InvalidParameterError, match="'distribution' parameter"):
        DropoutCNN(distribution="everywhere").fit(*_images())


def _fit_in_worker(distribution):
    assert in_parallel_worker()
    DropoutCNN(distribution=distribution, epochs=1).fit(*_images())


def test_a_loky_worker_is_a_parallel_worker():
    assert Parallel(n_jobs=2)(delayed(in_parallel_worker)() for _ in range(2)) == [
        True,
        True,
    ]
    assert Parallel(n_jobs=1)(delayed(in_parallel_worker)() for _ in range(2)) == [
        False,
        False,
    ]


@pytest.mark.parametrize("distribution", ["mirrored", FakeStrategy()])
def test_not_inside_a_parallel_joblib_call(distribution):
    assert not in_parallel_worker()
    with pytest.raises(ValueError, match=r"worker of a parallel joblib call.*n_jobs=1"):
        Parallel(n_jobs=2, backend="threading")(
            delayed(_fit_in_worker)(distribution) for _ in range(2)
        )


def test_clones_share_a_strategy():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    clf = DropoutCNN(distribution=strategy, conv_filters=[8])
    assert clf.get_params()["distribution"] is strategy
    # Clones share the strategy (a handle on devices), copy the rest.
    copied = clone(clf)
    assert copied.distribution is strategy
    assert copied.conv_filters == [8] and copied.conv_filters is not clf.conv_filters
    assert clone(DropoutCNN(distribution="mirrored")).distribution == "mirrored"


def test_tuned_keeps_a_strategy_in_this_process():
    clf = TunedCNNClassifier(distribution=FakeStrategy(), isolate_search=True)
    with pytest.raises(ValueError, match="cannot be sent to a worker process"):
        clf._isolated()
    assert not TunedCNNClassifier(distribution=FakeStrategy())._isolated()
    assert TunedCNNClassifier(distribution="mirrored")._isolated()


# -- two logical CPU devices, in a fresh process -----------------------------

MIRRORED = """
import json, pickle, tempfile
from pathlib import Path
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
from PIL import Image
from sklearn.datasets import load_digits
import cnnfix
from cnnfix import ClassBalancer, DropoutCNN

out = {}
X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8, 1)
y = np.array("zero one two three four five six seven eight nine".split())[y]
train, test = slice(0, 1001), slice(1001, None)
small = dict(
    conv_filters=(8,), convs_per_block=1, dense_units=32, dropout=0.2,
    epochs=8, batch_size=64,
    random_state=0,
)
one = DropoutCNN(**small).fit(X[train], y[train])
two = DropoutCNN(**small, distribution="mirrored").fit(X[train], y[train])
out["replicas"] = cnnfix._distribute.mirrored_strategy(None).num_replicas_in_sync
out["scores"] = [one.score(X[test], y[test]), two.score(X[test], y[test])]
out["predict_shape"] = list(two.predict_proba(X[test][:5]).shape)
out["one_device"] = two.model_.distribute_strategy.num_replicas_in_sync
proba = two.predict_proba(X[test])
back = pickle.loads(pickle.dumps(two))
same = np.allclose(back.predict_proba(X[test]), proba, atol=1e-6)
out["pickled"] = [back.distribution, bool(same)]
with tempfile.TemporaryDirectory() as folder:
    two.save(Path(folder) / "two.keras")
    loaded = cnnfix.load(Path(folder) / "two.keras")
    out["loaded"] = bool(np.allclose(loaded.predict_proba(X[test]), proba, atol=1e-6))
    # File paths and streamed balanced batches (PyDatasets): 75 files in
    # batches of 8 leave an odd last batch for the two replicas.
    paths = []
    for i in range(75):
        paths.append(str(Path(folder) / f"{i}.png"))
        Image.fromarray((X[i, :, :, 0] * 15).astype(np.uint8)).save(paths[-1])
    files = DropoutCNN(
        conv_filters=(4,), convs_per_block=1, dense_units=8, epochs=2,
        batch_size=8, random_state=0,
        balancer=ClassBalancer(stream=True), distribution="mirrored",
    ).fit(np.array(paths), y[:75])
    out["files_epochs"] = files.n_epochs_
# Streamed balanced batches of arrays (a tf.data pipeline of the drawn
# batches): 3 classes oversampled to 17 rows each leave a last batch of 3.
counts = {"zero": 17, "one": 10, "two": 10}
rows = np.concatenate([np.flatnonzero(y == c)[:n] for c, n in counts.items()])
streamed = DropoutCNN(
    conv_filters=(4,), convs_per_block=1, dense_units=8, epochs=2,
    batch_size=8, random_state=0, validation_split=0.0,
    balancer=ClassBalancer(stream=True), distribution="mirrored",
).fit(X[rows], y[rows])
out["streamed_epochs"] = streamed.n_epochs_
try:
    DropoutCNN(batch_size=33, distribution="mirrored").fit(X[:50], y[:50])
except ValueError as error:
    out["odd_batch"] = str(error)
print("RESULT" + json.dumps(out))
"""


def _run(script, env=None, timeout=240):
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return _result(done.stdout, done.stderr)


def _result(stdout, stderr):
    """The JSON a subprocess printed after "RESULT"."""
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT")]
    assert lines, stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT"))


@pytest.mark.integration
def test_mirrored_on_two_logical_cpus():
    out = _run(MIRRORED)
    assert out["replicas"] == 2
    one, two = out["scores"]
    assert one > 0.6 and two > 0.6, out["scores"]
    assert abs(one - two) < 0.1, out["scores"]  # the same steps, summed otherwise
    assert out["predict_shape"] == [5, 10]
    assert out["one_device"] == 1
    assert out["pickled"] == ["mirrored", True] and out["loaded"]
    assert out["files_epochs"] == 2 and out["streamed_epochs"] == 2
    assert "batch_size=33 does not split evenly over the 2 replicas" in out["odd_batch"]


# -- two machines over loopback ----------------------------------------------

WORKER = """
import json
import numpy as np
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()
from cnnfix import DropoutCNN

out = {"replicas": strategy.num_replicas_in_sync}
X = np.random.default_rng(0).random((40, 6, 6, 1)).astype("float32")
y = np.arange(40) % 2
try:
    DropoutCNN(epochs=1, distribution=strategy).fit(X, y)
except ValueError as error:
    out["error"] = str(error)
print("RESULT" + json.dumps(out))
"""


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.integration
def test_two_workers_over_loopback():
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(WORKER)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    outs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=120)
            outs.append(_result(stdout, stderr))
    finally:
        for process in processes:
            process.kill()
    for out in outs:
        assert out["replicas"] == 2  # the two workers joined one cluster
        assert "over 2 machines (TF_CONFIG)" in out["error"]
