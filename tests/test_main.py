"""The command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from cnnfix.__main__ import main


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "cnnfix", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "demo" in out.stdout and "diagnose" in out.stdout


def test_demo_diagnoses_fixes_and_reports(capsys):
    assert main(["demo", "--epochs", "3", "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert "class_imbalance" in out
    assert "balanced the classes" in out
    table = out.split("before   after")[1].split()
    assert table[0] == "accuracy" and 0.0 < float(table[1]) <= 1.0


def test_diagnose_command_on_an_npz_file(tmp_path, digits, capsys):
    X, y = digits
    path = tmp_path / "data.npz"
    np.savez(path, X=np.concatenate([X, X[:50]]), y=np.concatenate([y, y[:50]]))
    assert main(["diagnose", str(path), "--checks", "data", "--json"]) == 1
    report = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert report["findings"][0]["code"] == "exact_duplicates"


def test_diagnose_command_explains_a_bad_file(tmp_path, capsys):
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros((3, 8, 8)))
    assert main(["diagnose", str(path)]) == 2
    assert "expected 'X'" in capsys.readouterr().err


def test_unknown_command_fails():
    with pytest.raises(SystemExit):
        main(["train-everything"])


@pytest.mark.slow
def test_full_demo_fixes_the_damage(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = out.split("before   after")[1].splitlines()
    balanced = rows[2].split()
    before, after = float(balanced[2]), float(balanced[3])
    assert after > before + 0.02, out
