"""TensorFlow's C++ start-up lines stay off stderr unless the user asks for them.

Each test fits a tiny CNN in a fresh interpreter, whose environment lacks the
``TF_CPP_MIN_LOG_LEVEL`` that conftest sets for this process.
"""

import os
import subprocess
import sys

#: Fits a tiny CNN on a few digits. Before, a finder writes two lines to
#: stderr when ``keras`` starts importing: a fake TensorFlow log line (held
#: back) and a line of Python output (which must come through).
FIT = """
import os, sys
import numpy as np
from sklearn.datasets import load_digits

class Announce:
    def find_spec(self, name, path=None, target=None):
        if name == "keras":
            sys.meta_path.remove(self)
            os.write(2, b"I0000 00:00:1795898821.450737    8713 fake.cc:1] fake\\n")
            print("python output during the import", file=sys.stderr)

sys.meta_path.insert(0, Announce())
import cnnfix

X, y = load_digits(return_X_y=True)
keep = np.isin(y, [3, 7])
cnnfix.DropoutCNN(epochs=1, conv_filters=(4,), dense_units=8, verbose=0).fit(
    X[keep][:40], y[keep][:40]
)
print(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
"""

NOISE = ("cuInit", "E0000", "I0000", "W0000", "oneDNN", "absl::InitializeLog")


def _fit_in_fresh_interpreter(**environ):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run(
        [sys.executable, "-c", FIT],
        capture_output=True,
        text=True,
        env={**env, **environ},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip(), out.stderr


def test_tensorflow_start_up_lines_are_silenced_by_default():
    level, stderr = _fit_in_fresh_interpreter()
    assert level == "3"
    assert [line for line in stderr.splitlines() if any(n in line for n in NOISE)] == []
    assert "python output during the import" in stderr


def test_the_users_log_level_is_kept():
    level, stderr = _fit_in_fresh_interpreter(TF_CPP_MIN_LOG_LEVEL="0")
    assert level == "0"
    # At level 0 the user asked for every line: nothing is held back.
    assert "fake.cc:1] fake" in stderr
    assert "python output during the import" in stderr
