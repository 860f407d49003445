"""The fixes of a diagnosis: the steps a person follows, and applying them.

- :data:`HOW_TO_FIX` (read from ``fixes.toml``) and :func:`how_to_fix`:
  for every finding code, the numbered steps a person follows and the
  Python that does it; the text report, the HTML report and the command
  line all show them (:attr:`Finding.steps
  <cnnfix.diagnostics.Finding.steps>`).
- :func:`apply_fixes`: what :meth:`Diagnosis.apply
  <cnnfix.diagnostics.Diagnosis.apply>` does (drop the flagged samples,
  balance the classes).
"""

import tomllib
from importlib.resources import files
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


def _read_fixes():
    """:data:`HOW_TO_FIX` from ``fixes.toml``, next to this module: the
    texts live there, so that they read as the person sees them."""
    text = files(__package__).joinpath("fixes.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    entries = {code: table[entry.get("same_as", code)] for code, entry in table.items()}
    return {
        code: FixSteps(tuple(entry["steps"]), entry.get("snippet", "").strip("\n"))
        for code, entry in entries.items()
    }


#: For every finding code, what a person does about it (``fixes.toml``).
HOW_TO_FIX = _read_fixes()

#: unnormalized_input when the estimator already scales its input.
_NOTHING_TO_DO = FixSteps(
    ("Nothing to do: the estimator scales its input itself (normalize=True).",), ""
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
