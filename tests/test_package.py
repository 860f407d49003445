"""The package surface: public names, version, and no TensorFlow on import."""

import subprocess
import sys

import cnnfix


def test_public_names():
    assert set(cnnfix.__all__) >= {"DropoutCNN", "BaseCNNClassifier", "build_cnn"}
    for name in cnnfix.__all__:
        assert hasattr(cnnfix, name)
    assert cnnfix.__version__.count(".") == 2


def test_import_does_not_load_tensorflow_or_keras():
    heavy = ("tensorflow", "keras", "keras_tuner")
    code = f"import sys, cnnfix; print(sorted(set({heavy}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
