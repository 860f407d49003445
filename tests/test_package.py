"""The package surface: public names, version, lazy imports, public exceptions."""

import json
import subprocess
import sys

import pytest

import cnnfix
import cnnfix.exceptions

#: Modules that ``import cnnfix`` must leave unloaded: each costs from a tenth
#: of a second (sklearn.neighbors) to several seconds (TensorFlow).
HEAVY = (
    "tensorflow",
    "keras",
    "keras_tuner",
    "imblearn",
    "matplotlib",
    "sklearn.neighbors",
)


def _run(code):
    """Run ``code`` in a fresh interpreter and return what it printed as JSON."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_public_names():
    assert set(cnnfix.__all__) >= {"DropoutCNN", "BaseCNNClassifier", "build_cnn"}
    for name in cnnfix.__all__:
        assert hasattr(cnnfix, name)
    assert cnnfix.__version__.count(".") == 2


def test_import_loads_no_heavy_dependency():
    loaded = _run(
        f"import json, sys, cnnfix; print(json.dumps(sorted(set({HEAVY}) & "
        "set(sys.modules))))"
    )
    assert loaded == []


def test_every_public_name_resolves_lazily_in_a_fresh_interpreter():
    code = """
import json, sys
import cnnfix
listed = sorted(set(cnnfix.__all__) - set(dir(cnnfix)))
before = "imblearn" in sys.modules
missing = [name for name in cnnfix.__all__ if getattr(cnnfix, name, None) is None]
from cnnfix import ClassBalancer, DropoutCNN
print(json.dumps({
    "not_in_dir": listed,
    "imblearn_before": before,
    "missing": missing,
    "balancer": ClassBalancer.__module__,
    "dropout": DropoutCNN.__name__,
    "same": cnnfix.DropoutCNN is DropoutCNN,
}))
"""
    result = _run(code)
    assert result == {
        "not_in_dir": [],
        "imblearn_before": False,
        "missing": [],
        "balancer": "cnnfix.balance",
        "dropout": "DropoutCNN",
        "same": True,
    }


def test_public_submodules_are_attributes():
    result = _run(
        "import json, cnnfix; print(json.dumps([cnnfix.datasets.__name__, "
        "cnnfix.tuning.__name__, 'datasets' in dir(cnnfix)]))"
    )
    assert result == ["cnnfix.datasets", "cnnfix.tuning", True]


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="module 'cnnfix' has no attribute 'CNN'"):
        cnnfix.CNN  # noqa: B018


def test_worker_error_is_public():
    assert "WorkerError" in cnnfix.__all__
    assert cnnfix.WorkerError is cnnfix.exceptions.WorkerError
    assert issubclass(cnnfix.WorkerError, RuntimeError)
    # The worker raises the public class, not a private copy of it.
    from cnnfix.tuning import worker

    assert worker.WorkerError is cnnfix.exceptions.WorkerError
