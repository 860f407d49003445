"""The budget policy of a search: every rule that spends a ``time_budget``.

:class:`BudgetPolicy` holds the constants and the pure rules built on them:
how the budget is shared between the search and the finalists, when a trial
or a finalist may start, and what the finalists are expected to take. It
imports no Keras: it is given times (of any clock) and returns decisions,
so it is tested on made-up times. :class:`EpochTimes` collects the trials'
epoch durations that the finalists' estimate is made from.
"""

from dataclasses import dataclass, field

from .._training import TrainingPolicy, median


@dataclass
class EpochTimes:
    """The trials' epoch durations (seconds), as the finalists' estimate
    needs them.

    Attributes
    ----------
    first : list of float
        Each model's first epoch, graph tracing included.
    traced : list of float
        The same less the first step's extra time (its tracing).
    later : list of float
        Every later epoch.
    by_configuration : dict
        A configuration's key -> its epochs (first ones as in ``traced``).
    """

    first: list = field(default_factory=list)
    traced: list = field(default_factory=list)
    later: list = field(default_factory=list)
    by_configuration: dict = field(default_factory=dict)

    def add(self, key, seconds, steps=None):
        """Record an epoch of ``seconds`` of configuration ``key``; ``steps``
        (the seconds of each of its batches) marks a model's first epoch."""
        if steps is None:
            self.later.append(seconds)
        else:
            self.first.append(seconds)
            if len(steps) > 1:  # the first step traces the graph
                seconds -= steps[0] - median(steps[1:])
            self.traced.append(seconds)
        self.by_configuration.setdefault(key, []).append(seconds)


@dataclass(frozen=True)
class BudgetPolicy:
    """The rules of a ``time_budget``, each with its constant.

    Attributes
    ----------
    search_share : float, default=0.25
        Of a ``time_budget``, the share the search keeps whatever the
        finalists' estimate: the estimate counts at most the rest. Without
        it, finalists estimated to need the whole budget left the search one
        trial; a quarter on a sample (``max_search_samples``) runs more
        trials than half did on all the images. Chosen by
        ``benchmarks/bench_tuned_fashion.py``.
    budget_iterations : int, default=1000
        Hyperband iterations a search with a ``time_budget`` may run: it
        repeats its brackets until the deadline rule (or a space with no new
        configuration) stops it, so it spends its share; one iteration
        left most of the share unused (``benchmarks/bench_tuned.py
        --budgets``).
    min_resolved : int, default=1000
        Images the objective must be scored on for the finalists to stop on
        it and get ``lr_schedule="auto"``'s schedule, and for ``ensemble``:
        an accuracy on n images moves in steps of 1/n, and on fewer these
        fit noise; below it the finalists stop on the loss, at a constant
        rate (``benchmarks/bench_tuned.py --splits``).
    finalist_epochs : int, default=40
        Epochs a finalist is assumed to train to converge, for the
        finalists' estimate (at most ``epochs``): DropoutCNN's defaults stop
        after 33 to 46 epochs on digits, patience included.
    min_finalist_epochs : int, default=3
        A finalist after the first starts only when the time left holds this
        many epochs as long as the previous finalist's (tracing included):
        fewer could not improve on it.
    ensemble_rounds : int, default=10
        Rounds of the greedy selection that weighs the finalists' average:
        weights are multiples of 1/m, m at most this.
    ensemble_margin : float, default=1e-9
        How much better than the best finalist alone an average must score
        to be kept: above floating-point noise.
    min_search_trials : int, default=5
        A ``time_budget`` whose search share holds fewer trials as long as
        the defaults' leaves room for the defaults alone (see
        :meth:`defaults_only`): so few comparisons on the validation part
        replace the defaults mostly by noise, and the time they take comes
        out of the defaults' training.
    augmentation_budget : float, default=1800
        The least ``time_budget`` (seconds) under which the default search
        space searches ``augmentation`` (always without a budget, where the
        finalists train to convergence): augmentation regularises, which
        pays off only over many epochs, so trials of ``max_epochs`` epochs
        rank it low and the finalists of a short budget stop before it pays.
    training : TrainingPolicy, default=TrainingPolicy()
        The training loop's constants (the finalists' cooldown share).
    """

    search_share: float = 0.25
    budget_iterations: int = 1000
    min_resolved: int = 1000
    finalist_epochs: int = 40
    min_finalist_epochs: int = 3
    ensemble_rounds: int = 10
    ensemble_margin: float = 1e-9
    min_search_trials: int = 5
    augmentation_budget: float = 1800.0
    training: TrainingPolicy = field(default_factory=TrainingPolicy)

    def hyperband_iterations(self, time_budget):
        """Hyperband's iterations: one without a budget, else as many as
        the budget allows (``budget_iterations``)."""
        return 1 if time_budget is None else self.budget_iterations

    def searches_augmentation(self, time_budget):
        """Whether the default space searches ``augmentation`` under
        ``time_budget`` (see ``augmentation_budget``)."""
        return time_budget is None or time_budget >= self.augmentation_budget

    def defaults_only(self, now, deadline, trial_seconds, finalist_seconds, budget):
        """Whether a time ``budget`` leaves room for the defaults alone, once
        their trial (of ``trial_seconds``) has ended at ``now``: when the
        search's share (``search_share`` of the budget) holds fewer than
        ``min_search_trials`` trials as long, or when one more trial and
        the two finalists it would make (each as long as the defaults',
        ``finalist_seconds``, counted at most ``1 - search_share`` of the
        budget as in :meth:`finalists_estimate`) would end past the
        ``deadline``. Then the search stops and the defaults train as
        DropoutCNN would, with all the time left. Never without a budget.
        """
        if deadline is None or budget is None:
            return False
        share = self.search_share * budget
        finalists = min(2 * finalist_seconds, budget - share)
        few = share < self.min_search_trials * trial_seconds
        return few or now + trial_seconds + finalists > deadline

    def finalists_estimate(self, times, keys, epochs, scale=1.0, time_budget=None):
        """Seconds the finalists ``keys`` (their configurations' keys, None
        for one without trials) are expected to take, from the trials'
        ``times`` (:class:`EpochTimes`).

        Each traces its graph once (the mean first epoch's extra time over
        the median epoch) and trains ``min(finalist_epochs, epochs)`` epochs
        as long as the median of its own trials' epochs (every trial's for a
        configuration without any), times ``scale`` (the ratio of the
        finalists' training images to a trial's). With a ``time_budget``,
        at most ``1 - search_share`` of it. 0 before any trial has ended.
        """
        if not times.first:
            return 0.0
        overall = median(times.later or times.traced)
        tracing = max(sum(times.first) / len(times.first) - overall, 0.0)
        n_epochs = min(self.finalist_epochs, epochs)
        estimate = sum(
            tracing
            + scale * median(times.by_configuration.get(key) or [overall]) * n_epochs
            for key in keys
        )
        if time_budget is not None:  # the search keeps its share
            estimate = min(estimate, (1 - self.search_share) * time_budget)
        return estimate

    @staticmethod
    def search_deadline(deadline, estimate):
        """When the trials must end: the ``deadline`` less the finalists'
        ``estimate``; None without a deadline."""
        return None if deadline is None else deadline - estimate

    @staticmethod
    def trial_may_start(now, durations, estimate, deadline):
        """Whether a new trial may start at ``now``: always before any trial
        has ended (``durations`` empty) or without a ``deadline``; else when
        the mean trial duration and the finalists' ``estimate`` end by it."""
        if deadline is None or not durations:
            return True
        return now + sum(durations) / len(durations) + estimate <= deadline

    def resolves(self, n_scored):
        """Whether an objective scored on ``n_scored`` images resolves
        finalists (see ``min_resolved``)."""
        return n_scored >= self.min_resolved

    @staticmethod
    def finalist_deadline(now, deadline, number, total):
        """When finalist ``number`` (from 1) of ``total``, starting at
        ``now``, must end: an equal share of the time left to the deadline
        (what an earlier one left goes to the later ones). None without a
        ``deadline``."""
        if deadline is None:
            return None
        return now + (deadline - now) / (total - number + 1)

    def finalist_may_start(self, now, deadline, previous=None):
        """Whether the next finalist may start at ``now``: the first always
        (``previous`` None); a later one when the time left to ``deadline``
        holds ``min_finalist_epochs`` epochs as long as the previous one's
        (``previous`` = its ``(duration, epochs)``)."""
        if previous is None or deadline is None:
            return True
        duration, epochs = previous
        return now + self.min_finalist_epochs * duration / epochs <= deadline
