"""Run the benchmarks and regenerate docs/benchmarks.md from their output.

Each benchmark script prints a Markdown report (its anchor next to cnnfix).
This runs the chosen scripts, keeps each report in
``benchmarks/results/<name>.md`` with the command, the date, the machine
and the wall time, and writes docs/benchmarks.md from all stored reports:
one section per area, in the order below, with the script's own description
of what it measures. A section not rerun keeps its last stored report (and
its date says so).

    python benchmarks/run_all.py                  # every section but the hour-long one
    python benchmarks/run_all.py --only memory import
    python benchmarks/run_all.py --all            # tuned_fashion too (about an hour)
    python benchmarks/run_all.py --write-only     # the page from stored reports
"""

import argparse
import ast
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PAGE = HERE.parent / "docs" / "benchmarks.md"
#: Where bench_paths.py's Fashion-MNIST PNG trees are written (once).
PNG_TREES = Path(tempfile.gettempdir()) / "cnnfix-fashion-png"


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    script: str
    args: tuple = ()
    long: bool = False  # excluded unless --all or --only names it
    notes: str = ""  # how to read the report (no measured numbers here)


SECTIONS = [
    Section(
        "dropout",
        "DropoutCNN vs the same model in plain Keras",
        "bench_dropout.py",
        notes=(
            "Target: fit time within 3% of plain Keras (ratio <= 1.03). "
            "`predict_proba` avoids `model.predict`'s per-call set-up by "
            "calling `predict_on_batch` on chunks of 4,096 images."
        ),
    ),
    Section(
        "defaults",
        "DropoutCNN's defaults against the previous ones",
        "bench_defaults.py",
        long=True,
        notes=(
            "Targets: on Fashion-MNIST (60,000 / 10,000) the new defaults "
            "score at least 0.930 and fit in no more time than the old ones "
            "in the same run; the digits' mean over three splits at least "
            "0.9906. The defaults were chosen on a validation part "
            "(`--explore`, see the CNN guide), never on these test sets. "
            "Run with `--only defaults`."
        ),
    ),
    Section(
        "throughput",
        "Training throughput against the processor's matmul peak",
        "bench_throughput.py",
        notes=(
            "Target: achieved at least 25% of the measured float32 matmul "
            "peak, or what bounds it, measured. The rows other than the "
            "first two are plain Keras on the same model with one thing "
            "changed."
        ),
    ),
    Section(
        "input",
        "Idle time in model.fit: Keras's adapters against cnnfix's pipelines",
        "bench_input.py",
        notes=(
            "Keras drops a tf.data iterator every epoch; with autotuning on "
            "(Keras's adapters, for arrays and for a PyDataset) that waits for "
            "the tuning thread. Target: no idle time beyond the epochs, and "
            "epochs no slower than Keras's, on arrays and on streamed "
            "balanced batches."
        ),
    ),
    Section(
        "autokeras",
        "AutoKeras 3 against TunedCNNClassifier at the same time budgets",
        "bench_autokeras.py",
        ("--budgets", "240", "1200"),
        long=True,
        notes=(
            "Target: TunedCNNClassifier ahead at both budgets (about 4 and "
            "20 minutes). Needs AutoKeras in its own environment (see the "
            "script); run with `--only autokeras`."
        ),
    ),
    Section(
        "balance",
        "ClassBalancer vs the hand-written loop and imbalanced-learn",
        "bench_balance.py",
        ("--repeats", "3"),
        notes=(
            "Targets: peak memory at most 10% above input + output; at least "
            "5x faster than imbalanced-learn and 10x faster than the loop. "
            "All three are gathers of the same rows, so the time gap is the "
            "memory each touches (a second copy of the output) plus "
            "threading the gather."
        ),
    ),
    Section(
        "balance_accuracy",
        "Balancing and balanced accuracy",
        "bench_balance_accuracy.py",
    ),
    Section(
        "tuned",
        "TunedCNNClassifier vs keras-tuner written by hand",
        "bench_tuned.py",
        notes=(
            "Targets: time ratio <= 1.05, test accuracy >= 0.985, RSS growth "
            "< 30 MB over 3 fits. The search runs in a worker process that "
            "exits when it ends (`isolate_search`), which is where the memory "
            "Keras leaves behind goes. With the default budget (trials of at "
            "most 10 epochs, refit for the best trial's epochs) neither side "
            "reaches the accuracy target on digits; `max_epochs` is the knob "
            "for a longer budget."
        ),
    ),
    Section(
        "tuned_splits",
        "TunedCNNClassifier vs its starting point, DropoutCNN, on 3 splits",
        "bench_tuned.py",
        ("--splits", "3"),
        notes=(
            "Targets (#14): over three stratified 75/25 splits of the digits "
            "(random_state 0, 1, 2), defaults on both sides, Tuned's mean test "
            "accuracy >= DropoutCNN's - 0.002 and its mean fit time <= 5x. "
            "The search ranks configurations; the defaults and the best other "
            "one are trained to convergence and the better on validation is "
            "kept."
        ),
    ),
    Section(
        "tuned_budget",
        "TunedCNNClassifier: is time_budget respected?",
        "bench_tuned.py",
        ("--budgets", "60", "120", "240"),
        notes=(
            "Target (#14): the whole fit, search and finalists, ends within "
            "10% of `time_budget`, three budgets measured. The first fit also "
            "starts the search's worker server (about 10 s here), as in a "
            "fresh process. The first trial and the first finalist's first "
            "epoch always run: with the worker's start, about 22 s on this "
            "machine, the least a fit takes, so budgets start at a minute "
            "(a 20 s budget ran 22.1 s: 1.11)."
        ),
    ),
    Section(
        "tuned_refit",
        "TunedCNNClassifier: three ways to refit the chosen configuration",
        "bench_tuned.py",
        ("--refit-options", "3"),
        notes=(
            "Test accuracy on three splits of: (a) keeping the finalist's own "
            "early-stopped model (what TunedCNNClassifier does), (b) "
            "retraining on all the data for the best epoch scaled by "
            "n_all/n_train, (c) retraining for the unscaled best epoch."
        ),
    ),
    Section(
        "tuned_cv",
        "TunedCNNClassifier: what cross-validated trials cost",
        "bench_tuned.py",
        ("--cv", "3", "5"),
        notes=(
            "Issue #14 asks for cv's cost to be documented: each trial trains "
            "one model per fold (from scratch, no Hyperband warm start), so "
            "the search costs about k times more; the finalists are the "
            "same."
        ),
    ),
    Section(
        "tuned_fashion",
        "TunedCNNClassifier against DropoutCNN on Fashion-MNIST within an hour",
        "bench_tuned_fashion.py",
        ("--train", "60000", "--time-budget", "3600"),
        long=True,
        notes=(
            "Targets (issue: the tuned estimator must beat its defaults): on "
            "all 60,000 training images with time_budget=3600, the whole fit "
            "ends within 65 minutes and scores at least DropoutCNN's test "
            "accuracy + 0.005, and at least 0.93. About 90 minutes on 2 "
            "cores (both fits): run with `--only tuned_fashion`."
        ),
    ),
    Section(
        "diagnose",
        "diagnose(): data checks at scale and label noise",
        "bench_diagnose.py",
        notes=(
            "Targets (issue: diagnose, second pass): data checks on 60,000 "
            "images in under 15 s; with 10% of labels flipped, label-noise "
            "recall and precision of at least 0.75 on a 10,000-image "
            "Fashion-MNIST subset, and recall >= 0.75 with precision >= 0.9 "
            "on digits (also asserted by tests/test_diagnostics.py)."
        ),
    ),
    Section(
        "lighting",
        "diagnose(): dark, bright, blank and low-contrast images",
        "bench_lighting.py",
        ("--repeats", "3"),
        notes=(
            "Each fault and strength is planted on 2% of the images in a run "
            "of its own. A darkened image must be `dark_images`, never "
            "`low_information_images` (blank). The clean-data rows are what "
            "the rules report on data without planted faults: on "
            "Fashion-MNIST the dark images are black and dark-grey garments "
            "(looked at), and the one blank image is a pullover with "
            "one-pixel stripes (a false alarm)."
        ),
    ),
    Section(
        "photos",
        "A folder of ordinary photos with the defaults: diagnose, fits, the CLI",
        "bench_photos.py",
        ("--timeout", "400", "--total", "1000"),
        long=True,
        notes=(
            "Targets (issue: a folder of photos with the defaults), on 2 cores "
            "with nothing else running: `diagnose(paths, y)` in at most 180 s "
            "and 2.5 GB, finding the truncated JPEG, the ten dark photos and "
            "the 8x8 image; `odd_image_sizes` on at most 5% of the files; "
            "DropoutCNN() at least 0.9 test accuracy, "
            "TunedCNNClassifier(time_budget=120) at least DropoutCNN's - 0.02, "
            "TransferCNN(weights=None) at least 0.6. At most 17 minutes: a "
            "step is stopped after 400 s, and the steps left when 1,000 s are "
            "spent are not run; run with `--only photos`."
        ),
    ),
    Section(
        "cleanvision",
        "The data checks side by side with cleanvision",
        "bench_cleanvision.py",
        notes=(
            "Target (issue: a folder of photos with the defaults): cnnfix at "
            "least as good as cleanvision on every issue type both report "
            "(precision and recall), and faster. cleanvision is a "
            "benchmark-only dependency (`pip install cleanvision`)."
        ),
    ),
    Section(
        "memory",
        "Memory, threads and open files over consecutive fits",
        "bench_memory.py",
        ("--fits", "20"),
        notes=(
            "The growth is TensorFlow's: it keeps a few MB per model built "
            "in a process, with or without `clear_session()`, and cnnfix adds "
            "none (compare the two rows). See the parallel and distributed "
            "page for how to bound it with worker processes."
        ),
    ),
    Section(
        "import",
        "Import time",
        "bench_import.py",
        notes="Target: `import cnnfix` costs no more than `import sklearn`.",
    ),
    Section(
        "layout",
        "The package's size and shape, against the commit before the redesign",
        "bench_layout.py",
        ("--against", "26e06e1"),
        notes=(
            "Targets: no module over 600 lines and no function over 80 lines "
            "of code (both also held by tests/test_layout.py); fewer lines of "
            "code than commit 26e06e1, the last before the one training loop, "
            "the one input path and the tuning package."
        ),
    ),
    Section(
        "images",
        "Reading image folders: load_image_folder vs a plain Pillow loop",
        "bench_images.py",
        ("--limit", "10000", "--photos", "300", "--repeats", "3"),
        notes=(
            "Target (issue: own images): at least 3x a plain Pillow loop on "
            "2 cores. Measured with the `fast` extra (pyspng), which decodes "
            "plain PNG files with libspng: small PNG files cost Pillow about "
            "100 microseconds of Python each, of which decoding is a tenth. "
            "pyspng and Python's per-file work hold the GIL, so from 4,000 "
            "files read_images decodes in loky worker processes, which write "
            "into a shared memory-mapped file (sending the pixels back "
            "through pipes cost a third of the decoding of 64x64 RGB files); "
            "the 300 JPEG photos, fewer, decode in threads (Pillow releases "
            "the GIL) and gain from decoding at a reduced scale."
        ),
    ),
    Section(
        "architecture",
        "The CNN head at 32 to 224 pixels",
        "bench_architecture.py",
        ("--repeats", "3"),
        notes=(
            '`head="auto"` (the default) keeps Flatten while the last feature '
            "map has at most 8x8 positions (digits, Fashion-MNIST and 32x32 "
            "models are unchanged) and averages globally above that."
        ),
    ),
    Section(
        "paths",
        "Training on image files: 10,000 and 70,000 Fashion-MNIST PNGs",
        "bench_paths.py",
        (str(PNG_TREES / "10k"), str(PNG_TREES / "70k"), "--repeats", "2"),
        notes=(
            "Targets: an epoch on file paths <= 1.3x the decoded array and "
            "<= 1.0x image_dataset_from_directory + model.fit of the same "
            "model; peak memory on 70,000 files within 100 MB of 10,000; "
            "load_image_folder >= 3x a plain Pillow loop; diagnose(paths, "
            'checks="data") on 70,000 files under 90 s; the same accuracy on '
            "paths as on the array. The trees are written once by "
            "make_image_folder.py (into the temporary folder) and reused."
        ),
    ),
    Section(
        "paths_rgb64",
        "Training on image files, second run: 64x64 RGB PNGs",
        "bench_paths.py",
        (
            str(PNG_TREES / "10k_rgb64"),
            str(PNG_TREES / "70k_rgb64"),
            "--size",
            "64",
            "--rgb",
            "--repeats",
            "2",
        ),
        notes=(
            "The same measurements and targets as the first run, on "
            "Fashion-MNIST upscaled (bilinear) to 64x64 and written as RGB "
            "PNG files: about 5x the pixels of each image, a step closer to "
            "photos. An epoch takes about 4x longer; about 20 minutes: run "
            "with `--only paths_rgb64`."
        ),
        long=True,
    ),
    Section(
        "gpu",
        "Images per second on a GPU: arrays and paths, float32 and mixed",
        "bench_gpu.py",
        (str(PNG_TREES / "10k_rgb64"), "--epochs", "3"),
        long=True,
        notes=(
            "Target (issue: own images): the input pipeline keeps the GPU "
            "busy (its time per batch below the training step's), and "
            '`precision="mixed"` is faster than float32 on the GPU. Run '
            "with `--only gpu` on a GPU machine; the 2-CPU machine has none."
        ),
    ),
    Section(
        "distribute",
        'One fit on two logical CPU devices (`distribution="mirrored"`) vs one',
        "bench_distribute.py",
        long=True,
        notes=(
            "Target: the mirrored fit's test accuracy within noise of the "
            "one-device fit, and its overhead reported. The two replicas "
            "share the same cores, so no speed-up is expected; images per "
            "second with GPUs are still to measure. Run with "
            "`--only distribute`."
        ),
    ),
    Section(
        "transfer",
        "TransferCNN on few images: a pretrained backbone vs from scratch",
        "bench_transfer.py",
        long=True,
        notes=(
            "Targets: TransferCNN with the pretrained weights beats DropoutCNN "
            "from scratch and TransferCNN(weights=None) on the same few images "
            "(mean over 3 seeds), and the two-phase schedule beats head only and "
            "all at once, or the docs say when it does not. The pretraining "
            "is done by the script on Fashion-MNIST classes 0-4 (no ImageNet "
            "weights are reachable here), so this shows the mechanism, not "
            "ImageNet's gain. About 25 minutes on 2 cores: run with "
            "`--only transfer`."
        ),
    ),
]
BY_NAME = {s.name: s for s in SECTIONS}

