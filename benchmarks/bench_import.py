"""Import time of cnnfix against scikit-learn, its baseline.

Each import runs in a fresh interpreter, ``--repeats`` times (median
reported). ``import cnnfix`` loads its public names lazily, so it should cost
little more than ``import sklearn``; ``from cnnfix import DropoutCNN`` is what
a script pays before its first ``fit``. cnnfix must not import TensorFlow or
Keras: the table says whether they were loaded, and what ``import keras``
alone costs (paid on the first ``fit``).

    python benchmarks/bench_import.py [--repeats 5]
"""

import argparse
import os
import statistics
import subprocess
import sys

PROBE = """
import sys, time
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
print(seconds, "tensorflow" in sys.modules, "keras" in sys.modules)
"""

BASELINE = "import sklearn"
STATEMENTS = (
    BASELINE,
    "import imblearn",
    "import cnnfix",
    "from cnnfix import DropoutCNN",
    "import keras",
)


def measure(statement, repeats):
    rows = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(statement=statement)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.split()
        rows.append((float(out[0]), out[1] == "True", out[2] == "True"))
    return statistics.median(r[0] for r in rows), rows[0][1], rows[0][2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"Median of {args.repeats} fresh interpreters.\n")
    print("| import | time (s) | ratio to sklearn | TensorFlow loaded | Keras loaded |")
    print("|---|---|---|---|---|")
    baseline = None
    for statement in STATEMENTS:
        seconds, tf, keras = measure(statement, args.repeats)
        baseline = baseline or seconds  # the first row
        print(
            f"| `{statement}` | {seconds:.3f} | {seconds / baseline:.2f} | {tf} "
            f"| {keras} |"
        )


if __name__ == "__main__":
    main()
