"""The demo: damage the built-in digits, diagnose, fix, and measure.

``python -m cnnfix demo`` prints what :func:`run_demo` does and returns.
"""

import time
from functools import partial

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from .datasets import load_damaged_digits
from .diagnostics import diagnose
from .dropout import DropoutCNN

__all__ = ["run_demo"]


def run_demo(*, epochs="auto", cv=3, random_state=0, verbose=1):
    """Damage the digits, train, diagnose, apply the fixes, train again.

    Parameters
    ----------
    epochs : int or "auto", default="auto"
        DropoutCNN's ``epochs`` in each fit.
    cv : int, default=3
        Folds of the diagnosis.
    random_state : int, default=0
        Seeds the damage, the CNNs and the folds.
    verbose : int, default=1
        0 prints nothing; 1 prints each step, its time and the report on
        stdout (and diagnose's progress on stderr).

    Returns
    -------
    dict
        ``accuracy_before``, ``accuracy_after``, ``balanced_accuracy_before``
        and ``balanced_accuracy_after`` on the clean test images;
        ``applied`` (a line per fix), ``n_flipped`` (labels flipped),
        ``n_flipped_flagged`` (of them, flagged as label noise) and the
        ``report``.
    """
    start = time.perf_counter()
    X_train, X_test, y_train, y_test, flipped = load_damaged_digits(random_state)

    say = partial(print, flush=True) if verbose else lambda message: None

    def step(message):
        say(f"[{time.perf_counter() - start:5.1f} s] {message}")

    def evaluate(clf):
        y_pred = clf.predict(X_test)
        return accuracy_score(y_test, y_pred), balanced_accuracy_score(y_test, y_pred)

    say(
        "cnnfix demo: scikit-learn's digits, training part damaged: classes 5-9 "
        f"kept at ~15% (counts {np.bincount(y_train, minlength=10).tolist()}), "
        f"{len(flipped)} labels ({len(flipped) / len(y_train):.0%}) flipped; "
        f"{len(X_test)} clean test images.\n"
    )
    cnn = DropoutCNN(epochs=epochs, random_state=random_state)
    step("1/4 training DropoutCNN on the damaged data")
    before = evaluate(clone(cnn).fit(X_train, y_train))
    step(f"    accuracy {before[0]:.4f}, balanced accuracy {before[1]:.4f}")
    step(f"2/4 diagnosing ({cv} cross-validation fits)")
    report = diagnose(
        X_train, y_train, cnn, cv=cv, random_state=random_state, verbose=verbose
    )
    say("\n" + report.summary() + "\n")
    flagged = report["label_noise"].indices if report.has("label_noise") else []
    found = len(set(flagged) & set(flipped.tolist()))
    if flagged:
        step(
            f"    of the {len(flipped)} flipped labels, {found} are among "
            f"the {len(flagged)} flagged"
        )
    step("3/4 applying the fixes")
    X_fixed, y_fixed, fixed, applied = report.apply(X_train, y_train, cnn)
    for line in applied or ["nothing to fix"]:
        say(f"    - {line}")
    step("4/4 training the fixed model")
    after = evaluate(fixed.fit(X_fixed, y_fixed))
    step("done")
    return {
        "accuracy_before": float(before[0]),
        "accuracy_after": float(after[0]),
        "balanced_accuracy_before": float(before[1]),
        "balanced_accuracy_after": float(after[1]),
        "applied": applied,
        "n_flipped": len(flipped),
        "n_flipped_flagged": found,
        "report": report,
    }
