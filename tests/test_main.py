"""The command line."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnfix.__main__
from cnnfix.__main__ import main
from cnnfix.demo import run_demo

from .test_diagnostics import fix_blocks


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "cnnfix", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "demo" in out.stdout and "diagnose" in out.stdout


def test_the_command_line_module_imports_only_the_standard_library():
    """cnnfix's heavy parts load inside the commands, not for --help."""
    tree = ast.parse(Path(cnnfix.__main__.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add("." if node.level else node.module.split(".")[0])
    assert top <= set(sys.stdlib_module_names), top


def test_demo_prints_a_before_and_after_table(capsys):
    assert main(["demo", "--epochs", "2", "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert "1/4 training DropoutCNN" in out and "4/4 training the fixed model" in out
    assert "class_imbalance" in out  # the report
    assert "balanced the classes: balancer=ClassBalancer(random_state=0)" in out
    header, accuracy, balanced = out.split("\n\n")[-1].splitlines()
    assert header.split() == ["before", "after"]
    for row, name in ((accuracy, "accuracy"), (balanced, "balanced accuracy")):
        label, numbers = row[:19].strip(), row[19:].split()
        assert label == name
        assert len(numbers) == 2
        assert all(0.0 <= float(n) <= 1.0 and len(n) == 6 for n in numbers)


def test_diagnose_command_prints_only_json_with_json(tmp_path, digits, capsys):
    X, y = digits
    path = tmp_path / "data.npz"
    np.savez(path, X=np.concatenate([X, X[:50]]), y=np.concatenate([y, y[:50]]))
    assert main(["diagnose", str(path), "--checks", "data", "--json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)  # the whole of stdout
    assert report["findings"][0]["code"] == "exact_duplicates"
    assert "data checks: " in err  # progress goes to stderr


def test_diagnose_command_explains_a_bad_file(tmp_path, capsys):
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros((3, 8, 8)))
    assert main(["diagnose", str(path)]) == 2
    assert "expected 'X'" in capsys.readouterr().err


def test_unknown_command_fails():
    with pytest.raises(SystemExit):
        main(["train-everything"])


@pytest.mark.slow
def test_full_demo_fixes_the_damage():
    result = run_demo(verbose=0)
    assert result["applied"][-1].startswith("balanced the classes")
    assert result["n_flipped_flagged"] > result["n_flipped"] / 2, result
    before, after = (
        result["balanced_accuracy_before"],
        result["balanced_accuracy_after"],
    )
    assert after > before + 0.02, result


@pytest.fixture
def part_folder(tmp_path, digits):
    """Two classes of 24x24 colour PNGs from digits; planted: a corrupt file,
    a grey image and a file copied into the other class."""
    from PIL import Image

    X, y = digits
    root = tmp_path / "parts"
    for i in range(30):
        folder = root / ("ring" if y[i] % 2 else "stud")
        folder.mkdir(parents=True, exist_ok=True)
        grey = (X[i, ..., 0] * 15).astype(np.uint8)
        rgb = np.stack([grey, grey // 2, grey // 4], axis=-1)
        Image.fromarray(rgb).resize((24, 24)).save(folder / f"{i:02d}.png")
    Image.fromarray((X[40, ..., 0] * 15).astype(np.uint8)).resize((24, 24)).save(
        root / "ring/grey.png"
    )
    (root / "stud/broken.png").write_bytes(b"\x89PNG not really")
    (root / "ring/copy.png").write_bytes((root / "stud/00.png").read_bytes())
    return root


def test_diagnose_command_reads_a_class_folder_and_writes_html(part_folder, capsys):
    page = part_folder.parent / "report.html"
    status = main(
        ["diagnose", str(part_folder), "--checks", "data", "--html", str(page)]
    )
    out = capsys.readouterr().out
    assert status == 1  # warnings and errors found
    assert "unreadable_files" in out and "broken.png" in out
    assert "grey_images" in out and "grey.png" in out
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # Thumbnails of the flagged files, titled with their names; the corrupt
    # file by its name only.
    assert "title='grey.png'" in text and "title='copy.png'" in text
    assert "[broken.png: unreadable]" in text
    assert "src='http" not in text  # self-contained


def test_diagnose_command_explains_a_missing_folder(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err
    assert err.startswith("cnnfix diagnose: ") and "does not exist" in err


def test_diagnose_command_gives_each_fix_as_steps_for_a_person(part_folder, capsys):
    """Planted: a corrupt file, a grey image, a copy in the other class, and
    (here) a dark image. Every finding's fix is numbered steps that send the
    person to the files, then the Python."""
    from PIL import Image

    stud = np.asarray(Image.open(part_folder / "stud/02.png"))
    Image.fromarray((stud * 0.2).astype(np.uint8)).save(part_folder / "stud/dark.png")
    assert main(["diagnose", str(part_folder), "--checks", "data"]) == 1
    out = capsys.readouterr().out
    fixes = fix_blocks(out)
    assert {"unreadable_files", "dark_images", "conflicting_labels"} <= set(fixes)
    for code in ("unreadable_files", "dark_images", "conflicting_labels"):
        steps, _ = fixes[code]
        assert steps[0].startswith("Open the flagged files in an image viewer"), code
        assert len(steps) >= 3, code
    dark = out.split("dark_images:")[1].split("\n[")[0]
    assert "files: " + str(part_folder / "stud/dark.png") in dark
    assert dark.index("files:") < dark.index("fix:") < dark.index("in Python:")
    steps, snippet = fixes["unreadable_files"]
    assert steps[1].startswith("Replace the corrupt files with good copies")
    assert snippet[-1].startswith('X, y = load_image_folder(path, on_error="warn")')


def test_image_size_option_takes_height_by_width(part_folder, capsys):
    from cnnfix.__main__ import image_size

    assert image_size("48x64") == (48, 64) and image_size("32") == 32
    for bad in ("0x3", "48x", "big"):
        with pytest.raises(SystemExit):
            main(["diagnose", "photos", "--image-size", bad])
    assert "expected HxW" in capsys.readouterr().err
    main(["diagnose", str(part_folder), "--checks", "data", "--image-size", "12x16"])
    assert "decoded at 12x16 pixels" in capsys.readouterr().err


def test_ctrl_c_prints_one_line_and_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnnfix.__main__, "diagnose_file", interrupted)
    assert main(["diagnose", "photos"]) == 130
    err = capsys.readouterr().err
    assert err == "cnnfix: interrupted (Ctrl-C)\n"


def test_diagnose_command_explains_a_file_that_is_not_a_folder(tmp_path, capsys):
    image = tmp_path / "cat.png"
    image.write_bytes(b"not read")
    assert main(["diagnose", str(image)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


@pytest.mark.integration
def test_ctrl_c_stops_a_running_diagnosis_with_one_line(part_folder):
    import signal

    process = subprocess.Popen(
        [sys.executable, "-m", "cnnfix", "diagnose", str(part_folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell without job control starts background jobs ignoring SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    progress = []
    for line in process.stderr:  # until the first fit of the quick CNN starts
        progress.append(line)
        if line.startswith("fit 1/3: training on"):
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(progress) + rest
    # The quick CNN trains at the size the files were decoded at.
    assert "reading 33 files: " in progress[0] and "decoded at 24x24" in progress[0]
    assert "model checks: 3 fits of DropoutCNN at 24x24 pixels\n" in progress
    assert rest.splitlines()[-1] == "cnnfix: interrupted (Ctrl-C)"
    assert "Traceback" not in rest