PREAMBLE = """\
# Benchmarks

Every number on this page was printed by a script in `benchmarks/` and
collected by `python benchmarks/run_all.py`, which regenerates this page
(do not edit it by hand). Each section names its command, the machine and
the date of its run. Ratios compare runs made in the same process or the
same script run, since these machines are noisy. Targets are printed next
to the numbers they apply to, met or not.
"""


def machine():
    """One line naming the machine and the library versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        with open("/proc/meminfo") as meminfo:
            gib = int(meminfo.readline().split()[1]) / 2**20
        memory = f"{gib:.0f} GiB"
    except OSError:
        memory = "memory unknown"
    versions = []
    for package in ("tensorflow", "keras", "keras-tuner", "scikit-learn", "numpy"):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {memory}, no GPU used; "
        f"Python {platform.python_version()}, " + ", ".join(versions)
    )


def describe(script):
    """The script's docstring, without its title line, its usage lines and
    notes addressed to the page itself."""
    tree = ast.parse((HERE / script).read_text())
    lines = (ast.get_docstring(tree) or "").splitlines()[1:]
    kept = [
        line
        for line in lines
        if not line.strip().startswith(("python ", "Prints a Markdown table"))
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def run(section):
    command = [sys.executable, str(HERE / section.script), *section.args]
    shown = " ".join(["python", f"benchmarks/{section.script}", *section.args])
    print(f"run_all: {shown}", flush=True)
    start = time.perf_counter()
    # The report is the script's stdout; its progress (stderr) shows live.
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run_all: {shown} failed with status {done.returncode}")
    header = (
        f"<!-- command: {shown} -->\n"
        f"<!-- date: {datetime.date.today().isoformat()} -->\n"
        f"<!-- machine: {machine()} -->\n"
        f"<!-- seconds: {seconds:.0f} -->\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{section.name}.md").write_text(header + done.stdout.strip() + "\n")
    print(f"run_all: {section.name} done in {seconds:.0f} s", flush=True)


def _stored(section):
    path = RESULTS / f"{section.name}.md"
    if not path.exists():
        return None, None
    meta, body = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("<!-- ") and line.endswith(" -->") and ": " in line:
            key, value = line[5:-4].split(": ", 1)
            meta[key] = value
        elif not line.startswith("Machine: "):  # the page names the machine
            body.append(line)
    return meta, "\n".join(body).strip()


def write_page():
    parts = [PREAMBLE]
    for section in SECTIONS:
        meta, body = _stored(section)
        parts.append(f"## {section.title}\n")
        parts.append(describe(section.script) + "\n")
        if meta is None:
            parts.append(
                f"Not measured yet: `python benchmarks/run_all.py --only "
                f"{section.name}`.\n"
            )
            continue
        took = f" ({int(meta['seconds']) / 60:.1f} min)" if "seconds" in meta else ""
        source = f" Report {meta['source']}." if "source" in meta else ""
        parts.append(
            f"Command: `{meta['command']}`, run on {meta['date']}{took}.{source}  \n"
            f"Machine: {meta['machine']}.\n"
        )
        parts.append(body + "\n")
        if section.notes:
            parts.append(section.notes + "\n")
    PAGE.write_text("\n".join(parts))
    print(f"run_all: wrote {PAGE}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BY_NAME), metavar="NAME")
    parser.add_argument("--all", action="store_true", help="include long sections")
    parser.add_argument("--write-only", action="store_true")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for s in SECTIONS:
            long = "  (long)" if s.long else ""
            print(f"{s.name:18s} {s.script} {' '.join(s.args)}{long}")
        return
    if not args.write_only:
        chosen = (
            [BY_NAME[n] for n in args.only]
            if args.only
            else [s for s in SECTIONS if args.all or not s.long]
        )
        for section in chosen:
            run(section)
    write_page()


if __name__ == "__main__":
    main()
