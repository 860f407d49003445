"""diagnose(): why is this CNN's accuracy low?"""

import os
import sys
import time
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

from .._input import check_image_size
from .._validation import (
    as_images,
    as_paths,
    check_labels,
    check_paths_exist,
    encode_labels,
    refuse_single_path,
)
from ..base import BaseCNNClassifier
from ..datasets import read_images
from ..dropout import DropoutCNN
from ..transfer import TransferCNN
from .dataset_checks import check_class_balance, check_dataset_size
from .duplicates import check_duplicates, check_leakage
from .files import CHUNK_BYTES, name_files, summarize_files
from .fixes import final_step
from .image_checks import check_image_quality, check_invalid_values, check_scale
from .model_checks import (
    check_calibration,
    check_fit,
    check_label_noise,
    check_learning_rate,
    check_predictions,
)
from .report import Diagnosis
from .summary import ImageSummary, summarize, summarize_chunks

#: Check groups, in the order they run.
GROUPS = ("data", "labels", "training")

#: The quick CNN trains on files decoded once, into one array, when that
#: array takes at most this many bytes: decoding every file anew in every
#: epoch of every fold costs more than the small model's training.
DECODE_ONCE_BYTES = 256 * 2**20


def quick_cnn(random_state=None, *, epochs=30, patience=5, image_size=None):
    """The CNN diagnose() trains when no estimator is given: DropoutCNN with
    one convolution per block, batches of 32 and a constant learning rate
    (a quarter of the defaults' compute, as ``benchmarks/run_all.py --only
    diagnose`` measures the label checks), ``epochs`` at most and early
    stopping after ``patience`` epochs without progress, so the ``cv`` fits
    of a diagnosis take a fraction of one full fit each. Files are decoded
    at ``image_size`` (diagnose passes its working size)."""
    return DropoutCNN(
        convs_per_block=1,
        batch_size=32,
        lr_schedule=None,
        epochs=epochs,
        patience=patience,
        random_state=random_state,
        image_size=image_size,
    )


def _groups(checks, estimator):
    if checks == "all":
        return [g for g in GROUPS if g != "training" or estimator is not None]
    chosen = [checks] if isinstance(checks, str) else list(checks)
    unknown = sorted(set(chosen) - set(GROUPS))
    if unknown:
        raise ValueError(
            f"checks names {unknown}; expected 'all' or some of {list(GROUPS)}."
        )
    return [g for g in GROUPS if g in chosen]


def _log(verbose, message):
    """A progress line on stderr (stdout stays for what the caller prints)."""
    if verbose:
        print(message, file=sys.stderr, flush=True)


@contextmanager
def _step(name, details, verbose):
    """Time one step of the diagnosis: its seconds go to
    ``details["seconds"][name]`` and, with ``verbose``, to stderr, followed
    by what the step appends to the list it yields."""
    start, notes = time.perf_counter(), []
    yield notes
    seconds = time.perf_counter() - start
    details.setdefault("seconds", {})[name] = round(seconds, 3)
    _log(verbose, f"{name}: {seconds:.1f} s" + "".join(notes))


