"""The fixes of a diagnosis: the steps a person follows, and applying them.

- :data:`HOW_TO_FIX` and :func:`how_to_fix`: for every finding code, the
  numbered steps a person follows and the Python that does it; the text
  report, the HTML report and the command line all show them
  (:attr:`Finding.steps <cnnfix.diagnostics.Finding.steps>`).
- :func:`apply_fixes`: what :meth:`Diagnosis.apply
  <cnnfix.diagnostics.Diagnosis.apply>` does (drop the flagged samples,
  balance the classes).
"""

from typing import NamedTuple

import numpy as np
from sklearn.base import clone

from ..balance import ClassBalancer


class FixSteps(NamedTuple):
    """How to fix one finding: steps for a person, then the Python.

    Attributes
    ----------
    steps : tuple of str
        What to do, in order, each a sentence. ``{look}`` stands for where
        the flagged images are (files or samples), filled in by
        :func:`how_to_fix`.
    snippet : str
        Python that does it (may be empty). It imports what it uses from
        cnnfix and scikit-learn, and uses only :data:`SNIPPET_NAMES` besides.
    """

    steps: tuple
    snippet: str


#: The names a snippet may use without defining them: the diagnosed data,
#: numpy, the report, and the folder the files came from.
SNIPPET_NAMES = ("np", "X", "y", "X_test", "y_test", "report", "path")

#: Where the flagged images are, for ``{look}``: files, or rows of X.
_LOOK = {
    "files": "Open the flagged files in an image viewer",
    "samples": (
        "Look at the flagged samples (rows of X; --html FILE on the command "
        "line, or report.to_html(X), shows them)"
    ),
}


def _fix(*steps, snippet=""):
    """The :class:`FixSteps` of ``steps`` (sentences, in order) and ``snippet``."""
    return FixSteps(steps, snippet)


def _drop(code, data="X, y"):
    """The snippet that drops a finding's samples from ``data``."""
    first, second = data.split(", ")
    return (
        f'idx = report["{code}"].indices\n'
        f"{data} = np.delete({first}, idx, axis=0), np.delete({second}, idx)"
    )


def _learning_rate_fix(verb):
    """The fix of a learning rate too high ("Lower") or too low ("Raise")."""
    return _fix(
        f"{verb} the learning rate ten times, or find a good one with the "
        "learning-rate range test (below).",
        "Diagnose again with the new rate.",
        snippet="from cnnfix import DropoutCNN, lr_find\n"
        "model = DropoutCNN(learning_rate=lr_find(DropoutCNN(), X, y).suggestion)",
    )


#: The fix of dark, bright and low-contrast images.
_LIGHTING = _fix(
    "{look}.",
    "Recapture or delete those in which the object cannot be made out.",
    "If images lit like these will also come at prediction time, keep them and "
    "stretch every image's grey levels to its own range, for training and "
    "prediction alike (below, for images in an array X).",
    snippet="low, high = np.percentile(X, [1, 99], axis=(1, 2, 3), keepdims=True)\n"
    "X = np.clip((X - low) / np.maximum(high - low, 1e-6), 0, 1)",
)

#: For every finding code, what a person does about it.
HOW_TO_FIX = {
    "class_imbalance": _fix(
        "Find the small classes: minority_classes in the evidence, with class_counts.",
        "Collect more images of them if you can.",
        "Otherwise balance the training data: oversample the small classes "
        "with ClassBalancer (or weigh them with class_weight='balanced').",
        "Judge the model by balanced accuracy: plain accuracy stays high "
        "when the small classes are ignored.",
        snippet="from cnnfix import ClassBalancer, DropoutCNN, make_pipeline\n"
        "model = make_pipeline(ClassBalancer(random_state=0), DropoutCNN())\n"
        '# score it with scoring="balanced_accuracy"',
    ),
    "too_few_samples": _fix(
        "Find the classes with too few images: classes in the evidence; the "
        "flagged samples are their images.",
        "Collect more images of these classes (at least the minimum in the "
        "evidence each).",
        "Until then, augment and oversample them while training.",
        snippet="from cnnfix import ClassBalancer, DropoutCNN\n"
        'model = DropoutCNN(augmentation="standard", '
        "balancer=ClassBalancer(random_state=0))",
    ),
    "small_dataset_from_scratch": _fix(
        "Train a pretrained network instead of one from scratch: TransferCNN "
        "fine-tunes a network that already knows edges, textures and shapes.",
        "Its ImageNet weights download once; on a machine without internet, "
        "download the file elsewhere and pass weights=<path to the file>.",
        "Compare the two by cross-validation on your data.",
        snippet="from cnnfix import TransferCNN\nmodel = TransferCNN()",
    ),
    "exact_duplicates": _fix(
        "{look}: each is a copy of an earlier image (the groups, every "
        "member of each, are in the evidence; the first of each group is "
        "not flagged).",
        "Delete the copies.",
        "Split into training and test data only after that, so that no "
        "image lands on both sides.",
        snippet=_drop("exact_duplicates"),
    ),
    "near_duplicates": _fix(
        "{look}: each is nearly a copy of an earlier image (the groups, "
        "every member of each, are in the evidence), differing only in "
        "noise, brightness or contrast.",
        "Delete the flagged images of each group that show the same picture again.",
        "Keep pairs that are genuinely two pictures (two shots of one "
        "object), but split by group (GroupKFold) so that they never "
        "straddle training and test data.",
        snippet=_drop("near_duplicates"),
    ),
    "conflicting_labels": _fix(
        "{look}: identical images with different labels (the groups are "
        "examples in the evidence).",
        "Decide the right label of each and correct it (move the file to "
        "the right class folder, or fix y).",
        "Delete the images that belong to no class, and keep one copy of each.",
        snippet=_drop("conflicting_labels"),
    ),
    "train_test_leakage": _fix(
        "Look at the flagged test samples (their positions in X_test): they "
        "also appear in the training data.",
        "Delete them from the test data, so that test accuracy measures "
        "images the model has not seen.",
        "Next time, delete duplicates before splitting the data.",
        snippet=_drop("train_test_leakage", "X_test, y_test"),
    ),
    "blurry_images": _fix(
        "{look}.",
        "Recapture or delete those in which the object cannot be made out.",
        "If images will be blurry at prediction time too, keep them and "
        "train with augmentation (below).",
        snippet="from cnnfix import DropoutCNN\n"
        'model = DropoutCNN(augmentation="standard")',
    ),
    "dark_images": _LIGHTING,
    "bright_images": _LIGHTING,
    "low_contrast_images": _LIGHTING,
    "low_information_images": _fix(
        "{look}: they are blank (constant, or noise without structure).",
        "Find out how they were made (a failed capture, a placeholder "
        "file, a conversion that lost the picture) and fix that.",
        "Delete them from the data.",
        snippet=_drop("low_information_images"),
    ),
    "unnormalized_input": _fix(
        "Scale the pixel values inside the model: DropoutCNN(normalize=True) "
        "learns each channel's mean and spread in fit.",
        "Or divide the images by their maximum (255 for 8-bit images) before "
        "training and prediction alike.",
        snippet="from cnnfix import DropoutCNN\nmodel = DropoutCNN(normalize=True)",
    ),
    "invalid_values": _fix(
        "{look}: they contain NaN or infinite pixels.",
        "Find where these come from (a failed conversion, a division by "
        "zero) and repair them at the source.",
        "Or delete those images before training.",
        snippet="keep = np.isfinite(X).all(axis=(1, 2, 3))\nX, y = X[keep], y[keep]",
    ),
    "unreadable_files": _fix(
        "{look}: the errors in the evidence say why each cannot be read.",
        "Replace the corrupt files with good copies, or delete them; move "
        "files that are not images out of the folder.",
        "To train before that, load the folder without them (below).",
        snippet="from cnnfix.datasets import load_image_folder\n"
        'X, y = load_image_folder(path, on_error="warn")  # skips them',
    ),
    "odd_image_sizes": _fix(
        "{look}: they are tiny, or much longer than wide (or wider than "
        "long), compared with the rest of the files (median_size in the "
        "evidence), so resizing blurs or stretches them.",
        "Crop the extreme aspect ratios, and replace thumbnails with full-size files.",
        "Delete images that are not of the same kind as the rest.",
    ),
    "grey_images": _fix(
        "{look}: they are grey in a colour dataset.",
        "Check that they belong. If they are mostly of one class, the network "
        "can learn 'grey' instead of the object: add colour images of that "
        "class.",
        "Or read every image as grey (below).",
        snippet="from cnnfix.datasets import load_image_folder\n"
        'X, y = load_image_folder(path, color_mode="grayscale")',
    ),
    "label_noise": _fix(
        "{look}. The most suspect come first; suggested_labels in the "
        "evidence gives the class the model prefers for each, in that order.",
        "Correct the labels that are wrong (move the file to the right class "
        "folder, or fix y).",
        "Delete the images that belong to no class; leave the correct ones.",
        "Diagnose again to see what is left.",
        snippet=_drop("label_noise"),
    ),
    "overfitting": _fix(
        "Regularise the model: dropout, augmentation, weight decay and early "
        "stopping (below).",
        "Collect more training images if you can.",
        "Diagnose again and compare training and held-out accuracy in the evidence.",
        snippet="from cnnfix import DropoutCNN\n"
        'model = DropoutCNN(dropout=0.5, augmentation="standard", '
        "weight_decay=1e-4, early_stopping=True)",
    ),
    "underfitting": _fix(
        "Rule out wrong labels and the learning rate first: see label_noise "
        "and learning-rate findings in this report.",
        "Give the model more capacity and epochs, or let a search choose them (below).",
        snippet="from cnnfix import TunedCNNClassifier\n"
        "model = TunedCNNClassifier(max_epochs=20)",
    ),
    "learning_rate_too_high": _learning_rate_fix("Lower"),
    "learning_rate_too_low": _learning_rate_fix("Raise"),
    "majority_class_collapse": _fix(
        "Balance the classes, so that predicting the largest one no longer "
        "pays (below).",
        "Check the learning rate: one too high often collapses a network "
        "onto one class.",
        "Diagnose again.",
        snippet="from cnnfix import ClassBalancer, DropoutCNN\n"
        "model = DropoutCNN(balancer=ClassBalancer(random_state=0))",
    ),
    "overconfident": _fix(
        "Nothing to do for accuracy; do this before you use the "
        "probabilities (thresholds, rankings, costs).",
        "Wrap the model in temperature scaling, calibrated on held-out folds (below).",
        "With integer labels other than 0..k-1, encode them first: "
        "scikit-learn 1.9 misreads them there.",
        snippet="from cnnfix import DropoutCNN\n"
        "from sklearn.calibration import CalibratedClassifierCV\n"
        "from sklearn.preprocessing import LabelEncoder\n"
        'model = CalibratedClassifierCV(DropoutCNN(), method="temperature", cv=3)\n'
        "y_encoded = LabelEncoder().fit_transform(y)  # fit model on these",
    ),
}

