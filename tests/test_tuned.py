"""TunedCNNClassifier: search spaces, tuners, disk, finalists, silence,
pickling. The budget's rules, the ensemble weights and the finalists' loop
are tested as pure logic in test_tuning_units.py."""

import gc
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest

from cnnfix import TunedCNNClassifier, WorkerError
from cnnfix.tuning import DEFAULT_SEARCH_SPACE
from cnnfix.tuning.policy import BudgetPolicy

from .conftest import QUICK_SEARCH as QUICK


@pytest.fixture(scope="module")
def fitted(small_digits):
    X, y = small_digits
    return TunedCNNClassifier(**{**QUICK, "max_trials": 2}).fit(X, y)


def test_fitted_search_attributes(fitted):
    assert fitted.n_trials_ == 2 and fitted.defaults_only_ is False
    assert set(fitted.best_params_) == {"conv_filters"}
    assert fitted.best_params_["conv_filters"] in ((4,), (8,))
    # build_cnn's own value: a tuple of plain ints.
    assert type(fitted.best_params_["conv_filters"]) is tuple
    assert type(fitted.best_params_["conv_filters"][0]) is int
    results = fitted.search_results_
    assert len(results["trial_id"]) == 2 == len(results["param_conv_filters"])
    assert set(results["status"]) == {"COMPLETED"}
    (filters,) = fitted.best_params_["conv_filters"]
    assert fitted.model_.get_layer("conv0").filters == filters


