"""What the trials train and are scored on: a sample of the training part,
and ``cv``'s folds over it. The finalists train on the whole training part.
"""

import dataclasses
from numbers import Integral

from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import check_random_state

from .._input import stratified_split


def _rows(part, index):
    """``(X, y, sample_weight)`` ``part`` at the rows ``index``."""
    return tuple(None if a is None else a[index] for a in part)


def search_sample(run, max_samples):
    """``run`` with the trials' training part: at most ``max_samples``
    images of its training part, a stratified sample drawn from the fit's
    seed (the same for every trial); ``run`` itself when it holds fewer or
    ``max_samples`` is None."""
    y = run.train[1]
    if max_samples is None or len(y) <= max_samples:
        return run
    _, sample = stratified_split(y, max_samples / len(y), check_random_state(run.seed))
    return dataclasses.replace(run, train=_rows(run.train, sample))


def cv_folds(cv, run, arguments):
    """The trials' cross-validation folds over the run's training part.

    ``cv`` is an int k (stratified k-fold, shuffled from the fit's seed) or
    a scikit-learn splitter. ``arguments(fold)`` turns each fold (``run``
    with the fold's training and held-out parts) into what one model
    trains on, ``(fit arguments, validation data)``: the same machinery as
    the training part's (balancing, file paths decoded batch by batch).
    """
    X, y, _ = run.train
    if isinstance(cv, Integral):
        # Shuffled from the fit's one seed, like every random choice.
        splitter = StratifiedKFold(cv, shuffle=True, random_state=run.seed)
    else:
        splitter = check_cv(cv, y, classifier=True)
    return [
        arguments(
            dataclasses.replace(
                run,
                train=_rows(run.train, train),
                validation=_rows(run.train, held_out),
            )
        )
        for train, held_out in splitter.split(X, y)
    ]
