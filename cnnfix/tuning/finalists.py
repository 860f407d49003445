"""The finalists: which configurations are trained to convergence after the
search, how, and which one (or which average) is kept.

:func:`choose_finalists` reads them from the oracle: the defaults first,
then the best other distinct configurations. :func:`finalist_setup` says
how they train (what early stopping watches, the schedule), and
:func:`train_finalists` trains them one after another through a ``fit``
function it is given (the estimator's, which trains through
:mod:`cnnfix._training`), sharing a deadline by the
:class:`~cnnfix.tuning.policy.BudgetPolicy`. :func:`average_finalists`
weighs their average (:mod:`cnnfix.tuning.ensemble`).
"""

import time
from dataclasses import dataclass
from types import SimpleNamespace

from .._convert import to_python
from .._training import best_epoch
from .ensemble import SCORES, ensemble_weights
from .space import default_values, plain_values


def trial_values(trial):
    """A trial's searched values as plain Python (keras-tuner's own
    ``tuner/...`` bookkeeping removed)."""
    values = {
        k: to_python(v)
        for k, v in trial.hyperparameters.values.items()
        if not k.startswith("tuner/")
    }
    return plain_values(values)


def configuration_key(trial):
    """A hashable key of a trial's configuration (its searched values)."""
    return repr(sorted(trial_values(trial).items()))


def in_creation_order(oracle):
    """The oracle's trials in creation order (ids are numbers as strings;
    a reloaded search lists them shuffled)."""
    return sorted(oracle.trials.values(), key=lambda t: (len(t.trial_id), t.trial_id))


def choose_finalists(oracle, n):
    """The ``n`` configurations trained to convergence after the search: the
    defaults' (the first trial that ran them, or them without a trial, a
    ``trial_id`` of None, when a ``time_budget`` ended the search first),
    then the best other ones by score, each configuration once (Hyperband
    continues a configuration in a new trial)."""
    trials = in_creation_order(oracle)
    hyperparameters = oracle.hyperparameters.copy()
    hyperparameters.values = default_values(oracle.hyperparameters)
    defaults = SimpleNamespace(trial_id=None, hyperparameters=hyperparameters)
    wanted = trial_values(defaults)
    defaults = next((t for t in trials if trial_values(t) == wanted), defaults)
    kept = {configuration_key(defaults): defaults}
    for trial in oracle.get_best_trials(len(trials)):
        if trial.score is not None:
            kept.setdefault(configuration_key(trial), trial)
    return list(kept.values())[:n]


@dataclass(frozen=True)
class FinalistSetup:
    """How the finalists train and are compared.

    Attributes
    ----------
    metric : str
        The objective's name in a history ("val_accuracy").
    direction : {"min", "max"}
        Whether a lower or a higher ``metric`` is better.
    watched : (str, str)
        What early stopping watches: ``(metric, direction)``.
    lr_schedule : None, "plateau" or "cooldown"
        The training loop's schedule without a deadline.
    cooldown : bool
        Whether a finalist with a deadline cools down before it.
    early_stopping : bool
        Whether a finalist's best epoch (not its last) is its score.
    resolved : bool
        Whether the objective's data resolve finalists (see
        ``BudgetPolicy.min_resolved``): the ensemble needs it.
    """

    metric: str
    direction: str
    watched: tuple
    lr_schedule: str | None
    cooldown: bool
    early_stopping: bool = True
    resolved: bool = True

    def better(self, score, than):
        """Whether ``score`` is strictly better than ``than``."""
        return score < than if self.direction == "min" else score > than

    def schedule(self, deadline):
        """The schedule of a finalist with ``deadline`` (None for none)."""
        return "cooldown" if self.cooldown and deadline else self.lr_schedule


def finalist_setup(
    objective, lr_schedule, *, has_validation, resolved, early_stopping=True
):
    """The finalists' :class:`FinalistSetup`.

    ``objective`` is the estimator's (``"val_accuracy"``), ``lr_schedule``
    its (None, "plateau" or "auto"). On data that resolve the objective,
    early stopping watches it (a tie going to the lower loss) and "auto"
    is the plateau schedule, cooled down before a deadline; on fewer, the
    finalists stop on the loss, at a constant rate.
    """
    prefix = "val_" if has_validation else ""
    metric = prefix + objective.removeprefix("val_")
    direction = "min" if metric.endswith("loss") else "max"
    watched = (metric, direction)
    if not resolved and direction == "max":
        watched = (prefix + "loss", "min")
    auto = lr_schedule == "auto"
    return FinalistSetup(
        metric=metric,
        direction=direction,
        watched=watched,
        lr_schedule=("plateau" if resolved else None) if auto else lr_schedule,
        cooldown=auto and resolved,
        early_stopping=early_stopping,
        resolved=resolved,
    )


def train_finalists(
    finalists, fit, setup, policy, *, deadline=None, clock=time.time, emit=None
):
    """Train ``finalists`` in order; return their models, histories and
    records, and the index of the kept one.

    ``fit(trial, deadline, lr_schedule)`` trains one and returns ``(model,
    history)``. With a ``deadline`` (a time of ``clock``), each gets an equal
    share of the time left when it starts, and a finalist after the first
    starts only when ``policy`` allows (see
    :meth:`~cnnfix.tuning.policy.BudgetPolicy.finalist_may_start`). A
    record holds "trial_id", "params", "score" (at the best epoch),
    "best_epoch", "epochs", "duration" and "weight" (1 for the kept one,
    the best score, the earlier on a tie). ``emit`` gets each record as it
    ends.
    """
    records, models, histories, kept = [], [], [], None
    for number, trial in enumerate(finalists, 1):
        started = clock()
        previous = (records[-1]["duration"], records[-1]["epochs"]) if records else None
        if not policy.finalist_may_start(started, deadline, previous):
            break  # too little time left to train another
        share = policy.finalist_deadline(started, deadline, number, len(finalists))
        model, history = fit(trial, share, setup.schedule(share))
        scores = history[setup.metric]
        epoch = best_epoch(history, setup.watched) if setup.early_stopping else -1
        record = {
            "trial_id": trial.trial_id,
            "params": trial_values(trial),
            "score": float(scores[epoch]),
            "best_epoch": epoch % len(scores) + 1,
            "epochs": len(scores),
            "duration": clock() - started,
        }
        records.append(record)
        models.append(model)
        histories.append(history)
        if emit is not None:
            emit({"finalist": number, "of": len(finalists), **record})
        if kept is None or setup.better(record["score"], records[kept]["score"]):
            kept = len(records) - 1
    for index, record in enumerate(records):
        record["weight"] = float(index == kept)
    return models, histories, records, kept


def average_finalists(records, probabilities, labels, setup, policy):
    """Weigh the finalists' average by ensemble selection on the validation
    part (``probabilities()``: each finalist's there, ``labels``: ``(y,
    sample_weight)``); set each record's "weight" and return ``(index of the
    heaviest, the average's score)`` when the average is kept, else None.
    Only with more than one finalist, on data that resolve finalists, and an
    accuracy or loss objective."""
    metric = setup.metric.removeprefix("val_")
    if len(records) < 2 or not setup.resolved or metric not in SCORES:
        return None
    weights, score = ensemble_weights(
        probabilities(),
        *labels,
        metric,
        rounds=policy.ensemble_rounds,
        margin=policy.ensemble_margin,
    )
    if weights is None:
        return None
    for record, weight in zip(records, weights, strict=True):
        record["weight"] = float(weight)
    return max(range(len(records)), key=lambda i: weights[i]), score
