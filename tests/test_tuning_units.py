"""TunedCNNClassifier's pure logic, without training: the budget policy on
made-up times, the oracle on a fake clock, the finalists' loop with a fake
fit, the ensemble weights, the search space, the trials' data and the
progress line. The fits that wire these together are in test_tuned.py."""

import inspect
from itertools import pairwise

import numpy as np
import pytest

from cnnfix.base import FitRun
from cnnfix.tuning.data import cv_folds, search_sample
from cnnfix.tuning.ensemble import ensemble_weights
from cnnfix.tuning.finalists import (
    average_finalists,
    finalist_setup,
    train_finalists,
)
from cnnfix.tuning.policy import BudgetPolicy, EpochTimes
from cnnfix.tuning.progress import SearchProgress, hyperband_trials

POLICY = BudgetPolicy()


class _Clock:
    """A clock moved on by the test."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


# -- the budget policy ---------------------------------------------------------


def test_hyperband_repeats_its_brackets_only_with_a_budget():
    assert POLICY.hyperband_iterations(None) == 1
    assert POLICY.hyperband_iterations(60) == POLICY.budget_iterations > 1
    assert BudgetPolicy(budget_iterations=2).hyperband_iterations(60) == 2


def _times():
    """Two configurations' trials: "fast" epochs of 1 s, "slow" of 3 s;
    each model's first epoch 5 s more, its first step 4.5 s of it."""
    times = EpochTimes()
    for key, seconds in (("fast", 1.0), ("slow", 3.0)):
        steps = [4.5 + seconds / 10] + [seconds / 10] * 9
        times.add(key, 5.0 + seconds, steps)
        times.add(key, seconds)
        times.add(key, seconds)
    return times


def test_epoch_times_leave_the_first_steps_tracing_out():
    times = _times()
    assert times.first == [6.0, 8.0]
    assert times.traced == pytest.approx([1.5, 3.5])  # less the first step's extra
    assert times.later == [1.0, 1.0, 3.0, 3.0]
    assert times.by_configuration["slow"] == pytest.approx([3.5, 3.0, 3.0])


def test_the_finalists_estimate_uses_their_own_trials_epochs():
    times = _times()
    # Tracing: the mean first epoch (7 s) less the median epoch (3 s).
    policy = BudgetPolicy(finalist_epochs=10)
    assert policy.finalists_estimate(times, ["fast"], 40) == pytest.approx(4 + 10)
    assert policy.finalists_estimate(times, ["slow"], 40) == pytest.approx(4 + 30)
    both = policy.finalists_estimate(times, ["fast", "slow"], 40)
    assert both == pytest.approx(8 + 40)
    # Without trials of its own, a configuration counts the median epoch;
    # epochs caps the epochs; scale the finalists' larger data.
    assert policy.finalists_estimate(times, [None], 40) == pytest.approx(4 + 30)
    assert policy.finalists_estimate(times, ["fast"], 5) == pytest.approx(4 + 5)
    assert policy.finalists_estimate(times, ["fast"], 40, 2.0) == pytest.approx(24)
    assert policy.finalists_estimate(EpochTimes(), ["fast"], 40) == 0.0


def test_the_search_keeps_its_share_whatever_the_finalists_estimate():
    long = BudgetPolicy(finalist_epochs=10**5)
    estimate = long.finalists_estimate(_times(), ["slow"], 10**5, time_budget=240)
    assert estimate == (1 - long.search_share) * 240
    assert long.finalists_estimate(_times(), ["slow"], 10**5) > 10**5


def test_a_trial_starts_only_when_it_and_the_finalists_end_by_the_deadline():
    # Always the first, and always without a deadline.
    assert POLICY.trial_may_start(99.0, [], 50.0, 100.0)
    assert POLICY.trial_may_start(1e9, [10.0], 50.0, None)
    # Mean trial 10 s, finalists 50 s, deadline 100.
    assert POLICY.trial_may_start(40.0, [5.0, 15.0], 50.0, 100.0)
    assert not POLICY.trial_may_start(40.5, [5.0, 15.0], 50.0, 100.0)
    # A running trial stops at the search's share: the deadline less them.
    assert POLICY.search_deadline(100.0, 50.0) == 50.0
    assert POLICY.search_deadline(None, 50.0) is None


def test_finalists_share_the_time_left():
    assert POLICY.finalist_deadline(10.0, 110.0, 1, 2) == 60.0  # half
    assert POLICY.finalist_deadline(40.0, 110.0, 2, 2) == 110.0  # the rest
    assert POLICY.finalist_deadline(10.0, None, 1, 2) is None
    # A later finalist needs min_finalist_epochs of the previous one's.
    previous = (30.0, 10)  # 3 s an epoch
    assert POLICY.finalist_may_start(91.0, 100.0, previous)
    assert not POLICY.finalist_may_start(91.5, 100.0, previous)
    assert POLICY.finalist_may_start(99.0, 100.0, None)  # the first always
    assert BudgetPolicy(min_finalist_epochs=1).finalist_may_start(96.0, 100.0, previous)


def test_the_objective_resolves_finalists_from_min_resolved_images():
    assert POLICY.resolves(1000) and not POLICY.resolves(999)
    assert BudgetPolicy(min_resolved=100).resolves(100)


# -- the oracle: the defaults first, on a fake clock -------------------------


def _hyperband_plan(oracle_class, tmp_path, n=20, **options):
    """Run a Hyperband oracle's plan without training (each trial scores
    its dropout); return each trial's values."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Float("dropout", 0.1, 0.6, default=0.5)
    oracle = oracle_class(
        objective=kt.Objective("score", "max"),
        max_epochs=3,
        factor=3,
        seed=1,  # keras-tuner draws a random seed for 0
        hyperparameters=hp,
        **options,
    )
    oracle._set_project_dir(str(tmp_path), "plan")
    plan = []
    for _ in range(n):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        plan.append(dict(trial.hyperparameters.values))
        oracle.update_trial(trial.trial_id, {"score": plan[-1]["dropout"]}, step=0)
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return oracle, plan


def test_the_keras_tuner_behaviour_the_hyperband_override_relies_on(tmp_path):
    """DefaultsFirstHyperband overrides keras-tuner's private
    ``_random_trial(trial_id, bracket)``: it needs that signature, brackets
    numbered down to 0 for the last one (whose trials train max_epochs),
    and ``rounds[0]`` holding the trials made so far."""
    import keras_tuner as kt

    from cnnfix.tuning.adapter import DefaultsFirstHyperband

    parameters = inspect.signature(kt.oracles.HyperbandOracle._random_trial)
    assert list(parameters.parameters) == ["self", "trial_id", "bracket"]
    _, plain = _hyperband_plan(kt.oracles.HyperbandOracle, tmp_path / "plain")
    ours = _hyperband_plan(DefaultsFirstHyperband, tmp_path / "ours")[1]
    brackets = [(v["tuner/bracket"], v["tuner/epochs"]) for v in plain]
    assert brackets == [(1, 1)] * 3 + [(1, 3)] + [(0, 3)] * 2
    # The same plan; the last bracket's first trial is the defaults, the
    # other samples are keras-tuner's own.
    assert [(v["tuner/bracket"], v["tuner/epochs"]) for v in ours] == brackets
    assert ours[4]["dropout"] == 0.5 != plain[4]["dropout"]
    assert [v["dropout"] for v in ours[:4]] == [v["dropout"] for v in plain[:4]]
    assert ours[5]["dropout"] == plain[5]["dropout"]


def test_the_oracle_times_trials_and_stops_at_the_deadline(tmp_path):
    from cnnfix.tuning.adapter import DefaultsFirstHyperband

    clock = _Clock()

    class Ticking(DefaultsFirstHyperband):  # each trial takes 10 s
        def end_trial(self, trial):
            clock.now += 10.0
            super().end_trial(trial)

    oracle, plan = _hyperband_plan(Ticking, tmp_path, deadline=35.0, clock=clock)
    # Trials of 10 s: the fourth would end at 40, past 35.
    assert len(plan) == 3 and oracle.stopped_by_deadline
    assert list(oracle.durations.values()) == [10.0, 10.0, 10.0]
    assert list(oracle.refit_estimates.values()) == [0.0, 0.0, 0.0]


def test_the_defaults_alone_when_the_budget_holds_little_more():
    # A 100 s budget: the search's share (25 s) holds five trials of 4 s;
    # at 30 s, one more trial and two finalists of 25 s end at 84: room.
    assert not POLICY.defaults_only(30.0, 100.0, 4.0, 25.0, 100.0)
    # Finalists of 35 s would end at 104, past the deadline.
    assert POLICY.defaults_only(30.0, 100.0, 4.0, 35.0, 100.0)
    # The share holds fewer than five trials of 6 s.
    assert POLICY.defaults_only(10.0, 100.0, 6.0, 1.0, 100.0)
    assert not BudgetPolicy(min_search_trials=4).defaults_only(
        10.0, 100.0, 6.0, 1.0, 100.0
    )
    # Finalists longer than the budget count at most 1 - search_share of it,
    # so the search keeps its share.
    assert not POLICY.defaults_only(10.0, 1000.0, 4.0, 1e6, 1000.0)
    assert not POLICY.defaults_only(30.0, None, 10.0, 1e9, None)  # no budget


def _ticking(clock, finalist_seconds):
    from cnnfix.tuning.adapter import DefaultsFirstHyperband

    class Ticking(DefaultsFirstHyperband):  # trials of 10 s, timed as the tuner
        def end_trial(self, trial):
            clock.now += 10.0
            self.finalist_seconds = finalist_seconds
            super().end_trial(trial)

    return Ticking


@pytest.mark.parametrize("budget, n_trials", [(45.0, 1), (200.0, 6)])
def test_a_short_budget_trains_the_defaults_first_and_alone(tmp_path, budget, n_trials):
    clock = _Clock()
    oracle, plan = _hyperband_plan(
        _ticking(clock, 20.0),
        tmp_path,
        deadline=budget,
        time_budget=budget,
        clock=clock,
    )
    # Under a budget the defaults are the first trial. A share of 11 s holds
    # no five trials of 10 s: the defaults alone; one of 50 s holds them,
    # and one more trial and two finalists of 20 s fit in 200 s.
    alone = n_trials == 1
    assert len(plan) == n_trials and plan[0]["dropout"] == 0.5
    assert oracle.defaults_only is alone and oracle.stopped_by_deadline is alone


def test_augmentation_is_searched_under_long_budgets_only():
    assert POLICY.searches_augmentation(None)
    assert POLICY.searches_augmentation(POLICY.augmentation_budget)
    assert not POLICY.searches_augmentation(600)
    assert BudgetPolicy(augmentation_budget=60).searches_augmentation(600)


# -- the finalists ---------------------------------------------------------------


class _Trial:
    def __init__(self, trial_id, units):
        import keras_tuner as kt

        self.trial_id = trial_id
        self.hyperparameters = kt.HyperParameters()
        self.hyperparameters.values = {"units": units, "tuner/epochs": 3}


def _fake_fit(clock, scores, seconds=10.0):
    """A finalist's fit: ``seconds`` on ``clock``, a history of ``scores``
    (val_accuracy) by its units; records (units, deadline, schedule)."""
    calls = []

    def fit(trial, deadline, lr_schedule):
        units = trial.hyperparameters.values["units"]
        calls.append((units, deadline, lr_schedule))
        clock.now += seconds
        accuracy = scores[units]
        loss = [1.0 - a for a in accuracy]
        return f"model{units}", {"val_accuracy": accuracy, "val_loss": loss}

    return fit, calls


SETUP = finalist_setup(
    "val_accuracy", "auto", has_validation=True, resolved=True, early_stopping=True
)


def test_finalists_train_in_order_and_the_best_is_kept():
    clock = _Clock()
    scores = {8: [0.5, 0.9, 0.8], 16: [0.6, 0.9, 0.9], 4: [0.95]}
    fit, calls = _fake_fit(clock, scores)
    trials = [_Trial(None, 8), _Trial("3", 16), _Trial("1", 4)]
    models, _, records, kept = train_finalists(trials, fit, SETUP, POLICY, clock=clock)
    assert [c[0] for c in calls] == [8, 16, 4]
    assert [r["score"] for r in records] == [0.9, 0.9, 0.95]
    # The tie between 8 and 16 went to the lower loss within a history.
    assert [r["best_epoch"] for r in records] == [2, 2, 1]
    assert [r["params"] for r in records] == [{"units": u} for u in (8, 16, 4)]
    assert models[kept] == "model4" and [r["weight"] for r in records] == [0, 0, 1]
    assert records[0]["trial_id"] is None and records[0]["duration"] == 10.0
    # A tie between finalists keeps the earlier (the defaults first).
    _, _, _, kept = train_finalists(trials[:2], fit, SETUP, POLICY, clock=clock)
    assert kept == 0


def test_finalists_share_a_deadline_and_stop_starting_when_it_is_near():
    clock = _Clock(10.0)
    scores = {8: [0.5] * 10, 16: [0.6] * 10, 4: [0.7] * 10}
    fit, calls = _fake_fit(clock, scores, seconds=30.0)  # 3 s an epoch
    trials = [_Trial(None, 8), _Trial("3", 16), _Trial("1", 4)]
    _, _, records, _ = train_finalists(
        trials, fit, SETUP, POLICY, deadline=110.0, clock=clock
    )
    # A third of the 100 s left, then half of the 70 left; the third would
    # start at 70 with 40 left, enough for 3 epochs of 3 s: it runs.
    assert [c[1] for c in calls] == pytest.approx([10 + 100 / 3, 40 + 70 / 2, 110.0])
    assert [c[2] for c in calls] == ["cooldown"] * 3  # "auto" with a deadline
    calls.clear()
    clock.now = 10.0
    _, _, records, _ = train_finalists(
        trials, fit, SETUP, POLICY, deadline=70.0, clock=clock
    )
    # After two of 30 s, 0 s are left: the third does not start.
    assert len(records) == 2 and len(calls) == 2


@pytest.mark.parametrize(
    "resolved, lr_schedule, schedule, cooled, watched",
    [
        (False, "auto", None, False, ("val_loss", "min")),
        (True, "auto", "plateau", True, ("val_accuracy", "max")),
        (True, "plateau", "plateau", False, ("val_accuracy", "max")),
        (True, None, None, False, ("val_accuracy", "max")),
    ],
)
def test_auto_schedules_and_cools_finalists_only_on_resolving_data(
    resolved, lr_schedule, schedule, cooled, watched
):
    setup = finalist_setup(
        "val_accuracy", lr_schedule, has_validation=True, resolved=resolved
    )
    assert setup.watched == watched and setup.metric == "val_accuracy"
    assert setup.schedule(None) == schedule
    assert setup.schedule(100.0) == ("cooldown" if cooled else schedule)
    # Without validation data the training metric is watched.
    setup = finalist_setup("val_loss", "auto", has_validation=False, resolved=resolved)
    assert setup.watched == ("loss", "min")


def _proba(rows):
    return np.asarray(rows, dtype=np.float64)


#: Two finalists on 6 images of 3 classes, each right on 4: where one is
#: unsure and wrong, the other is sure and right.
Y = np.array([0, 1, 2, 0, 1, 2])
_SURE = {0: [0.9, 0.05, 0.05], 1: [0.05, 0.9, 0.05], 2: [0.05, 0.05, 0.9]}
_UNSURE = {0: [0.3, 0.4, 0.3], 1: [0.3, 0.3, 0.4], 2: [0.4, 0.3, 0.3]}
A = _proba([_SURE[c] if i < 4 else _UNSURE[c] for i, c in enumerate(Y)])
B = _proba([_SURE[c] if i >= 2 else _UNSURE[c] for i, c in enumerate(Y)])
ROUNDS = dict(rounds=POLICY.ensemble_rounds, margin=POLICY.ensemble_margin)


def test_ensemble_selection_averages_finalists_that_err_on_different_images():
    # Their average is right on all 6.
    weights, score = ensemble_weights([A, B], Y, None, "accuracy", **ROUNDS)
    np.testing.assert_allclose(weights, [0.5, 0.5])
    assert score == 1.0
    # Sample weights count: only the images both get right matter here,
    # where the average gains nothing, so the single finalist is kept.
    only_shared = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    chosen = ensemble_weights([A, B], Y, only_shared, "accuracy", **ROUNDS)
    assert chosen == (None, None)
    # On the loss, the average of a sure-right and an unsure-wrong beats
    # either alone too; the score is the cross-entropy (lower is better).
    weights, loss = ensemble_weights([A, B], Y, None, "loss", **ROUNDS)
    np.testing.assert_allclose(weights.sum(), 1.0)
    assert 0 < loss < -np.mean(np.log(A[np.arange(6), Y]))


def test_ensemble_selection_keeps_a_finalist_that_is_never_worse():
    y = np.array([0, 1, 1, 0])
    best = _proba([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])  # all right
    worse = _proba([[0.4, 0.6], [0.6, 0.4], [0.3, 0.7], [0.7, 0.3]])  # 2 of 4
    # Listed second, the better finalist is still the one started from,
    # and no average of the two scores above it.
    assert ensemble_weights([worse, best], y, None, "accuracy", **ROUNDS) == (
        None,
        None,
    )
    assert ensemble_weights([worse, best], y, None, "loss", **ROUNDS) == (None, None)


def test_the_ensemble_weighs_the_finalists_records_on_resolving_data():
    records = [{"weight": 1.0}, {"weight": 0.0}]
    heaviest, score = average_finalists(
        records, lambda: [A, B], (Y, None), SETUP, POLICY
    )
    assert (heaviest, score) == (0, 1.0)
    assert [r["weight"] for r in records] == [0.5, 0.5]
    # Not on data too small to resolve it, nor for one finalist or another
    # metric; the probabilities are then not even computed.
    small = finalist_setup("val_accuracy", "auto", has_validation=True, resolved=False)
    auc = finalist_setup("val_auc", "auto", has_validation=True, resolved=True)
    for setup, kept in ((small, records), (auc, records), (SETUP, records[:1])):
        assert average_finalists(kept, None, (Y, None), setup, POLICY) is None


# -- the trials' data ----------------------------------------------------------


def _run(n=300):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], n // 3)
    X = rng.normal(size=(n, 4, 4, 1)).astype("float32")
    return FitRun(
        train=(X, y, None), validation=None, normalization=None, seed=0, verbose=0
    )


def test_trials_train_on_one_stratified_sample_of_the_training_part():
    run = _run()
    sample = search_sample(run, 60)
    X, y, weights = sample.train
    assert len(y) == 60 and weights is None
    assert np.bincount(y).tolist() == [20, 20, 20]  # stratified
    # The same every time (the fit's seed); the rest of the run unchanged.
    np.testing.assert_array_equal(search_sample(run, 60).train[0], X)
    assert sample.seed == run.seed and sample.validation is None
    assert search_sample(run, None) is run and search_sample(run, 300) is run


def test_cv_folds_hold_out_parts_of_the_training_part():
    run = _run(90)
    folds = cv_folds(3, run, lambda fold: (fold.train, fold.validation))
    assert len(folds) == 3
    held_out = np.concatenate([validation[1] for _, validation in folds])
    # Every training sample is held out once.
    assert len(held_out) == 90
    seen = np.concatenate([validation[0] for _, validation in folds])
    assert len(np.unique(seen.reshape(90, -1), axis=0)) == 90
    for train, validation in folds:  # stratified: each class in each fold
        assert set(np.unique(validation[1])) == {0, 1, 2}
        assert len(train[1]) + len(validation[1]) == 90


# -- the search space ------------------------------------------------------------


def test_the_defaults_are_read_from_dropoutcnns_signature():
    from cnnfix import DropoutCNN, build_cnn
    from cnnfix.tuning.space import FIXED_VALUES

    defaults = DropoutCNN().get_params()
    builder = inspect.signature(build_cnn).parameters
    # DropoutCNN's values, and build_cnn's own for what DropoutCNN lacks.
    assert FIXED_VALUES == {
        name: defaults[name] if name in defaults else builder[name].default
        for name in FIXED_VALUES
    }
    assert FIXED_VALUES["residual"] is False and FIXED_VALUES["head"] == "auto"
    assert set(FIXED_VALUES) == {
        "residual",
        "head",
        "conv_filters",
        "convs_per_block",
        "kernel_size",
        "pool_size",
        "batch_norm",
        "conv_dropout",
        "dense_units",
        "dropout",
        "weight_decay",
        "learning_rate",
        "optimizer",
        "augmentation",
    }


def test_conv_filters_are_searched_as_build_cnns_tuples():
    import keras_tuner as kt

    from cnnfix.tuning.space import DEFAULT_SEARCH_SPACE, plain_values, sample

    hp = kt.HyperParameters()
    spec = DEFAULT_SEARCH_SPACE["conv_filters"]
    assert sample(hp, "conv_filters", spec, (32, 64)) == (32, 64)  # the default
    assert sample(hp, "conv_filters", (8, 16)) == (8, 16)  # a tuple is fixed
    assert sample(kt.HyperParameters(), "conv_filters", [(8,), (4,)], (32,)) == (8,)
    (declared,) = hp.space
    drawn = {declared.random_sample(seed) for seed in range(200)}
    assert {plain_values({"conv_filters": d})["conv_filters"] for d in drawn} == set(
        spec
    )
    # Depth and width, each uniform, doubling per block, up to 128 filters
    # in the first block.
    assert len(spec) == 12 and all(b == 2 * a for f in spec for a, b in pairwise(f))
    assert (128,) in spec and (128, 256, 512) in spec


def test_the_default_space_offers_residual_blocks_and_starts_at_the_defaults():
    import keras_tuner as kt

    from cnnfix.tuning.space import (
        DEFAULT_SEARCH_SPACE,
        FIXED_VALUES,
        default_values,
        plain_values,
        sample,
    )

    assert DEFAULT_SEARCH_SPACE["residual"] == [False, True]
    hp = kt.HyperParameters()
    drawn = {
        name: sample(hp, name, spec, FIXED_VALUES.get(name))
        for name, spec in DEFAULT_SEARCH_SPACE.items()
    }
    # The first trial (every hyperparameter at its default) is DropoutCNN's
    # defaults wherever the space holds them.
    first = plain_values(default_values(hp))
    assert first == drawn
    expected = {name: FIXED_VALUES[name] for name in first}
    expected["weight_decay"] = expected["weight_decay"] or 0.0  # None: no decay
    assert first == expected


# -- the progress line -------------------------------------------------------------


def test_progress_counts_trials_without_a_plan_under_a_budget(capsys):
    clock = _Clock(100.0)
    progress = SearchProgress(None, "val_accuracy", 0.0, 600, clock=clock)
    progress.update({"best": 0.91234, "duration": 40.0, "refit": 200.0})
    err = capsys.readouterr().err
    assert "Search: trial 1, best val_accuracy 0.9123, 1:40 elapsed, ~8:20 left" in err
    clock.now = 650.0
    progress.finish(stopped=True)
    err = capsys.readouterr().err
    assert "Search: 1 trials in 10:50" in err
    assert "(trials stopped by time_budget=600 s)" in err


def test_progress_plans_the_trials_and_finalists_without_a_budget(capsys):
    clock = _Clock(30.0)
    progress = SearchProgress(4, "val_loss", 0.0, None, clock=clock)
    progress.update({"best": 0.5, "duration": 30.0, "refit": 100.0})
    # Three more trials of 30 s, then the finalists' 100 s.
    assert "trial 1/4, best val_loss 0.5000, 0:30 elapsed, ~3:10 left" in (
        capsys.readouterr().err
    )
    assert hyperband_trials(3, 3) == 6 and hyperband_trials(2, 2) == 5