@validate_params(
    {
        "X": ["array-like", "sparse matrix", str, os.PathLike],
        "y": ["array-like"],
        "estimator": [None, HasMethods(["fit", "predict"])],
        "X_test": [None, "array-like", str, os.PathLike],
        "image_size": [None, Interval(Integral, 1, None, closed="left"), tuple, list],
        "checks": [StrOptions({"all", *GROUPS}), list, tuple],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def diagnose(
    X,
    y,
    estimator=None,
    *,
    X_test=None,
    image_size=None,
    checks="all",
    cv=3,
    random_state=None,
    verbose=0,
):
    """Find the reasons a CNN's accuracy is low, with evidence and fixes.

    Three groups of checks run:

    - **data** (seconds, no model): class imbalance, classes with too few
      samples, exact and near duplicates, conflicting labels, test images
      leaked into training (with ``X_test``), dark, bright, low-contrast,
      blank and blurry images, unnormalised input, NaN/inf values, and,
      when the model checks run too, few photos per class for a CNN
      trained from scratch (where a :class:`~cnnfix.TransferCNN` does
      better);
    - **labels**: label noise (another class predicted, the label given
      under ``1 / (2 * n_classes)``) on out-of-fold probabilities from
      ``cv`` fits of ``estimator`` (or of a quick DropoutCNN when it is
      None);
    - **training** (when ``estimator`` is given, or asked for in
      ``checks``): over- and underfitting, a learning rate too high or too
      low (judged from the training loss), collapse onto one class, and
      overconfident probabilities (the expected calibration error of the
      out-of-fold probabilities), from the same ``cv`` fits.

    The model checks cost ``cv`` fits in all. A diagnosis never raises
    because accuracy is poor: it reports findings.

    ``X`` may be image file paths (a 1-D array, list or Series of them, as
    :func:`cnnfix.datasets.load_image_folder` gives with ``as_paths=True``).
    Then every file's header is read first, and three more findings can
    come: unreadable files (corrupt, truncated, not images), images of an
    odd size or aspect ratio compared with the rest, grey images in a colour
    dataset. The readable files are then decoded at one working size,
    ``image_size`` or, when it is None, the size with the aspect of the bulk
    of the files and its longer side at most 64 pixels
    (``cnnfix.diagnostics.files.WORKING_SIDE``), 32 MB of pixels at a time
    (``cnnfix.diagnostics.files.CHUNK_BYTES``), into what the other data
    checks need of each image (a digest, a thumbnail, a few statistics), so
    their memory does not grow with the number of files. The model checks
    train the quick CNN on the files decoded once at the working size into
    one array (on the paths, decoded batch by batch, when that array would
    exceed ``cnnfix.diagnostics.diagnose.DECODE_ONCE_BYTES``), a cnnfix CNN
    given as ``estimator`` on the paths at its own ``image_size``, and any
    other estimator on the files decoded at the working size into one array.
    Every finding names its files in ``Finding.paths``, with ``indices`` as
    positions in ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features), or of shape \
(n_samples,) of file paths
        Training images or their files (never modified).
    y : array-like of shape (n_samples,)
        Their labels.
    estimator : classifier or None, default=None
        The model to diagnose (a cnnfix estimator gives the training checks
        its loss curves). None trains :func:`quick_cnn` for the label check.
    X_test : array-like or None, default=None
        Test images (or files, decoded like ``X``'s), checked for leakage
        from ``X``.
    image_size : None, int or (int, int), default=None
        When ``X`` holds file paths: the ``(height, width)`` (or the side of
        square images) the files are decoded to, for the data checks and
        the quick CNN. None: the working size above, at most 64 pixels a
        side. Ignored for arrays.
    checks : "all", "data", "labels", "training" or list of them, default="all"
        "all" runs data and label checks, and training checks when
        ``estimator`` is given.
    cv : int, default=3
        Folds of the stratified cross-validation behind the model checks.
    random_state : int, RandomState or None, default=None
        Seeds the folds and the quick CNN. None seeds them with 0, so that
        the same data give the same folds and the same label suspects on
        every run; pass other ints to see how much the model checks vary.
        An estimator you pass keeps its own ``random_state``.
    verbose : int, default=0
        0 prints nothing. 1 prints each step and its time on stderr (each
        data check, ``data checks: 0.3 s`` in all, the model the checks
        train, a line as each fit starts, ``fit 1/3: 4.1 s`` as it ends,
        ``predict 1/3: 0.2 s, held-out accuracy 0.912``), so standard
        output keeps only what you print, such as ``report.to_json()``.
        The seconds of every step are also in ``details["seconds"]`` of
        the result, whatever ``verbose``.

    Returns
    -------
    Diagnosis
        ``findings`` (most severe first), ``summary()``, ``to_dict()``,
        ``has(code)``, ``report[code]``, ``plot()``, and ``apply(X, y,
        estimator)`` to apply its fixes.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix import diagnose
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> X_bad = np.concatenate([X, X[:100]])  # 100 copies
    >>> y_bad = np.concatenate([y, (y[:100] + 1) % 10])  # ... relabelled
    >>> report = diagnose(X_bad, y_bad, checks="data")
    >>> report.has("conflicting_labels"), len(report["conflicting_labels"].indices)
    (True, 200)
    """
    groups = _groups(checks, estimator)
    refuse_single_path(X)  # a folder: list its files first
    refuse_single_path(X_test)
    image_size = check_image_size(image_size)
    random_state = 0 if random_state is None else random_state
    timings = {}  # the steps' seconds, before details exist
    paths = as_paths(X)
    if paths is None:
        X = as_images(X)
        y = check_labels(y, n_samples=len(X))
        file_findings, summary, image_size = [], None, None  # sizes are for files
    else:
        y = check_labels(y, n_samples=len(paths))
        check_paths_exist(paths)
        # One pass over the files, chunk by chunk: the pixel checks read the
        # summary, never all the pixels at once.
        with _step(f"reading {len(paths)} files", timings, verbose) as notes:
            summary, kept, file_findings = summarize_files(paths, image_size)
            image_size = summary.image_shape[:2]
            notes.append(f", decoded at {image_size[0]}x{image_size[1]} pixels")
        y = y[kept]
    classes, y_encoded = encode_labels(y, owner="diagnose")
    counts = np.bincount(y_encoded)
    details = {
        "n_samples": len(X) if paths is None else len(paths),
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "image_size": None if paths is None else list(image_size),
        **timings,
    }
    findings = []
    model_groups = [g for g in groups if g != "data"]
    if "data" in groups:
        images = X if summary is None else summary
        from_scratch = bool(model_groups) and _from_scratch(estimator)
        data_setup = (images, y, estimator, from_scratch, X_test)
        findings += _data_checks(*data_setup, details, verbose)
    if model_groups:
        if paths is not None:
            X = training_input(paths[kept], summary.image_shape, estimator)
        if estimator is None:
            estimator = quick_cnn(random_state, image_size=image_size)
        fit_setup = (X, y, classes, y_encoded, estimator, cv, random_state)
        findings += _model_checks(*fit_setup, model_groups, verbose, details)
    if paths is not None:
        findings = name_files([*file_findings, *findings], paths, kept)
    ran = [g for g in groups if g not in details.get("skipped", {})]
    return Diagnosis(findings, ran, details)


def _data_checks(images, y, estimator, from_scratch, X_test, details, verbose):
    """Findings of the data checks (no model) on ``images``, an array or the
    :class:`~cnnfix.diagnostics.summary.ImageSummary` of files; the dataset
    size matters only to a model trained ``from_scratch``. The time of each
    step goes to ``details["seconds"]``, their total to
    ``details["data_seconds"]``."""
    start = time.perf_counter()
    summary = images
    if not isinstance(images, ImageSummary):  # one pass over the pixels for all
        with _step("image summary", details, verbose):
            summary = summarize(images)
    normalizes = estimator is None or bool(
        getattr(final_step(estimator), "normalize", False)
    )
    shape = summary.image_shape
    steps = {
        "invalid values": lambda: check_invalid_values(summary),
        "pixel scale": lambda: check_scale(summary, normalizes),
        "class balance": lambda: check_class_balance(y),
        "dataset size": lambda: check_dataset_size(shape, y, from_scratch),
        "duplicates": lambda: check_duplicates(summary, y),
        "leakage": lambda: check_leakage(summary, _test_summary(X_test, shape)),
        "image quality": lambda: check_image_quality(summary, y),
    }
    findings = []
    for name, check in steps.items():
        if name != "leakage" or X_test is not None:
            with _step(name, details, verbose):
                findings += check()
    details["data_seconds"] = time.perf_counter() - start
    _log(verbose, f"data checks: {details['data_seconds']:.1f} s")
    return findings


def _describe(model):
    """The model the checks train, as the progress lines name it."""
    size = getattr(final_step(model), "image_size", None)
    at = f" at {size[0]}x{size[1]} pixels" if isinstance(size, tuple) else ""
    return f"{type(model).__name__}{at}"


def _from_scratch(estimator):
    """Whether the model is a cnnfix CNN that starts from random weights (or
    None: the quick CNN)."""
    step = final_step(estimator)  # None when estimator is None
    return step is None or (
        isinstance(step, BaseCNNClassifier) and not isinstance(step, TransferCNN)
    )


def _test_summary(X_test, shape):
    """The summary of the test images (or files, decoded chunk by chunk at
    the training images' ``shape``, its size and channels)."""
    test_paths = as_paths(X_test)
    if test_paths is not None:
        check_paths_exist(test_paths)
        rows = max(1, CHUNK_BYTES // int(np.prod(shape)))
        return summarize_chunks(
            _read(test_paths[i : i + rows], shape)
            for i in range(0, len(test_paths), rows)
        )
    X_test = as_images(X_test, name="X_test")
    if X_test.shape[1:] != shape:
        raise ValueError(
            f"X_test images have shape {X_test.shape[1:]}; X has "
            f"{shape}. Pass test images of the training shape."
        )
    return summarize(X_test)


def _read(paths, shape):
    """The files decoded at ``shape`` (height, width, channels)."""
    mode = "rgb" if shape[2] == 3 else "grayscale"
    return read_images(paths, image_size=shape[:2], color_mode=mode)


def training_input(paths, image_shape, estimator, *, max_bytes=DECODE_ONCE_BYTES):
    """What the model checks train on when X is files: the paths themselves
    for a cnnfix CNN given as ``estimator`` (it decodes batch by batch at its
    own size), and for the quick CNN (``estimator`` None) when the decoded
    files would take more than ``max_bytes``; else the files decoded once at
    ``image_shape`` into one uint8 array (what any scikit-learn estimator
    takes)."""
    if estimator is None:
        if len(paths) * int(np.prod(image_shape)) > max_bytes:
            return paths
    elif isinstance(final_step(estimator), BaseCNNClassifier):
        return paths
    return _read(paths, image_shape)


def _model_checks(
    X, y, classes, y_encoded, model, cv, random_state, groups, verbose, details
):
    """Findings of the label and training checks, from ``cv`` fits of
    ``model``. The fits' data, or why checks were skipped (under
    ``"skipped"``), go to details."""
    skip = _why_not_train(X, y_encoded, cv)
    if skip:
        details["skipped"] = {g: skip for g in groups}
        _log(verbose, f"model checks skipped: {skip}")
        return []
    _log(verbose, f"model checks: {cv} fits of {_describe(model)}")
    fits = _cross_fit(model, X, y, classes, cv, random_state, verbose, details)
    details.update(fits, y_encoded=y_encoded)
    findings = []
    if "labels" in groups and fits["proba"] is None:
        details["skipped"] = {"labels": "the estimator has no predict_proba"}
    elif "labels" in groups:
        findings += check_label_noise(fits["proba"], y_encoded, classes)
    if "training" in groups:
        findings += _training_checks(fits, y_encoded, classes)
    return findings


def _training_checks(fits, y_encoded, classes):
    """Collapse onto one class, over/underfitting, learning-rate trouble and
    overconfident probabilities."""
    predicted = np.searchsorted(classes, fits["predicted"])
    folds = [(predicted[test], y_encoded[test]) for test in fits["folds"]]
    return [
        *check_predictions(folds, classes),
        *check_fit(fits["train_accuracy"], fits["held_out_accuracy"]),
        *check_learning_rate(fits["histories"], len(classes)),
        *([] if fits["proba"] is None else check_calibration(fits["proba"], y_encoded)),
    ]


def _why_not_train(X, y_encoded, cv):
    if X.dtype.kind not in "OUS" and not np.isfinite(X).all():  # not paths
        return "X has NaN or infinite values (see invalid_values)"
    smallest = np.bincount(y_encoded).min()
    if smallest < cv:
        return f"the smallest class has {smallest} samples, fewer than cv={cv} folds"
    return None


def _cross_fit(model, X, y, classes, cv, random_state, verbose, details):
    """Out-of-fold probabilities and predictions, training and held-out
    accuracy, and the loss curves of ``cv`` fits of ``model``."""
    rng = check_random_state(random_state)
    folds = StratifiedKFold(cv, shuffle=True, random_state=rng.randint(2**31 - 1))
    has_proba = hasattr(model, "predict_proba")
    proba = np.zeros((len(X), len(classes))) if has_proba else None
    predicted = np.empty(len(X), dtype=y.dtype)
    histories, train_scores, test_scores, tests = [], [], [], []
    for i, (train, test) in enumerate(folds.split(X, y)):
        tests.append(test)
        _log(verbose, f"fit {i + 1}/{cv}: training on {len(train)} images ...")
        with _step(f"fit {i + 1}/{cv}", details, verbose):
            fitted = clone(model).fit(X[train], y[train])
        with _step(f"predict {i + 1}/{cv}", details, verbose) as notes:
            if has_proba:
                fold_proba = fitted.predict_proba(X[test])
                columns = np.searchsorted(classes, fitted.classes_)
                proba[np.ix_(test, columns)] = fold_proba
                predicted[test] = fitted.classes_[fold_proba.argmax(axis=1)]
            else:
                predicted[test] = fitted.predict(X[test])
            train_scores.append(float(np.mean(fitted.predict(X[train]) == y[train])))
            test_scores.append(float(np.mean(predicted[test] == y[test])))
            notes.append(f", held-out accuracy {test_scores[-1]:.3f}")
        if getattr(final_step(fitted), "history_", None):
            histories.append(final_step(fitted).history_)
    return {
        "proba": proba,
        "predicted": predicted,
        "histories": histories,
        "folds": tests,
        "train_accuracy": float(np.mean(train_scores)),
        "held_out_accuracy": float(np.mean(test_scores)),
    }
