"""Plain records of a search: each trial's, and ``search_results_``.

What the search worker sends back is plain Python (picklable, JSON-able):
:func:`trial_record` reads one from a keras-tuner trial, and
:func:`search_results` turns them into the estimator's ``search_results_``
columns.
"""

from itertools import zip_longest

from .finalists import trial_values


def split_metric(number):
    """The name under which a trial records fold ``number``'s objective."""
    return f"cnnfix_split{number}"


def trial_record(trial, oracle):
    """A trial's plain record; the oracle (see
    :class:`cnnfix.tuning.adapter.DefaultsFirst`) keeps its duration and the
    finalists' estimate it started under."""
    duration = oracle.durations.get(trial.trial_id)
    estimate = oracle.refit_estimates.get(trial.trial_id)
    return {
        "trial_id": trial.trial_id,
        "status": str(trial.status),
        "score": None if trial.score is None else float(trial.score),
        "best_epoch": int(trial.best_step) + 1,
        "duration": None if duration is None else float(duration),
        "refit_estimate": None if estimate is None else float(estimate),
        "splits": [
            float(trial.metrics.get_last_value(split_metric(i)))
            for i in range(len(trial.metrics.metrics))
            if trial.metrics.exists(split_metric(i))
        ],
        "params": trial_values(trial),
    }


def trial_history(trial):
    """A trial's per-epoch metrics (its folds' own left out)."""
    return {
        name: [float(o.value[0]) for o in trial.metrics.get_history(name)]
        for name in trial.metrics.metrics
        if not name.startswith(split_metric(""))
    }


def search_results(trials):
    """``search_results_``: one column per field of the ``trials``' records
    (see :func:`trial_record`), "split<i>_score" per fold and
    "param_<name>" per searched name."""
    names = sorted({k for t in trials for k in t["params"]})
    splits = zip_longest(*(t["splits"] for t in trials))  # None where a trial has none
    fields = ("trial_id", "status", "score", "best_epoch", "duration", "refit_estimate")
    return {
        **{field: [t[field] for t in trials] for field in fields},
        **{f"split{i}_score": list(s) for i, s in enumerate(splits)},
        **{f"param_{n}": [t["params"].get(n) for t in trials] for n in names},
    }
