"""Applying a diagnosis: drop the flagged samples, balance the classes.

:meth:`Diagnosis.apply <cnnfix.diagnostics.Diagnosis.apply>` is the public
entry point; this module holds the rules.
"""

from typing import NamedTuple

import numpy as np
from sklearn.base import clone

__all__ = ["DROP_CODES", "Fixes", "apply_fixes", "check_diagnosed_data", "final_step"]

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
    if y is None:
        y = np.empty(len(X))  # stands in for the length checks below
        return check_diagnosed_data(diagnosis, X, y)[0], None
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
    if estimator is None:
        if not diagnosis.has("class_imbalance"):
            return None, []
        return None, [
            "did not balance the classes (no estimator given): pass one to "
            "apply, or resample the data: "
            "ClassBalancer(random_state=0).fit_resample(X, y)"
        ]
    estimator = clone(estimator)
    if not diagnosis.has("class_imbalance"):
        return estimator, []
    from ..balance import ClassBalancer

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
