"""The keras-tuner oracle of TunedCNNClassifier's search.

:func:`defaults_first` subclasses any keras-tuner oracle so that its first
trial takes every hyperparameter's default (DropoutCNN's values for a dict
space, see :mod:`cnnfix.search_space`), it times its trials, and it starts
no trial past a deadline (``time_budget``). :func:`hyperband_trials` counts
the trials of Hyperband's brackets, for the progress line.
"""

import math
import time

__all__ = ["default_values", "defaults_first", "hyperband_trials"]


def hyperband_trials(max_epochs, factor):
    """How many trials keras-tuner's Hyperband runs (one iteration).

    The same bracket sizes as ``keras_tuner.oracles.HyperbandOracle``; fewer
    trials run when a small space makes samples collide.
    """
    n_brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs /= factor
        n_brackets += 1
    last_round_size = math.ceil(1 + math.log(max_epochs, factor))
    return sum(
        math.ceil(last_round_size / (bracket + 1) * factor ** (bracket - round_))
        for bracket in range(n_brackets)
        for round_ in range(bracket + 1)
    )


def default_values(hyperparameters):
    """The default of every active hyperparameter of a keras-tuner space
    (conditional ones only where their condition holds)."""
    import keras_tuner as kt

    values = kt.HyperParameters()
    for hp in hyperparameters.space:
        values.merge([hp])
        if values.is_active(hp):
            values.values[hp.name] = hp.default
    return values.values


def defaults_first(oracle_class):
    """A subclass of a keras-tuner oracle whose first trial takes every
    hyperparameter's default (see :func:`default_values`), which times its
    trials and which starts no trial past a deadline.

    The later trials are the oracle's own, and a sample equal to the
    defaults counts as a collision. A Hyperband oracle trains the defaults
    for its whole budget (``max_epochs``), outside its brackets, so they are
    compared with the configurations that survive to the last round. A
    resumed search (trials already there) does not add them again.

    The subclass takes two more keyword arguments. ``deadline`` (a
    ``time.time()`` value or None): once one trial has ended, no new trial
    starts when the mean trial duration plus ``refit_seconds`` (an
    attribute the tuner keeps up to date: what the work after the search
    will take) would end past it. ``durations`` maps trial ids to their
    seconds (kept in the oracle's saved state, so a resumed search has
    them too); ``stopped_by_deadline`` says whether the deadline ended it.
    """
    import keras_tuner as kt

    hyperband = issubclass(oracle_class, kt.oracles.HyperbandOracle)

    class DefaultsFirst(oracle_class):
        def __init__(self, *args, deadline=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.deadline, self.refit_seconds = deadline, 0.0
            self.durations, self.stopped_by_deadline = {}, False
            self._started = {}

        def populate_space(self, trial_id):
            if self.trials:
                if self._past_deadline():
                    self.stopped_by_deadline = True
                    return {"status": "STOPPED", "values": None}
                return super().populate_space(trial_id)
            values = default_values(self.hyperparameters)
            if hyperband:  # the whole budget, as the last round's trials
                values.update(
                    {"tuner/epochs": self.max_epochs, "tuner/initial_epoch": 0}
                )
            return {"status": "RUNNING", "values": values}

        def _past_deadline(self):
            if self.deadline is None or not self.durations:
                return False
            mean = sum(self.durations.values()) / len(self.durations)
            return time.time() + mean + self.refit_seconds > self.deadline

        @kt.synchronized
        def create_trial(self, tuner_id):
            trial = super().create_trial(tuner_id)
            if trial.status == "RUNNING":
                self._started.setdefault(trial.trial_id, time.time())
            return trial

        @kt.synchronized
        def end_trial(self, trial):
            started = self._started.pop(trial.trial_id, None)
            if started is not None:
                self.durations[trial.trial_id] = time.time() - started
            super().end_trial(trial)

        def get_state(self):
            return {**super().get_state(), "cnnfix_durations": self.durations}

        def set_state(self, state):
            super().set_state(state)
            self.durations = dict(state.get("cnnfix_durations", {}))

    DefaultsFirst.__name__ = DefaultsFirst.__qualname__ = (
        f"DefaultsFirst{oracle_class.__name__}"
    )
    return DefaultsFirst