def test_search_results_make_a_dataframe(fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(fitted.search_results_)
    assert list(frame.columns[:4]) == ["trial_id", "status", "score", "best_epoch"]
    assert len(frame) == fitted.n_trials_


def test_the_kept_finalist_is_converged(fitted):
    history = fitted.history_
    # Trained past the trials' max_epochs=2, up to epochs=4, with early
    # stopping on the validation part; best_score_ is its restored epoch's.
    assert fitted.n_epochs_ > QUICK["max_epochs"]
    assert fitted.n_epochs_ <= QUICK["epochs"]
    # Early stopping watched the objective, a tie going to the lower loss:
    # that epoch was restored.
    loss = -np.asarray(history["val_loss"])
    keys = list(zip(history["val_accuracy"], loss, strict=True))
    restored = max(range(len(keys)), key=keys.__getitem__)
    assert fitted.best_score_ == pytest.approx(max(history["val_accuracy"]))
    kept = max(fitted.finalists_, key=lambda f: f["score"])  # first on a tie
    assert kept["best_epoch"] == restored + 1


@pytest.mark.parametrize("lr_schedule", [None, "plateau"])
def test_the_defaults_finalist_is_dropoutcnns_model(small_digits, lr_schedule):
    from cnnfix import DropoutCNN

    X, y = small_digits
    y = y + 10  # labels that are not 0..k-1
    tuned = TunedCNNClassifier(
        **QUICK,
        n_finalists=1,
        objective="val_loss",  # what DropoutCNN's early stopping watches
        lr_schedule=lr_schedule,
        patience=3,  # the schedule acts after one epoch without improvement
        verbose=0,
    ).fit(X, y)
    assert tuned.best_params_ == {"conv_filters": (8,)}  # the first choice
    dropout = DropoutCNN(
        conv_filters=(8,),
        dense_units=16,
        dropout=0.2,
        epochs=4,
        patience=3,
        lr_schedule=lr_schedule,
        random_state=0,
    ).fit(X, y)
    # The same split, seed and training: the same model, so the search can
    # only replace DropoutCNN's model with one that scores better.
    assert tuned.history_ == dropout.history_
    np.testing.assert_allclose(
        tuned.predict_proba(X), dropout.predict_proba(X), atol=1e-6
    )


def test_a_finalist_replaces_the_defaults_only_with_a_better_score(small_digits):
    X, y = small_digits
    space = {**QUICK["search_space"], "learning_rate": [1e-3, 1e-7]}
    clf = TunedCNNClassifier(**{**QUICK, "search_space": space, "max_trials": 3})
    clf.fit(X, y)
    # Both values reached the finalists; 1e-7 learns nothing in 4 epochs.
    assert len(set(clf.search_results_["param_learning_rate"])) == 2
    assert clf.best_params_["learning_rate"] == 1e-3


def test_every_finalist_is_recorded(fitted):
    first, second = fitted.finalists_
    assert first["params"] == {"conv_filters": (8,)}  # the defaults first
    assert second["params"] == {"conv_filters": (4,)}
    kept = max(fitted.finalists_, key=lambda f: f["score"])  # first on a tie
    assert fitted.best_params_ == kept["params"]
    assert fitted.best_score_ == kept["score"]
    assert kept["epochs"] == fitted.n_epochs_
    for finalist in fitted.finalists_:
        assert 1 <= finalist["best_epoch"] <= finalist["epochs"] <= QUICK["epochs"]
        assert finalist["duration"] > 0
        assert finalist["trial_id"] in fitted.search_results_["trial_id"]


def test_without_finalists_the_best_trial_model_is_kept(small_digits):
    X, y = small_digits
    clf = TunedCNNClassifier(**QUICK, train_finalists=False).fit(X, y)
    assert "val_accuracy" in clf.history_
    assert clf.predict(X).shape == (len(X),)
    assert clf.finalists_ == []


@pytest.mark.slow  # three searches; test_tuning_units.py checks the sample
def test_trials_train_on_a_sample_and_finalists_on_all(small_digits):
    """With more training images than max_search_samples, every trial (and
    each cv fold) trains on the same stratified sample; the finalists on the
    whole training part. Steps per epoch show how many images each saw."""
    X, y = small_digits
    y = np.array(["cat", "dog", "emu"])[y]  # labels that are not numbers

    class Steps(keras.callbacks.Callback):
        seen = []  # on the class: keras-tuner trains deep copies

        def on_train_begin(self, logs=None):
            type(self).seen.append(self.params["steps"])

    settings = {**QUICK, "max_trials": 2, "isolate_search": False, "batch_size": 10}
    TunedCNNClassifier(
        **settings, max_search_samples=None, callbacks=[Steps()], verbose=0
    ).fit(X, y)
    (whole,) = set(Steps.seen)  # every model on the whole training part
    assert whole == 27  # 270 images: the 300 less the validation split

    Steps.seen.clear()
    clf = TunedCNNClassifier(
        **settings, max_search_samples=60, callbacks=[Steps()], verbose=0
    ).fit(X, y)
    assert Steps.seen == [6, 6, whole, whole]  # 2 trials, then 2 finalists
    assert clf.score(X, y) > 0.5

    Steps.seen.clear()
    TunedCNNClassifier(
        **settings, max_search_samples=60, cv=3, callbacks=[Steps()], verbose=0
    ).fit(X, y)
    assert Steps.seen == [4] * 6 + [whole, whole]  # 3 folds of 40 of the 60


def test_default_search_space(small_digits):
    X, y = small_digits
    clf = TunedCNNClassifier(
        tuner="random",
        max_trials=1,
        max_epochs=1,
        train_finalists=False,
        random_state=0,
    )
    clf.fit(X, y)
    assert set(clf.best_params_) == set(DEFAULT_SEARCH_SPACE)
    conv_filters = clf.best_params_["conv_filters"]
    assert conv_filters in DEFAULT_SEARCH_SPACE["conv_filters"]
    low, high = DEFAULT_SEARCH_SPACE["learning_rate"]
    assert low <= clf.best_params_["learning_rate"] <= high
    assert type(clf.best_params_["batch_norm"]) is bool
    assert clf.best_params_["augmentation"] in (None, "light", "standard")


def test_the_default_learning_rate_is_searched_on_a_log_decade_around_dropoutcnns():
    import keras_tuner as kt

    from cnnfix import DropoutCNN
    from cnnfix.tuning.space import sample

    default = DropoutCNN().learning_rate
    hp = kt.HyperParameters()
    spec = DEFAULT_SEARCH_SPACE["learning_rate"]
    assert sample(hp, "learning_rate", spec, default) == default  # defaults' trial
    (declared,) = hp.space
    assert declared.sampling == "log"
    assert declared.max_value / declared.min_value == pytest.approx(10)
    centre = (declared.min_value * declared.max_value) ** 0.5
    assert centre == pytest.approx(default, rel=0.1)
    drawn = np.array([declared.random_sample(seed) for seed in range(200)])
    assert drawn.min() >= declared.min_value and drawn.max() <= declared.max_value
    # Log-uniform around the default: about as many draws below it as above.
    assert 0.4 < np.mean(drawn < default) < 0.6


def test_augmentation_is_searched_from_the_estimators_preset(small_digits):
    X, y = small_digits
    space = {**QUICK["search_space"], "conv_filters": (8,)}
    space["augmentation"] = [None, "light"]
    clf = TunedCNNClassifier(
        **{**QUICK, "search_space": space, "max_trials": 2}, augmentation="light"
    ).fit(X, y)
    assert clf.search_results_["param_augmentation"][0] == "light"  # the default
    assert set(clf.search_results_["param_augmentation"]) == {None, "light"}


#: DropoutCNN's defaults for the names of the default search space (its
#: weight_decay, None, is not a choice: the first choice, 0, is taken).
DEFAULTS = {
    "conv_filters": (32, 64),
    "convs_per_block": 2,
    "residual": False,
    "kernel_size": 3,
    "batch_norm": True,
    "dense_units": 128,
    "dropout": 0.5,
    "weight_decay": 0.0,
    "augmentation": None,
    "learning_rate": 1e-3,
}


def _trial(clf, i):
    """The values of the ``i``-th trial, from ``search_results_``."""
    results = clf.search_results_
    return {
        k[len("param_") :]: v[i] for k, v in results.items() if k.startswith("param_")
    }


def test_the_first_trial_is_dropoutcnns_defaults(small_digits):
    X, y = small_digits
    clf = TunedCNNClassifier(
        tuner="random",
        max_trials=2,
        max_epochs=1,
        train_finalists=False,
        random_state=0,
    )  # the trials only: the finalists took 3 of this test's 3.5 minutes on CI
    clf.fit(X, y)
    assert _trial(clf, 0) == DEFAULTS
    assert _trial(clf, 1) != DEFAULTS  # then the search's own samples


class _EpochLog(keras.callbacks.Callback):
    """Appends the number of epochs each training run ran to a file."""

    def __init__(self, path):
        super().__init__()
        self.path, self.epochs = path, 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1

    def on_train_end(self, logs=None):
        with open(self.path, "a") as f:
            f.write(f"{self.epochs}\n")


def test_hyperband_trains_the_defaults_for_its_whole_budget(small_digits, tmp_path):
    X, y = small_digits
    log = tmp_path / "epochs"
    # dropout: a range, so no sample of the first bracket equals the defaults.
    space = {"conv_filters": [(4,), (8,)], "dense_units": 16, "dropout": (0.1, 0.6)}
    clf = TunedCNNClassifier(
        tuner="hyperband",
        max_epochs=3,
        search_space=space,
        early_stopping=False,
        epochs=5,
        callbacks=[_EpochLog(str(log))],
        random_state=0,
    ).fit(X, y)
    # keras-tuner's own number of trials: 3 of 1 epoch, the best of them
    # continued to 3, then the last bracket's 2 trials of 3 epochs, the
    # first of which is the defaults (conv_filters: (32, 64) is not a
    # choice, so its first one; dropout: DropoutCNN's).
    assert clf.n_trials_ == 6 == clf._n_trials_planned()
    assert _trial(clf, 4) == {"conv_filters": (4,), "dropout": 0.5}
    assert DEFAULTS["dropout"] not in [_trial(clf, i)["dropout"] for i in range(4)]
    epochs = [int(n) for n in log.read_text().split()]
    # keras-tuner's plan (the best of the first three resumes from epoch 1),
    # the defaults' trial included: the whole budget, from scratch.
    assert epochs[:6] == [1, 1, 1, 2, 3, 3]
    # Then two finalists (the defaults and the best other), each for all
    # of epochs=5 without early stopping.
    assert len(epochs) == clf.n_trials_ + 2
    assert epochs[-2:] == [5, 5]


def test_under_a_budget_hyperbands_first_trial_is_the_defaults(small_digits, capsys):
    X, y = small_digits
    space = {"conv_filters": [(4,), (8,)], "dense_units": 16, "dropout": (0.1, 0.6)}
    clf = TunedCNNClassifier(
        tuner="hyperband",
        max_epochs=3,
        search_space=space,
        time_budget=0.5,  # room for the defaults alone
        epochs=3,
        verbose=1,
        random_state=0,
    ).fit(X, y)
    # Without a budget the defaults' trial is the first of Hyperband's last
    # bracket, which a short budget never reaches; under one it comes first.
    assert clf.n_trials_ == 1 and clf.defaults_only_
    assert _trial(clf, 0) == {"conv_filters": (4,), "dropout": 0.5}
    assert clf.best_params_ == {"conv_filters": (4,), "dropout": 0.5}
    err = capsys.readouterr().err
    assert "leaves room for the defaults alone" in err
    assert "Finalist 1/1 (trial " in err


def test_a_search_keeps_the_defaults_when_they_are_best(small_digits):
    X, y = small_digits
    space = {**QUICK["search_space"], "conv_filters": (4,)}
    space["learning_rate"] = [1e-7, 1e-5, 1e-3]
    clf = TunedCNNClassifier(**{**QUICK, "search_space": space, "max_trials": 2})
    clf.fit(X, y)
    assert _trial(clf, 0)["learning_rate"] == 1e-3
    assert clf.best_params_["learning_rate"] == 1e-3
    # best_score_ is the kept finalist's, at its restored epoch.
    restored = int(np.argmin(clf.history_["val_loss"]))
    assert clf.best_score_ == pytest.approx(clf.history_["val_accuracy"][restored])


class _AnySearch(TunedCNNClassifier):
    """A search share of one trial is a search (not the defaults alone)."""

    _policy = BudgetPolicy(min_search_trials=1)


@pytest.mark.slow
def test_time_budget_stops_the_search_early(digits, capsys):
    import time

    X, y = digits
    budget = 40.0
    space = {"conv_filters": [(4,), (8,)], "dropout": (0.0, 0.5)}
    clf = _AnySearch(
        tuner="random",
        isolate_search=False,  # the worker would import this module
        max_trials=50,
        max_epochs=3,
        epochs=10,  # the finalists the budget reserves time for
        search_space=space,
        time_budget=budget,
        verbose=1,
        random_state=0,
    )
    started = time.perf_counter()
    clf.fit(X[:600], y[:600])
    elapsed = time.perf_counter() - started
    durations = clf.search_results_["duration"]
    assert 1 < clf.n_trials_ < 50
    assert all(d > 0 for d in durations)
    assert elapsed <= budget + max(durations)
    assert f"trials stopped by time_budget={budget:g} s" in capsys.readouterr().err
    # The finalists' estimate each trial started under: none before the first
    # trial ended; then one, within the finalists' part of the budget.
    share = clf._policy.search_share
    estimates = clf.search_results_["refit_estimate"]
    assert estimates[0] == 0.0
    assert all(0.0 < e <= (1 - share) * budget for e in estimates[1:])


def test_a_trial_stops_where_the_searchs_share_of_the_budget_ends(small_digits):
    """A trial longer than the ones before it (on Fashion-MNIST, one with
    augmentation took 320 s after trials of 15 to 150 s) stops, its best
    epoch scored, when its next epoch would end past the search's share;
    without that, this one would train 2,000 epochs (over 5 minutes here).
    How long the trial took is not asserted: its first epoch always runs,
    graph tracing included, and on a loaded CI machine that alone took 18 s."""
    X, y = small_digits
    labels = np.array(["tee", "bag", "boot"])[y]
    budget, max_epochs = 8.0, 2000
    settings = {**QUICK, "max_epochs": max_epochs, "patience": max_epochs}
    clf = TunedCNNClassifier(
        **settings,
        train_finalists=False,
        isolate_search=False,
        time_budget=budget,
        verbose=0,
    )
    clf.fit(X, labels)
    assert clf.search_results_["status"] == ["COMPLETED"]
    assert 1 <= len(clf.history_["loss"]) < max_epochs
    assert set(clf.predict(X[:20])) <= set(labels)


def test_a_budget_with_room_for_the_defaults_alone_trains_them_alone(
    small_digits, capsys
):
    class Short(TunedCNNClassifier):
        # No search share holds a million trials: the defaults alone.
        _policy = BudgetPolicy(min_search_trials=10**6)

    X, y = small_digits
    clf = Short(
        **{**QUICK, "max_trials": 3, "epochs": 100},
        patience=2,
        time_budget=120,
        isolate_search=False,
    ).fit(X, y + 10)
    assert clf.defaults_only_ and clf.n_trials_ == 1
    # The defaults were the first trial and are the one finalist, trained
    # past the trials' max_epochs, as DropoutCNN trains (stopping on the loss).
    (finalist,) = clf.finalists_
    assert finalist["trial_id"] == clf.search_results_["trial_id"][0]
    assert finalist["params"] == {"conv_filters": (8,)}  # the first choice
    assert clf.n_epochs_ > QUICK["max_epochs"]
    assert "leaves room for the defaults alone" in capsys.readouterr().err


class _LongFinalists(TunedCNNClassifier):
    """Finalists assumed to need 10**5 epochs each: longer than any budget;
    a search share of one trial is a search (not the defaults alone)."""

    _policy = BudgetPolicy(finalist_epochs=10**5, min_search_trials=1)


def test_the_search_keeps_a_share_of_the_budget_whatever_the_finalists_estimate(
    small_digits,
):
    """Finalists estimated longer than the whole budget do not leave the
    search one trial: their estimate counts at most 1 - search_share of the
    budget."""
    X, y = small_digits
    space = {**QUICK["search_space"], "dropout": (0.0, 0.5)}
    settings = {**QUICK, "search_space": space, "max_trials": 3}
    # In this process: the worker would import the test module.
    settings.update(epochs=10**5, patience=1, isolate_search=False)
    # search_share (a quarter) of 240 s: 60 s for three trials of a few.
    clf = _LongFinalists(**settings, time_budget=240, verbose=0).fit(X, y)
    assert clf.n_trials_ == 3  # with the uncapped estimate: 1
    # Early stopping, not the budget, ended it: the last epoch was the one
    # without improvement that patience=1 allows.
    losses = clf.history_["val_loss"]
    assert int(np.argmin(losses)) == len(losses) - 2


@pytest.mark.slow  # timed trials; test_tuning_units.py checks the estimate
def test_the_finalists_estimate_uses_their_own_trials_epochs(small_digits, monkeypatch):
    """The time the finalists will take is estimated from each finalist's
    own trials, not from every trial's: a slow configuration that is not a
    finalist (n_finalists=1: the defaults only) does not inflate it, and one
    that is counts its own epochs (as on Fashion-MNIST, where the best
    challenger's epochs took 2.6x the defaults' and the median trial's
    less)."""
    import time

    from cnnfix.tuning import estimator

    estimates, epochs = [], {4: [], 8: []}

    class Recording(estimator.SearchProgress):
        def update(self, event):
            if "refit" in event:
                estimates.append(event["refit"])
            super().update(event)

    class Slow(keras.callbacks.Callback):
        """Filters 4 (not the defaults) take 0.2 s more a batch."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_train_batch_end(self, batch, logs=None):
            if self.model.get_layer("conv0").filters == 4:
                time.sleep(0.2)

        def on_epoch_end(self, epoch, logs=None):
            filters = self.model.get_layer("conv0").filters
            type(self).seen[filters].append(time.time() - self.started)

    Slow.seen = epochs  # on the class: keras-tuner trains deep copies
    monkeypatch.setattr(estimator, "SearchProgress", Recording)  # records events
    X, y = small_digits
    settings = {**QUICK, "max_trials": 2, "isolate_search": False}
    for n_finalists in (1, 2):
        estimates.clear()
        for seen in epochs.values():
            seen.clear()
        TunedCNNClassifier(
            **settings, n_finalists=n_finalists, callbacks=[Slow()], verbose=1
        ).fit(X, y)
        fast, slow = min(epochs[8]), min(epochs[4])
        assert slow > 2 * fast  # 9 batches of 0.2 s
        # After both trials: 40 epochs (QUICK's epochs=4 caps them) of each
        # finalist, as long as its own trials' epochs (plus tracing).
        per_epoch = estimates[-1] / QUICK["epochs"]
        if n_finalists == 1:
            assert per_epoch < slow  # the slow trial is not a finalist
        else:
            assert per_epoch > slow + fast * 0.5  # both counted


class _TwoIterations(TunedCNNClassifier):
    """A budget repeats Hyperband's brackets at most twice."""

    _policy = BudgetPolicy(budget_iterations=2)


@pytest.mark.slow  # two Hyperband iterations; test_tuning_units.py has the rule
def test_a_hyperband_search_with_a_time_budget_spends_its_share(small_digits, capsys):
    """With a budget, Hyperband repeats its brackets (here at most twice, so
    that the test does not depend on the machine's speed) instead of ending
    after one iteration with time unused."""
    from cnnfix.tuning.progress import hyperband_trials

    X, y = small_digits
    space = {**QUICK["search_space"], "dropout": (0.0, 0.5)}  # never runs out
    settings = dict(
        QUICK, tuner="hyperband", search_space=space, max_epochs=2, factor=2
    )
    settings.update(epochs=2, isolate_search=False)  # a class of this module
    one_iteration = hyperband_trials(2, 2)
    clf = _TwoIterations(**settings, time_budget=600, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert one_iteration < clf.n_trials_ <= 2 * one_iteration
    assert "stopped by time_budget" not in err  # the iterations ended it
    assert f"Search: trial {clf.n_trials_}, best" in err  # no planned count
    # Without a budget: one iteration, as keras-tuner plans it.
    plain = TunedCNNClassifier(**settings, verbose=0).fit(X, y)
    assert plain.n_trials_ == one_iteration


def test_a_budgeted_hyperband_search_ends_when_the_space_runs_out(small_digits):
    X, y = small_digits
    space = {**QUICK["search_space"], "conv_filters": [(4,), (8,)]}  # two of them
    settings = dict(QUICK, tuner="hyperband", search_space=space, max_epochs=2)
    clf = TunedCNNClassifier(**settings, time_budget=600, verbose=0).fit(X, y)
    assert clf.n_trials_ <= 4  # no endless repeats of the same two
    seen = {_trial(clf, i)["conv_filters"] for i in range(clf.n_trials_)}
    assert sorted(seen) == [(4,), (8,)]


def test_finalists_share_the_time_left(small_digits, monkeypatch):
    """The deadlines the trials and the finalists train to, as the fit
    wires them (test_tuning_units.py checks the rules themselves)."""
    import time

    from cnnfix import _training
    from cnnfix.tuning import adapter

    shares, callback = [], _training.deadline_callback

    def recording(deadline, **options):
        shares.append((time.time(), deadline))
        return callback(deadline, **options)

    # Recorded where the trials (the adapter) and the finalists (the
    # training loop) make their deadline callbacks.
    monkeypatch.setattr(adapter, "deadline_callback", recording)
    monkeypatch.setattr(_training, "deadline_callback", recording)
    X, y = small_digits
    budget = 1000
    started = time.time()
    # Two configurations: two finalists; in this process, where it is patched.
    settings = {**QUICK, "max_trials": 2, "isolate_search": False}
    TunedCNNClassifier(**settings, time_budget=budget, verbose=0).fit(X, y)
    deadline = started + budget
    # Each trial's model stops at the search's share: the deadline less the
    # finalists' estimate, none before the first trial has ended. Then the
    # two finalists get theirs.
    assert len(shares) == 2 + 2
    assert shares[0][1] == pytest.approx(deadline, abs=5)
    assert shares[1][1] < shares[0][1]
    (first_start, first), (second_start, second) = shares[2:]
    # Half the time left to the first finalist, all of the rest to the last
    # (a few seconds of preparation before the search starts its clock).
    assert first - first_start == pytest.approx((deadline - first_start) / 2, abs=5)
    assert second == pytest.approx(deadline, abs=5)
    assert second_start >= first_start


def test_dict_space_choices_and_ranges(small_digits):
    X, y = small_digits
    space = {
        "conv_filters": [(4,), (4, 8)],
        "dropout": (0.1, 0.3),
        "learning_rate": (1e-3, 1e-2),
        "dense_units": 16,
    }
    clf = TunedCNNClassifier(**{**QUICK, "search_space": space, "max_trials": 3}).fit(
        X, y
    )
    results = clf.search_results_
    assert set(results["param_conv_filters"]) <= {(4,), (4, 8)}
    assert all(0.1 <= d <= 0.3 for d in results["param_dropout"])
    assert all(1e-3 <= lr <= 1e-2 for lr in results["param_learning_rate"])
    assert "param_dense_units" not in results  # fixed values are not searched


def test_unknown_names_list_the_valid_ones(small_digits):
    X, y = small_digits
    with pytest.raises(
        ValueError, match=r"names \['filter'\].*Valid names: \[.*'conv_filters'"
    ):
        TunedCNNClassifier(**{**QUICK, "search_space": {"filter": [8]}}).fit(X, y)
    # The names of the builder: depth and width are conv_filters.
    space = {"n_blocks": [1, 2], "filters": [8, 16]}
    with pytest.raises(ValueError, match=r"one name, as in build_cnn: conv_filters"):
        TunedCNNClassifier(**{**QUICK, "search_space": space}).fit(X, y)
    for conv_filters in [(8, 0), [(8,), 16], [()]]:
        space = {"conv_filters": conv_filters}
        with pytest.raises(ValueError, match=r"a tuple of positive\s+ints"):
            TunedCNNClassifier(**{**QUICK, "search_space": space}).fit(X, y)
    with pytest.raises(ValueError, match=r"\(low, high\) range"):
        TunedCNNClassifier(**{**QUICK, "search_space": {"dropout": (0.5, 0.1)}}).fit(
            X, y
        )


def _dense_build(log=None):
    """A search space of its own: a dense network with 8 or 16 units. With
    ``log``, each build appends the id of the process building it."""

    def build(hp):
        if log is not None:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(
                    hp.Choice("units", [8, 16], default=16), activation="relu"
                ),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


def test_callable_space(small_digits):
    X, y = small_digits
    clf = TunedCNNClassifier(**{**QUICK, "search_space": _dense_build()}).fit(X, y)
    assert set(clf.best_params_) == {"units"}
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_a_hypermodel_keeps_its_own_fit_and_the_precision(small_digits, tmp_path):
    import keras_tuner as kt

    X, y = small_digits
    log = tmp_path / "fits"

    class Dense(kt.HyperModel):
        def build(self, hp):
            return _dense_build()(hp)

        def fit(self, hp, model, *args, **kwargs):
            with open(log, "a") as f:
                f.write("fit\n")
            return model.fit(*args, **kwargs)

    settings = {**QUICK, "search_space": Dense(), "max_trials": 2}
    clf = TunedCNNClassifier(**settings, precision="mixed").fit(X, y)
    assert log.read_text().split() == ["fit"] * clf.n_trials_  # each trial
    # The whole network follows the policy, its output layer included.
    assert clf.model_.layers[-2].compute_dtype == "float16"
    assert clf.model_.layers[-1].compute_dtype == "float16"


@pytest.mark.parametrize("tuner", ["hyperband", "random", "bayesian"])
def test_each_tuner(small_digits, tuner):
    X, y = small_digits
    clf = TunedCNNClassifier(**{**QUICK, "tuner": tuner, "max_trials": 2, "factor": 2})
    clf.fit(X, y)
    assert clf.n_trials_ >= 2
    assert clf.score(X, y) > 0.5


def test_nothing_is_left_on_disk(small_digits, tmp_path, monkeypatch):
    X, y = small_digits
    workdir, tmp = tmp_path / "work", tmp_path / "tmp"
    workdir.mkdir(), tmp.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    TunedCNNClassifier(**QUICK).fit(X, y)
    assert list(workdir.iterdir()) == []
    assert list(tmp.iterdir()) == []


@pytest.mark.slow
def test_directory_resume_and_overwrite(small_digits, tmp_path, capsys):
    X, y = small_digits
    space = {**QUICK["search_space"], "dropout": (0.1, 0.4)}  # room for 3 trials
    settings = {**QUICK, "search_space": space, "directory": tmp_path, "max_trials": 2}
    first = TunedCNNClassifier(**settings).fit(X, y)
    assert (tmp_path / "search").is_dir()
    resumed = TunedCNNClassifier(
        **{**settings, "max_trials": 3}, overwrite=False, verbose=1
    )
    resumed.fit(X, y)
    assert "Resuming the keras-tuner search" in capsys.readouterr().out
    assert resumed.n_trials_ == 3
    assert resumed.search_results_["trial_id"][:2] == first.search_results_["trial_id"]
    for column in "duration", "refit_estimate":  # kept in the oracle's state
        assert resumed.search_results_[column][:2] == first.search_results_[column]
    assert first.search_results_["refit_estimate"][1] > 0.0
    fresh = TunedCNNClassifier(**settings, overwrite=True).fit(X, y)
    assert fresh.n_trials_ == 2
    assert len(list(tmp_path.glob("search/trial_*/trial.json"))) == 2
    assert list(tmp_path.glob("search/trial_*/checkpoint*")) == []


def test_checkpoints_are_kept_only_when_asked(small_digits, tmp_path):
    X, y = small_digits
    TunedCNNClassifier(**QUICK, directory=tmp_path, keep_checkpoints=True).fit(X, y)
    assert len(list(tmp_path.glob("search/trial_*/checkpoint.weights.h5"))) == 1


def test_verbose_0_prints_nothing(small_digits, capsys):
    X, y = small_digits
    TunedCNNClassifier(**QUICK, verbose=0).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and "Search" not in err


@pytest.mark.parametrize("isolate", ["auto", False])
def test_verbose_1_shows_the_search_progress_on_stderr(small_digits, capsys, isolate):
    X, y = small_digits
    settings = {**QUICK, "max_trials": 2, "isolate_search": isolate}
    TunedCNNClassifier(**settings, verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    assert "Search: trial 2/2, best val_accuracy 0." in err
    assert "elapsed, ~0:" in err and "left" in err
    assert "Finalist 1/2 (trial 0): val_accuracy 0." in err
    assert "Search: 2 trials and 2 finalists in " in err
    assert "Trial 1 Complete" not in out + err  # keras-tuner's report is verbose=2


def test_verbose_1_is_the_default_and_shows_progress(small_digits, capsys):
    X, y = small_digits
    clf = TunedCNNClassifier(**QUICK)
    assert clf.verbose == 1  # the default: a search prints its first line at once
    clf.fit(X, y)
    assert "Search: trial 1/1, best val_accuracy" in capsys.readouterr().err


def test_verbose_0_is_quiet_inside_cross_validation(small_digits, capsys):
    from sklearn.model_selection import cross_val_score

    X, y = small_digits
    y = np.array(["zero", "one", "two"])[y]
    clf = TunedCNNClassifier(**QUICK, verbose=0)  # as the docstring advises
    scores = cross_val_score(clf, X, y, cv=2)
    assert len(scores) == 2
    out, err = capsys.readouterr()
    assert "Search" not in err and "Epoch" not in out


@pytest.mark.parametrize("verbose", ["loud", "auto"])
def test_verbose_rejects_strings(small_digits, verbose):
    X, y = small_digits
    with pytest.raises(ValueError, match=rf"'verbose' parameter.*Got '{verbose}'"):
        TunedCNNClassifier(**QUICK, verbose=verbose).fit(X, y)


def test_verbose_2_shows_keras_tuners_report_from_the_worker(small_digits, capsys):
    X, y = small_digits
    TunedCNNClassifier(**QUICK, verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "Trial 1 Complete" in out and "Best val_accuracy So Far" in out


@pytest.mark.parametrize("isolate", ["auto", False])
def test_search_and_finalists_run_in_a_worker(small_digits, tmp_path, isolate):
    X, y = small_digits
    log = tmp_path / "pids"
    clf = TunedCNNClassifier(
        **{**QUICK, "search_space": _dense_build(log)}, isolate_search=isolate
    ).fit(X, y)
    pids = {int(pid) for pid in log.read_text().split()}
    assert len(pids) == 1  # the trials and the finalist: one process
    assert (pids.pop() != os.getpid()) == (isolate == "auto")
    assert clf.score(X, y) > 0.5  # the finalist's model came back


def test_the_search_worker_starts_with_its_imports_frozen():
    """The fork server freezes what importing TensorFlow, Keras and
    keras-tuner made (hundreds of thousands of objects), so the garbage
    collections keras-tuner runs for each trial do not rescan them."""
    from cnnfix.tuning.worker import run_in_worker

    def frozen_objects(emit):
        # Nested: sent by value, so the worker does not import this module
        # (whose conftest freezes its own process).
        import gc

        return gc.get_freeze_count()

    assert run_in_worker(frozen_objects) > 100_000


@pytest.mark.parametrize("isolate", ["auto", False])
def test_mixed_precision_reaches_the_search_and_the_finalists(small_digits, isolate):
    X, y = small_digits
    labels = np.array(["zero", "one", "two"])[y]
    before = keras.config.dtype_policy().name
    clf = TunedCNNClassifier(
        **{**QUICK, "max_trials": 2}, precision="mixed", isolate_search=isolate
    ).fit(X * 16, labels)
    assert keras.config.dtype_policy().name == before  # not leaked
    # The kept model was built in the worker (isolate="auto") under the policy.
    assert clf.model_.get_layer("conv0").compute_dtype == "float16"
    assert clf.model_.get_layer("probabilities").compute_dtype == "float32"
    assert clf.score(X * 16, labels) > 0.5  # it learned (chance: 0.33)


def test_a_dying_worker_gives_a_clear_error(small_digits, tmp_path, monkeypatch):
    X, y = small_digits
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    class Die(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            os._exit(3)  # as when the kernel kills a process out of memory

    clf = TunedCNNClassifier(**QUICK, callbacks=[Die()])
    with pytest.raises(WorkerError, match=r"without a result \(exit code 3\)") as error:
        clf.fit(X, y)
    assert error.value.exitcode == 3
    # Only multiprocessing's own directory, when its fork server started here.
    assert [p for p in tmp_path.iterdir() if not p.name.startswith("pymp-")] == []
    assert not hasattr(clf, "model_")


def test_an_unpicklable_callback_gets_a_clear_error(small_digits):
    import threading

    X, y = small_digits

    class Locked(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    with pytest.raises(TypeError, match=r"cannot be pickled.*isolate_search=False"):
        TunedCNNClassifier(**QUICK, callbacks=[Locked()]).fit(X, y)


def test_isolation_and_a_distribution_strategy_conflict(small_digits):
    import tensorflow as tf

    X, y = small_digits
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    clf = TunedCNNClassifier(
        **QUICK, distribution_strategy=strategy, isolate_search=True
    )
    with pytest.raises(ValueError, match="isolate_search='auto' or False"):
        clf.fit(X, y)


@pytest.mark.slow
def test_a_script_without_a_main_guard_runs_once(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(
        "from cnnfix import TunedCNNClassifier\n"
        "from cnnfix.datasets import load_digit_images\n"
        "X, y = load_digit_images()\n"
        f"clf = TunedCNNClassifier(**{QUICK!r}).fit(X[:300], y[:300])\n"
        "print('trials', clf.n_trials_)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trials 1") == 1  # the worker did not rerun it


def test_distribution_strategy_is_passed_to_keras_tuner(small_digits):
    import tensorflow as tf

    X, y = small_digits
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    # 8 filters: the first trial is the defaults, which would take 4 here.
    space = {**QUICK["search_space"], "conv_filters": [(8,), (16,)]}
    clf = TunedCNNClassifier(
        **{**QUICK, "search_space": space}, distribution_strategy=strategy
    ).fit(X, y)
    assert clf.n_trials_ == 1 and clf.score(X, y) > 0.5


@pytest.mark.slow
def test_nested_cross_validation_in_two_processes(small_digits, tmp_path, monkeypatch):
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X, y = small_digits
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # inherited by the workers
    tuned = TunedCNNClassifier(**{**QUICK, "max_epochs": 6})
    inner = GridSearchCV(tuned, {"batch_size": [16, 32]}, cv=2)
    scores = cross_val_score(inner, X, y, cv=2, n_jobs=2)
    assert len(scores) == 2 and np.all(scores > 0.5)
    assert list(tmp_path.glob("cnnfix-tuner-*")) == []  # every search cleaned up


DISTRIBUTED_SCRIPT = """
import sys
from cnnfix import TunedCNNClassifier
from cnnfix.datasets import load_digit_images

X, y = load_digit_images()
keep = y < 3
clf = TunedCNNClassifier(
    tuner="random", max_trials=4, max_epochs=2, directory=sys.argv[1],
    overwrite=False, search_space={"conv_filters": [(4,), (8,)], "dropout": (0.0, 0.5)},
    random_state=0,
).fit(X[keep][:300], y[keep][:300])
if hasattr(clf, "model_"):
    print("chief", clf.n_trials_, clf.score(X[keep], y[keep]))
else:
    print("worker done")
"""


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_two_workers(tmp_path):
    import socket

    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "search.py"
    script.write_text(DISTRIBUTED_SCRIPT)
    env = {
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(port),
    }
    processes = {
        role: subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "search")],
            env={**env, "KERASTUNER_TUNER_ID": role},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("chief", "tuner0", "tuner1")
    }
    outputs = {role: p.communicate(timeout=480) for role, p in processes.items()}
    for role, p in processes.items():
        assert p.returncode == 0, (role, outputs[role][1][-3000:])
    chief, n_trials, accuracy = outputs["chief"][0].split()[-3:]
    assert chief == "chief" and int(n_trials) == 4 and float(accuracy) > 0.5
    for worker in ("tuner0", "tuner1"):
        assert "worker done" in outputs[worker][0]
    project = tmp_path / "search" / "search"
    assert len(list(project.glob("trial_*/trial.json"))) == 4
    # Each worker saves its own tuner state once it has run trials.
    assert (project / "tuner0.json").exists() and (project / "tuner1.json").exists()


def _rss_mb():
    with open("/proc/self/status") as f:
        return int(next(ln for ln in f if ln.startswith("VmRSS")).split()[1]) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_repeated_fits_do_not_grow_memory(small_digits):
    """Searches run in worker processes that exit: over 3 fits this process
    keeps only the refit models (in one process keras-tuner grows ~60 MB per
    search of this size; see docs/benchmarks.md)."""
    X, y = small_digits
    settings = {**QUICK, "max_trials": 4, "search_space": DEFAULT_SEARCH_SPACE}
    TunedCNNClassifier(**settings).fit(X, y)  # starts the worker server once
    gc.collect()
    before = _rss_mb()
    for _ in range(3):
        TunedCNNClassifier(**settings).fit(X, y)
    gc.collect()
    assert _rss_mb() - before < 30


def test_finalists_with_a_streaming_balancer_train_on_the_training_part(
    small_digits,
):
    from .test_balance_estimators import RecordingBalancer

    X, y = small_digits
    y = np.array(["zero", "one", "two"])[y]
    clf = TunedCNNClassifier(
        **QUICK, balancer=RecordingBalancer(stream=True), isolate_search=False
    ).fit(X, y)
    # The finalist's balancer drew its epochs from the training part (the
    # stratified 90%), like the trials'.
    sizes = {n for n, _ in clf.balancer_.epochs_drawn}
    n_validation = sum(round(0.1 * c) for c in np.unique(y, return_counts=True)[1])
    assert sizes == {len(y) - n_validation}


def test_epochs_caps_the_finalists(small_digits):
    X, y = small_digits
    clf = TunedCNNClassifier(**{**QUICK, "max_epochs": 4, "epochs": 1}).fit(X, y)
    assert max(clf.search_results_["best_epoch"]) > 1  # the cap is what binds
    assert clf.n_epochs_ == 1


class _BestLog(keras.callbacks.Callback):
    """Appends each training run's best ``val_accuracy`` to a file."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_begin(self, logs=None):
        self.scores = []

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(logs["val_accuracy"])

    def on_train_end(self, logs=None):
        with open(self.path, "a") as f:
            f.write(f"{max(self.scores)!r}\n")


def test_cv_scores_each_trial_as_the_mean_of_its_folds(small_digits, tmp_path):
    X, y = small_digits
    y = y * 3 + 5  # labels that are not 0..k-1
    log = tmp_path / "best"
    clf = TunedCNNClassifier(
        **{**QUICK, "max_trials": 2}, cv=2, callbacks=[_BestLog(str(log))]
    ).fit(X, y)
    results = clf.search_results_
    assert clf.n_trials_ == 2
    # What the fold models reported, in order: trial 1's two folds, trial
    # 2's, then the two finalists.
    reported = [float(v) for v in log.read_text().split()]
    assert len(reported) == 2 * 2 + 2
    for trial in range(2):
        folds = [results[f"split{i}_score"][trial] for i in range(2)]
        assert folds == pytest.approx(reported[2 * trial : 2 * trial + 2])
        assert results["score"][trial] == pytest.approx(np.mean(folds))
    assert "split2_score" not in results
    # The finalists are compared on the validation split, as without cv.
    restored = int(np.argmin(clf.history_["val_loss"]))
    assert clf.best_score_ == pytest.approx(clf.history_["val_accuracy"][restored])
    assert set(clf.predict(X)) <= set(y)


def test_cv_takes_a_splitter_object(small_digits):
    from sklearn.model_selection import RepeatedStratifiedKFold

    X, y = small_digits
    splitter = RepeatedStratifiedKFold(n_splits=2, n_repeats=2, random_state=0)
    before = repr(splitter)
    clf = TunedCNNClassifier(**QUICK, cv=splitter).fit(X, y)
    assert repr(splitter) == before  # not modified
    results = clf.search_results_
    folds = [results[f"split{i}_score"][0] for i in range(4)]
    assert results["score"][0] == pytest.approx(np.mean(folds))
    assert clf.cv is splitter and clf.get_params()["cv"] is splitter


@pytest.mark.slow  # 12 training runs: ~15 s on two shared cores
def test_cv_with_hyperband_trains_each_fold_from_scratch(small_digits, tmp_path):
    X, y = small_digits
    log = tmp_path / "epochs"
    space = {"conv_filters": [(4,), (8,)], "dense_units": 16, "dropout": (0.1, 0.6)}
    TunedCNNClassifier(
        tuner="hyperband",
        max_epochs=3,
        search_space=space,
        cv=2,
        early_stopping=False,
        train_finalists=False,
        callbacks=[_EpochLog(str(log))],
        random_state=0,
    ).fit(X[:150], y[:150])
    epochs = [int(n) for n in log.read_text().split()]
    # Two folds per trial; the continued trial of the first bracket trains
    # its folds for all 3 epochs (without cv it resumes from epoch 1).
    assert epochs == [1] * 6 + [3] * 2 + [3] * 4


@pytest.fixture(scope="module")
def digit_files(small_digits, tmp_path_factory):
    """The first 90 small digits as 8x8 PNG files, with string labels."""
    from PIL import Image

    X, y = small_digits
    root = tmp_path_factory.mktemp("digit_files")
    paths = []
    for i in range(90):
        path = root / f"{i}.png"
        Image.fromarray((X[i, :, :, 0] * 15).astype(np.uint8)).save(path)
        paths.append(str(path))
    return np.array(paths), np.array(["zero", "one", "two"])[y[:90]]


def test_cv_with_file_paths_as_x(digit_files):
    paths, y = digit_files
    clf = TunedCNNClassifier(**QUICK, cv=2).fit(paths, y)
    results = clf.search_results_
    folds = [results[f"split{i}_score"][0] for i in range(2)]
    assert results["score"][0] == pytest.approx(np.mean(folds))
    assert set(clf.predict(paths[:10])) <= set(y)


@pytest.mark.parametrize("cv", [1, "five", [(np.arange(10), np.arange(10, 20))]])
def test_a_bad_cv_gets_a_clear_error(small_digits, cv):
    X, y = small_digits
    message = (
        r"The 'cv' parameter of TunedCNNClassifier must be None, an int in the "
        r"range \[2, inf\) or an object implementing 'split' and 'get_n_splits'"
    )
    with pytest.raises(ValueError, match=message):
        TunedCNNClassifier(**QUICK, cv=cv).fit(X, y)


def test_cv_survives_clone_and_get_params():
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(3, shuffle=True, random_state=1)
    clf = TunedCNNClassifier(cv=splitter)
    copied = clone(clf)
    # A splitter is not an estimator: clone deep-copies it.
    assert copied.get_params()["cv"] is not splitter
    assert repr(copied.get_params()["cv"]) == repr(splitter)
    assert clone(TunedCNNClassifier(cv=5)).cv == 5
    assert TunedCNNClassifier().cv is None  # today's validation split
    assert clone(clf.set_params(cv=None)).cv is None


@pytest.mark.parametrize("n_validation, scheduled", [(400, False), (1000, True)])
def test_auto_schedule_acts_on_finalists_only_with_a_resolving_validation_part(
    n_validation, scheduled
):
    # Noise images with random string labels: the loss stalls at once, so
    # a schedule acts within the first epochs when there is one.
    rng = np.random.default_rng(0)
    n = 2 * n_validation
    X = rng.integers(0, 256, size=(n, 5, 4, 1), dtype=np.uint8)
    y = rng.choice(np.array(["ant", "bee"]), size=n)
    clf = TunedCNNClassifier(
        **{**QUICK, "epochs": 6, "n_finalists": 1},
        learning_rate=1e-2,  # the loss reaches its floor, and stalls, at once
        validation_split=0.5,
        patience=3,
        verbose=0,
    ).fit(X, y)
    assert ("learning_rate" in clf.history_) is scheduled
    if scheduled:  # divided by 5 at each stall, from the estimator's rate
        rates = np.asarray(clf.history_["learning_rate"])
        steps = rates[1:] / rates[:-1]
        assert rates[0] == pytest.approx(1e-2)
        assert np.any(np.isclose(steps, 0.2)), rates
        assert np.all(np.isclose(steps, 0.2) | np.isclose(steps, 1.0)), rates


class _SmallResolved(TunedCNNClassifier):
    """The validation part's floor for the schedule and the ensemble
    lowered to 100 images."""

    _policy = BudgetPolicy(min_resolved=100)


@pytest.fixture(scope="module")
def averaged(digits):
    """Two weak, different finalists on all ten digit classes (labels
    1, 4, ..., 28), with the validation part's floor for an ensemble
    lowered below its 270 images (in this process: isolate_search=False,
    the worker would import this module)."""
    import contextlib
    import io

    X, y = digits[0][:900], digits[1][:900] * 3 + 1
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        fitted = {
            ensemble: _SmallResolved(
                **{**QUICK, "max_trials": 2, "epochs": 3},
                validation_split=0.3,
                ensemble=ensemble,
                isolate_search=False,
                verbose=int(ensemble),  # the progress of the averaging fit
            ).fit(X, y)
            for ensemble in (True, False)
        }
    return X, y, fitted, err.getvalue()


def test_the_finalists_are_averaged_when_the_average_scores_better(averaged):
    X, y, fitted, err = averaged
    clf = fitted[True]
    weights = [f["weight"] for f in clf.finalists_]
    assert len(weights) == 2 and all(0 < w < 1 for w in weights), weights
    assert sum(weights) == pytest.approx(1.0)
    # Copies' shares at the best of 10 rounds: k/m for some m <= 10.
    assert any(
        all(round(m * w, 6).is_integer() for w in weights) for m in range(2, 11)
    ), weights
    # Kept only because it scores strictly better than either finalist.
    assert clf.best_score_ > max(f["score"] for f in clf.finalists_)
    heaviest = max(clf.finalists_, key=lambda f: f["weight"])
    assert clf.best_params_ == heaviest["params"]
    assert clf.n_epochs_ == heaviest["epochs"]
    # model_ is the weighted average of its members, heaviest first.
    from cnnfix.architectures import ensemble_members

    members = ensemble_members(clf.model_)
    assert [m.name for m in members] == ["member0", "member1"]
    images = X[:50]
    expected = sum(
        w * m.predict_on_batch(images)
        for w, m in zip(sorted(weights, reverse=True), members, strict=True)
    )
    np.testing.assert_allclose(clf.predict_proba(images), expected, atol=1e-5)
    assert set(clf.predict(X)) <= set(y)
    assert clf.score(X, y) > 0.25  # ten classes: chance is 0.1
    # The progress's closing line gives the average's score and says so.
    assert (
        f"best val_accuracy {clf.best_score_:.4f} (their average over 2 finalists)"
        in err
    )


def test_ensemble_false_keeps_the_best_finalist_alone(averaged):
    _, _, fitted, _ = averaged
    clf, averaging = fitted[False], fitted[True]
    kept = max(clf.finalists_, key=lambda f: f["score"])  # first on a tie
    assert [f["weight"] for f in clf.finalists_] == [
        float(f is kept) for f in clf.finalists_
    ]
    assert clf.best_score_ == kept["score"]
    (filters,) = kept["params"]["conv_filters"]
    assert clf.model_.get_layer("conv0").filters == filters
    # The same search and finalists: only the last step differs.
    strip = [
        {k: v for k, v in f.items() if k not in ("weight", "duration")}
        for f in clf.finalists_
    ]
    assert strip == [
        {k: v for k, v in f.items() if k not in ("weight", "duration")}
        for f in averaging.finalists_
    ]


def test_an_averaged_model_saves_loads_and_is_explained(averaged, tmp_path):
    from cnnfix import load
    from cnnfix.diagnostics import gradcam
    from cnnfix.plotting import plot_feature_maps

    X, _, fitted, _ = averaged
    clf = TunedCNNClassifier(**fitted[True].get_params())  # the public class
    clf.__dict__.update(fitted[True].__dict__)  # with the fit's state
    path = tmp_path / "tuned.keras"
    clf.save(path)
    loaded = load(path)
    np.testing.assert_allclose(loaded.predict_proba(X[:40]), clf.predict_proba(X[:40]))
    assert loaded.finalists_ == clf.finalists_
    # Feature maps and Grad-CAM explain the heaviest member's CNN.
    maps = gradcam(clf, X[:3])
    assert maps.shape == (3, 8, 8) and maps.min() >= 0 and maps.max() <= 1
    import matplotlib

    matplotlib.use("Agg")
    figure = plot_feature_maps(clf, X[0], max_channels=2)
    # One row (an image and 2 channels) per convolution of member0.
    convolutions = [ax for ax in figure.axes if ax.get_ylabel().startswith("conv")]
    assert len(convolutions) % len(clf.best_params_["conv_filters"]) == 0
    assert convolutions and len(figure.axes) == 3 * len(convolutions)
    matplotlib.pyplot.close(figure)