#: unnormalized_input when the estimator already scales its input.
_NOTHING_TO_DO = _fix(
    "Nothing to do: the estimator scales its input itself (normalize=True)."
)


def how_to_fix(finding):
    """The steps and the snippet for ``finding``, worded for its data.

    ``{look}`` in the steps of :data:`HOW_TO_FIX` becomes "Open the flagged
    files ..." when the finding names files (``finding.paths``), and "Look
    at the flagged samples ..." otherwise.

    Parameters
    ----------
    finding : Finding
        A finding of a diagnosis.

    Returns
    -------
    FixSteps
        ``steps`` (tuple of str, filled in) and ``snippet`` (str).

    Examples
    --------
    >>> from cnnfix.diagnostics import Finding
    >>> from cnnfix.diagnostics.fixes import how_to_fix
    >>> on_files = Finding("exact_duplicates", "info", "1 copy", paths=["b.png"])
    >>> how_to_fix(on_files).steps[0].split(":")[0]
    'Open the flagged files in an image viewer'
    >>> how_to_fix(Finding("exact_duplicates", "info", "1 copy")).steps[0][:27]
    'Look at the flagged samples'
    """
    normalizes = finding.evidence.get("estimator_normalizes")
    if finding.code == "unnormalized_input" and normalizes:
        return _NOTHING_TO_DO
    steps, snippet = HOW_TO_FIX[finding.code]
    look = _LOOK["files" if finding.paths else "samples"]
    return FixSteps(tuple(step.format(look=look) for step in steps), snippet)


#: Findings whose samples are dropped, unless the finding is only "info".
DROP_CODES = (
    "unreadable_files",
    "label_noise",
    "exact_duplicates",
    "conflicting_labels",
)


