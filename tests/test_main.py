"""The command line."""

import subprocess
import sys

import pytest

from cnnfix.__main__ import main


def test_help_lists_the_demo():
    out = subprocess.run(
        [sys.executable, "-m", "cnnfix", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "demo" in out.stdout


def test_demo_prints_test_accuracy(capsys):
    assert main(["demo", "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "trained 2 epochs" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.5 < accuracy <= 1.0


def test_unknown_command_fails():
    with pytest.raises(SystemExit):
        main(["train-everything"])
