"""The keras-tuner oracle of TunedCNNClassifier's search.

:func:`defaults_first` subclasses any keras-tuner oracle so that one of its
trials takes every hyperparameter's default (DropoutCNN's values for a dict
space, see :mod:`cnnfix.search_space`) in place of a sample of its own, it
times its trials, and it starts no trial past a deadline (``time_budget``).
:func:`hyperband_trials` counts the trials of Hyperband's brackets (all of
them: the defaults are one), for the progress line.
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
    """A subclass of a keras-tuner oracle that runs every hyperparameter's
    default (see :func:`default_values`) as one of its own trials, which
    times its trials and which starts no trial past a deadline.

    The defaults take the place of one trial the oracle would sample, so
    the search runs as many trials, with the same budgets, as keras-tuner's
    own oracle (issue #14: identical trials cost what hand-written
    keras-tuner costs). Which one:

    - "random" and "bayesian": the first trial (trial 1 of ``max_trials``).
    - Hyperband: the first trial of its last bracket, the one that trains
      every trial for the whole budget (``max_epochs``). There the defaults
      are compared at the full budget with the configurations that survive
      to the last rounds, so with ``refit=False`` (the best trial's model is
      kept) the search keeps a model only if it scored better than the
      defaults at the same budget. As the first trial of the first bracket
      they would train for ``max_epochs / factor**k`` epochs (1 by default)
      and could be eliminated there by configurations that merely learn
      faster, the bias issue #14 is about. With ``refit=True`` the
      placement does not matter for the result: the defaults are the first
      finalist, trained to convergence whether their trial ran or not (a
      ``time_budget`` can end the search before the last bracket).

    The other trials are the oracle's own samples, from the same seed. A
    sample equal to the defaults counts as a collision after them; if an
    earlier Hyperband trial sampled the defaults, the last bracket keeps its
    own sample. A resumed search (trials already there) does not add them
    again.

    The subclass takes two more keyword arguments. ``deadline`` (a
    ``time.time()`` value or None): once one trial has ended, no new trial
    starts when the mean trial duration plus ``refit_seconds`` (an
    attribute the tuner keeps up to date: what the work after the search
    will take) would end past it (a trial that runs on past that point is
    stopped by the tuner, :class:`cnnfix.TunedCNNClassifier`, at its next
    epoch, so an overrun is at most about one epoch whatever the
    estimate). ``durations`` maps trial ids to their
    seconds, and ``refit_estimates`` to the ``refit_seconds`` each started
    under (both kept in the oracle's saved state, so a resumed search has
    them too); ``stopped_by_deadline`` says whether the deadline ended it.
    """
    import keras_tuner as kt

    hyperband = issubclass(oracle_class, kt.oracles.HyperbandOracle)

    class DefaultsFirst(oracle_class):
        def __init__(self, *args, deadline=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.deadline, self.refit_seconds = deadline, 0.0
            self.durations, self.stopped_by_deadline = {}, False
            self.refit_estimates = {}
            self._started = {}

        def populate_space(self, trial_id):
            if self.trials and self._past_deadline():
                self.stopped_by_deadline = True
                return {"status": "STOPPED", "values": None}
            if self.trials or hyperband:  # Hyperband: see _random_trial
                return super().populate_space(trial_id)
            return {"status": "RUNNING", "values": default_values(self.hyperparameters)}

        def _random_trial(self, trial_id, bracket):
            # Hyperband's sample for a bracket's first round; in the last
            # bracket (every trial trained for max_epochs), the first one is
            # the defaults. The oracle's own sample is drawn all the same,
            # so the later samples are those keras-tuner would draw.
            response = super()._random_trial(trial_id, bracket)
            first_of_last = (
                bracket["bracket_num"] == 0 and len(bracket["rounds"][0]) == 1
            )
            if response["status"] == "RUNNING" and first_of_last:
                defaults = default_values(self.hyperparameters)
                if not self._duplicate(defaults):
                    budget = {
                        k: v
                        for k, v in response["values"].items()
                        if k.startswith("tuner/")
                    }
                    response["values"] = {**defaults, **budget}
            return response

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
                self.refit_estimates.setdefault(trial.trial_id, self.refit_seconds)
            return trial

        @kt.synchronized
        def end_trial(self, trial):
            started = self._started.pop(trial.trial_id, None)
            if started is not None:
                self.durations[trial.trial_id] = time.time() - started
            super().end_trial(trial)

        def get_state(self):
            return {
                **super().get_state(),
                "cnnfix_durations": self.durations,
                "cnnfix_refit_estimates": self.refit_estimates,
            }

        def set_state(self, state):
            super().set_state(state)
            self.durations = dict(state.get("cnnfix_durations", {}))
            self.refit_estimates = dict(state.get("cnnfix_refit_estimates", {}))

    DefaultsFirst.__name__ = DefaultsFirst.__qualname__ = (
        f"DefaultsFirst{oracle_class.__name__}"
    )
    return DefaultsFirst