class Fixes(NamedTuple):
    """The data and estimator after :meth:`Diagnosis.apply`; unpacks as
    ``X, y, estimator, applied``.

    Attributes
    ----------
    X : ndarray
        The kept samples (a new array; the one passed in is not modified).
    y : ndarray
        Their labels (a new array).
    estimator : estimator or None
        An unfitted clone of the estimator passed in, with a
        ``ClassBalancer`` where the classes are imbalanced; None when None
        was passed.
    applied : list of str
        One human-readable line per fix applied, or per fix that could not
        be applied and how to apply it instead.
    """

    X: np.ndarray
    y: np.ndarray
    estimator: object
    applied: list


def final_step(estimator):
    """The model at the end of a Pipeline (or the estimator itself)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def apply_fixes(diagnosis, X, y, estimator=None):
    """The fixes of ``diagnosis`` applied to ``X``, ``y`` and a clone of
    ``estimator``; see :meth:`Diagnosis.apply` for the rules."""
    X, y = check_diagnosed_data(diagnosis, X, y)
    keep, dropped = _rows_to_keep(diagnosis, len(X))
    estimator, balanced = _balance(diagnosis, estimator)
    return Fixes(X[keep], y[keep], estimator, dropped + balanced)


def check_diagnosed_data(diagnosis, X, y=None):
    """X and y as arrays, of the length of the data that was diagnosed
    (ValueError otherwise). Without y, X alone is checked and y is None."""
    X = np.asarray(X)
    if y is None:  # an empty y stands in for the length checks below
        return check_diagnosed_data(diagnosis, X, np.empty(len(X)))[0], None
    y = np.asarray(y)
    expected = diagnosis.details.get("n_samples")
    if expected is not None and len(X) != expected:
        raise ValueError(
            f"This diagnosis is of {expected} samples; got X with {len(X)}. "
            "Pass the X and y that were diagnosed: the findings name samples "
            "by their position in them."
        )
    if len(y) != len(X):
        raise ValueError(
            f"Expected one label per image: y of shape ({len(X)},); got y with "
            f"shape {y.shape}. Pass the labels that were diagnosed."
        )
    largest = max((max(f.indices, default=-1) for f in diagnosis.findings), default=-1)
    if largest >= len(X):
        raise ValueError(
            f"The findings name sample {largest}; got X with only {len(X)} "
            "samples. Pass the X and y that were diagnosed."
        )
    return X, y


def _rows_to_keep(diagnosis, n):
    """Positions of the samples that no warning or error flags for dropping,
    and a line per finding that dropped some."""
    drop, lines = set(), []
    for code in DROP_CODES:
        if diagnosis.has(code) and diagnosis[code].severity != "info":
            drop |= set(diagnosis[code].indices)
            lines.append(f"dropped {len(diagnosis[code].indices)} samples ({code})")
    return np.setdiff1d(np.arange(n), sorted(drop)), lines


def _balance(diagnosis, estimator):
    """A clone of ``estimator``, given a ClassBalancer when the classes are
    imbalanced and it has nowhere else to balance them; a line saying what
    was done (or how to do it instead)."""
    if not diagnosis.has("class_imbalance"):
        return (None if estimator is None else clone(estimator)), []
    if estimator is None:
        return None, [
            "did not balance the classes (no estimator given): pass one to "
            "apply, or resample the data: "
            "ClassBalancer(random_state=0).fit_resample(X, y)"
        ]
    estimator = clone(estimator)
    steps = getattr(estimator, "steps", None)
    name = f"{steps[-1][0]}__balancer" if steps else "balancer"
    model = final_step(estimator)
    samplers = [s for s, step in (steps or [])[:-1] if hasattr(step, "fit_resample")]
    if samplers:
        return estimator, [
            f"left the balancing to the pipeline's sampler step {samplers[0]!r}"
        ]
    if name not in estimator.get_params():
        return estimator, [
            f"did not balance the classes: {type(model).__name__} has no "
            "balancer parameter; resample before it instead: "
            "make_pipeline(ClassBalancer(random_state=0), estimator)"
        ]
    if estimator.get_params()[name] is not None:
        return estimator, [f"kept the estimator's own {name}"]
    estimator.set_params(**{name: ClassBalancer(random_state=0)})
    return estimator, [f"balanced the classes: {name}=ClassBalancer(random_state=0)"]
