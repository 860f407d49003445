"""The keras-tuner adapter: the oracles, the tuner and the hypermodels of
TunedCNNClassifier's search, each a class configured by its arguments.

- The oracles (:data:`ORACLES`) are keras-tuner's own with the defaults as
  one of their trials, timed trials, and a deadline after which no trial
  starts (:class:`DefaultsFirst`).
- :class:`SearchTuner` times each epoch for the finalists' estimate, stops
  a trial at the search's share of a deadline, trains one model per fold
  with ``cv``, and reports each trial for the progress line.
- :class:`InPrecision` builds any hypermodel under a dtype policy.

Importing this module imports keras-tuner (and TensorFlow): the estimator
imports it when a search starts, in the search's worker process.
"""

import copy
import os
import time
from itertools import pairwise

import keras_tuner as kt

from .._training import deadline_callback
from ..architectures import precision_policy
from .finalists import choose_finalists, configuration_key
from .policy import BudgetPolicy, EpochTimes
from .records import split_metric
from .space import default_values


class DefaultsFirst:
    """A keras-tuner oracle mixin: the defaults run as one of the oracle's
    own trials, trials are timed, and none starts past a deadline.

    The defaults (every hyperparameter's default, see
    :func:`cnnfix.tuning.space.default_values`) take the place of one trial
    the oracle would sample, so the search runs as many trials, with the
    same budgets, as keras-tuner's own oracle: the first trial for random
    and Bayesian search; for Hyperband the first of its last bracket (see
    :class:`DefaultsFirstHyperband`). A sample equal to the defaults counts
    as a collision after them. A resumed search does not add them again.

    Parameters (keywords, besides the oracle's own)
    ----------
    time_budget : float or None
        The fit's budget (seconds), which ends at ``deadline``.
    deadline : float or None
        A time of ``clock``: once one trial has ended, no new trial starts
        unless ``policy.trial_may_start`` allows it, given the trials'
        durations and ``refit_seconds`` (the finalists' estimate, which the
        tuner keeps up to date).
    policy : BudgetPolicy
        The rules of the budget.
    clock : callable
        The clock of ``deadline``.

    With a ``deadline`` the defaults are the first trial, and once it has
    ended the search stops if ``policy.defaults_only`` says the time left
    leaves room for the defaults alone (given the trial's duration, the
    ``time_budget`` and ``finalist_seconds``, the estimate of one finalist,
    which the tuner keeps up to date); ``defaults_only`` then says so.

    Attributes ``durations`` (trial id -> seconds) and ``refit_estimates``
    (trial id -> the ``refit_seconds`` it started under) are kept in the
    oracle's saved state, so a resumed search has them;
    ``stopped_by_deadline`` says whether the deadline ended the search.
    """

    #: Whether the oracle places the defaults itself (Hyperband's last
    #: bracket) rather than as its first trial.
    places_defaults = False
    #: The attributes kept in the oracle's saved state.
    saved = ("durations", "refit_estimates")

    def __init__(
        self,
        *args,
        deadline=None,
        time_budget=None,
        policy=None,
        clock=time.time,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.deadline, self.time_budget = deadline, time_budget
        self.refit_seconds = self.finalist_seconds = 0.0
        self.policy, self.clock = policy or BudgetPolicy(), clock
        self.durations, self.refit_estimates = {}, {}
        self.started, self.stopped_by_deadline, self.defaults_only = {}, False, False

    def populate_space(self, trial_id):
        durations, now = list(self.durations.values()), self.clock()
        if len(self.trials) == 1:  # the defaults' trial has ended
            self.defaults_only = self.policy.defaults_only(
                now,
                self.deadline,
                sum(durations),
                self.finalist_seconds,
                self.time_budget,
            )
        # Before any trial has ended, durations is empty: a trial may start.
        if self.defaults_only or not self.policy.trial_may_start(
            now, durations, self.refit_seconds, self.deadline
        ):
            self.stopped_by_deadline = True
            return {"status": "STOPPED", "values": None}
        if self.trials or self.places_defaults:
            return super().populate_space(trial_id)
        return {"status": "RUNNING", "values": default_values(self.hyperparameters)}

    @kt.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == "RUNNING":
            self.started.setdefault(trial.trial_id, self.clock())
            self.refit_estimates.setdefault(trial.trial_id, self.refit_seconds)
        return trial

    @kt.synchronized
    def end_trial(self, trial):
        started = self.started.pop(trial.trial_id, None)
        if started is not None:
            self.durations[trial.trial_id] = self.clock() - started
        super().end_trial(trial)

    def get_state(self):
        saved = {f"cnnfix_{name}": getattr(self, name) for name in self.saved}
        return {**super().get_state(), **saved}

    def set_state(self, state):
        super().set_state(state)
        for name in self.saved:
            setattr(self, name, dict(state.get(f"cnnfix_{name}", {})))


class DefaultsFirstRandomSearch(DefaultsFirst, kt.oracles.RandomSearchOracle):
    """keras-tuner's random search, the defaults first."""


class DefaultsFirstBayesian(DefaultsFirst, kt.oracles.BayesianOptimizationOracle):
    """keras-tuner's Bayesian optimization, the defaults first."""


class DefaultsFirstHyperband(DefaultsFirst, kt.oracles.HyperbandOracle):
    """keras-tuner's Hyperband, the defaults first in its last bracket (with
    a ``deadline``, the first trial of all, so that a short budget trains
    them first; see :class:`DefaultsFirst`).

    That bracket trains every trial for the whole budget (``max_epochs``),
    so the defaults are compared at the full budget with the configurations
    that survive to the last rounds: as the first trial of the first
    bracket they would train for an epoch and could lose to configurations
    that merely learn faster. Without finalists the search then keeps a
    model only if it scored better than the defaults at the same budget.

    This overrides keras-tuner's private ``_random_trial(trial_id,
    bracket)``, which draws the sample of a bracket's first round; a test
    pins what it relies on (its arguments, and ``bracket["bracket_num"]``
    counting down to 0 for the last bracket with ``bracket["rounds"][0]``
    holding the trials created so far).
    """

    places_defaults = True

    def _random_trial(self, trial_id, bracket):
        # The oracle's own sample is drawn all the same, so the later
        # samples are those keras-tuner would draw.
        response = super()._random_trial(trial_id, bracket)
        first_of_last = bracket["bracket_num"] == 0 and len(bracket["rounds"][0]) == 1
        first = not self.trials if self.deadline is not None else first_of_last
        if response["status"] == "RUNNING" and first:
            defaults = default_values(self.hyperparameters)
            if not self._duplicate(defaults):
                values = response["values"]
                budget = {k: v for k, v in values.items() if k.startswith("tuner/")}
                response["values"] = {**defaults, **budget}
        return response


#: The oracle of each ``tuner`` value.
ORACLES = {
    "hyperband": DefaultsFirstHyperband,
    "random": DefaultsFirstRandomSearch,
    "bayesian": DefaultsFirstBayesian,
}


def search_objective(name, has_validation):
    """keras-tuner's objective for the estimator's ``objective`` (names
    ending in "loss" minimised); the training metric without validation
    data."""
    if not has_validation:
        name = name.removeprefix("val_")
    return kt.Objective(name, direction="min" if name.endswith("loss") else "max")


class SearchTuner(kt.Tuner):
    """keras-tuner's tuner for TunedCNNClassifier's search.

    ``oracle`` is a :class:`DefaultsFirst` oracle, whose ``time_budget``,
    ``deadline`` (a time of its ``clock``) and ``policy`` the tuner keeps.

    Parameters (keywords, besides the tuner's own)
    ----------
    n_finalists : int
        Finalists trained after the search (0 for none), for their estimate.
    epochs : int
        The finalists' most epochs.
    scale : float
        The ratio of the finalists' training images to a trial's, by which
        their epochs are longer than the trials'.
    folds : list or None
        With ``cv``, one ``(fit arguments, validation data)`` per fold.
    emit : callable
        Gets ``{"best", "duration", "refit"}`` as each trial ends.
    """

    def __init__(
        self,
        oracle,
        hypermodel,
        *,
        n_finalists,
        epochs,
        scale,
        folds,
        emit,
        **kwargs,
    ):
        # A searcher's own __init__ (kt.Hyperband's) only makes its oracle.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.n_finalists, self.epochs, self.scale = n_finalists, epochs, scale
        self.folds, self.emit = folds, emit
        # ``oracle`` itself: in a distributed worker self.oracle is a client.
        self.time_budget, self.deadline = oracle.time_budget, oracle.deadline
        self.policy, self.clock = oracle.policy, oracle.clock
        self.times, self.timed_model = EpochTimes(), None

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.trial_started = self.clock()

    def on_epoch_begin(self, trial, model, epoch, logs=None):
        super().on_epoch_begin(trial, model, epoch, logs=logs)
        self.stamps = [self.clock()]  # the epoch's start, then each batch's end

    def on_batch_end(self, trial, model, batch, logs=None):
        super().on_batch_end(trial, model, batch, logs)
        self.stamps.append(self.clock())

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)
        seconds = self.clock() - self.stamps[0]
        first = model is not self.timed_model  # a new model's first epoch
        self.timed_model = model
        steps = [end - start for start, end in pairwise(self.stamps)]
        self.times.add(configuration_key(trial), seconds, steps if first else None)

    def on_trial_end(self, trial):
        duration = self.clock() - self.trial_started
        super().on_trial_end(trial)
        best = self.oracle.get_best_trials(1)
        score = float(best[0].score) if best and best[0].score is not None else None
        # What the deadline's rules need: the finalists' estimate (as the
        # trials so far rank them), and one finalist's at the median epoch.
        # A distributed worker's oracle client cannot list the trials, and
        # the chief's oracle keeps the deadline: every finalist counts the
        # median.
        if distributed_worker():
            keys = [None] * self.n_finalists
        else:
            finalists = choose_finalists(self.oracle, self.n_finalists)
            keys = [configuration_key(t) for t in finalists]
        refit = self.oracle.refit_seconds = self.policy.finalists_estimate(
            self.times, keys, self.epochs, self.scale, self.time_budget
        )
        self.oracle.finalist_seconds = self.policy.finalists_estimate(
            self.times, [None], self.epochs, self.scale
        )
        self.emit({"best": score, "duration": duration, "refit": refit})

    def _build_and_fit_model(self, trial, *args, **kwargs):
        """keras-tuner's method, with a deadline and ``cv``.

        With a deadline, a model stops (its best epoch scored) when its next
        epoch would end past the search's share (the deadline less the
        finalists' estimate), so a trial unlike the ones before it cannot
        take the finalists' time. With ``folds``, one model per fold, each
        built and trained from scratch for the trial's epochs; keras-tuner
        averages their best-epoch metrics, as it does executions, and each
        fold's objective is kept as a metric of its own."""
        callbacks = kwargs.pop("callbacks", [])
        if self.deadline is not None:
            share = self.policy.search_deadline(
                self.deadline, self.oracle.refit_seconds
            )
            callbacks = [*callbacks, deadline_callback(share, clock=self.clock)]
        if self.folds is None:
            return super()._build_and_fit_model(
                trial, *args, callbacks=callbacks, **kwargs
            )
        fresh = copy.copy(trial)  # no Hyperband warm start
        fresh.hyperparameters = trial.hyperparameters.copy()
        fresh.hyperparameters.values.pop("tuner/trial_id", None)
        kwargs["initial_epoch"] = 0
        name = self.oracle.objective.name
        results = []
        for number, (arguments, validation) in enumerate(self.folds):
            # Fresh copies of the user's callbacks for each model, as
            # keras-tuner gives each execution; its own (progress,
            # best-epoch checkpoint) are shared by the trial's models.
            fold_callbacks = [
                c if type(c).__module__.startswith("keras_tuner.") else copy.deepcopy(c)
                for c in callbacks
            ]
            result = super()._build_and_fit_model(
                fresh,
                *args,
                **kwargs,
                **arguments,
                validation_data=validation,
                callbacks=fold_callbacks,
            )
            if name in getattr(result, "history", {}):
                result.history[split_metric(number)] = list(result.history[name])
            results.append(result)
        return results


class HyperbandSearchTuner(SearchTuner, kt.Hyperband):
    """:class:`SearchTuner` with Hyperband's epochs and warm starts."""


class InPrecision(kt.HyperModel):
    """``hypermodel`` (a HyperModel, or a ``build(hp)`` callable) whose
    models are built under ``precision``'s dtype policy. The policy set by
    ``fit`` is not enough: keras-tuner clears the Keras session before each
    build, which resets the policy, and a worker process starts with the
    default."""

    def __init__(self, hypermodel, precision):
        super().__init__()
        self.hypermodel, self.precision = hypermodel, precision

    def build(self, hp):
        with precision_policy(self.precision):
            return getattr(self.hypermodel, "build", self.hypermodel)(hp)

    def fit(self, hp, model, *args, **kwargs):
        # A HyperModel's own fit; keras-tuner's (model.fit) for a callable.
        own = self.hypermodel if isinstance(self.hypermodel, kt.HyperModel) else super()
        return own.fit(hp, model, *args, **kwargs)


def distributed_worker():
    """Whether this process is a worker of keras-tuner's distributed search
    (``KERASTUNER_TUNER_ID`` set to anything but "chief...")."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )
