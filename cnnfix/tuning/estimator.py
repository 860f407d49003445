"""TunedCNNClassifier: a CNN whose architecture and training are searched
with keras-tuner inside ``fit``.

The estimator holds the parameters and runs the fit: the search (through
:mod:`cnnfix.tuning.adapter`, in a worker process,
:mod:`cnnfix.tuning.worker`), then the finalists
(:mod:`cnnfix.tuning.finalists`), by the rules of
:class:`~cnnfix.tuning.policy.BudgetPolicy`.
"""

import shutil
import tempfile
import time
from contextlib import nullcontext
from numbers import Integral, Real
from pathlib import Path

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._archive import model_from_bytes
from .._distribute import is_strategy
from .._docs import fill_doc
from ..base import BaseCNNClassifier
from .policy import BudgetPolicy
from .progress import SearchProgress, hyperband_trials
from .records import search_results
from .search import no_optimizer_state_warning, search
from .space import DEFAULT_SEARCH_SPACE, check_search_space
from .worker import run_in_worker


@fill_doc(
    epochs="""\
    Most epochs a finalist trains, with early stopping (``patience``) on
    the validation part. A trial trains up to ``max_epochs``.""",
    validation_split="""\
    Fraction of the training data held out by a stratified shuffle to score
    the trials and the finalists (and for their early stopping), as
    DropoutCNN does. 0 scores them on the training data.""",
    lr_schedule=(
        'None, "plateau" or "auto"',
        """\
    "plateau" divides the learning rate by 5 when the validation loss
    stalls for ``max(1, patience // 3)`` epochs, in the trials and the
    finalists. "auto" gives it to the finalists only, where the
    validation part holds at least 1,000 images, and then also cools
    each finalist down before its share of a ``time_budget``; on fewer
    they train as DropoutCNN. None keeps the rate.""",
    ),
    verbose=(
        "int",
        """\
    0 prints nothing (pass it inside ``GridSearchCV`` or
    ``cross_val_score``, where every fold would print); 1 shows one line
    per trial on stderr (trials done, best score, time elapsed and left),
    then one per finalist; 2 adds keras-tuner's report of every trial and
    a line per epoch. Levels above 2 act as 2.""",
    ),
)
class TunedCNNClassifier(BaseCNNClassifier):
    """A CNN classifier whose architecture and training are searched in ``fit``.

    ``fit`` runs in two stages. The search: keras-tuner (Hyperband by
    default) samples the arguments of :func:`cnnfix.build_cnn` (the builder
    behind DropoutCNN) and scores each trial on the stratified validation
    split after at most ``max_epochs`` epochs: cheap rounds that rank
    configurations by how fast they learn. The finalists: DropoutCNN's
    defaults and the best ``n_finalists - 1`` other configurations are each
    trained to convergence on the same split from the same seed (early
    stopping, best weights restored, up to ``epochs``), and the best on the
    objective is kept (the defaults on a tie), or, with ``ensemble``, a
    weighted average of them. So the search replaces DropoutCNN's model
    only with one that scores better on the same validation data. The
    search runs in a worker process, in a temporary directory removed when
    ``fit`` ends. The :doc:`tuning guide </guide/tuning>` explains each
    rule and its measurements.

    Parameters
    ----------
    tuner : {"hyperband", "random", "bayesian"}, default="hyperband"
        keras-tuner's search algorithm.
    search_space : dict, callable, keras_tuner.HyperModel or None, default=None
        None searches :data:`DEFAULT_SEARCH_SPACE` (its ``augmentation``
        only without a ``time_budget`` or with one of at least 30 minutes:
        ``BudgetPolicy.augmentation_budget``). A dict maps arguments of
        :func:`cnnfix.build_cnn` (and ``learning_rate``, ``optimizer``) to a
        list of choices, a ``(low, high)`` range or a fixed value;
        ``conv_filters`` takes tuples (``[(16,), (32, 64)]``). Unnamed
        arguments keep DropoutCNN's defaults. A dict naming ``backbone``
        searches TransferCNN's network (see the guide). A callable
        ``build(hp) -> keras.Model`` or a ``HyperModel`` takes full control.
    time_budget : float or None, default=None
        Seconds the whole ``fit`` may take, search and finalists included:
        no trial starts that would leave the finalists less than their
        estimate (the search keeps at least a quarter), each finalist gets
        an equal share of the time left, and the fit overruns by at most
        about one epoch. With Hyperband the brackets repeat until then. The
        defaults are the first trial; when the budget leaves room for them
        alone (the search's quarter holds fewer than five trials as long as
        theirs, or one more trial and a second finalist would not fit:
        ``BudgetPolicy.defaults_only``), the search stops there and the
        defaults train to convergence (stopping on the loss, at a constant
        rate) with all the time left, also with ``train_finalists=False``
        (``defaults_only_``; ``verbose=1`` says so).
    max_epochs : int, default=3
        Most epochs one trial trains.
    factor : int, default=3
        Hyperband's reduction factor between rounds.
    max_trials : int, default=10
        Number of trials for "random" and "bayesian".
    n_finalists : int, default=2
        Configurations trained to convergence after the search, the
        defaults first. Each costs about one DropoutCNN fit.
    ensemble : bool, default=True
        Keep a weighted average of the finalists (greedy ensemble selection
        on the validation part) when it scores strictly better there than
        the best finalist alone; only with a validation part of at least
        1,000 images. ``model_`` then holds the members.
    executions_per_trial : int, default=1
        Models trained per trial, averaged to reduce noise.
    max_search_samples : int or None, default=10000
        Most training images a trial trains on: a stratified sample, the
        same for every trial; the finalists train on all. None: all.
    cv : int, cross-validation splitter or None, default=None
        Score each trial by (stratified k-fold) cross-validation over the
        training part instead of on the validation split: one model per
        fold, about ``n_folds`` times the search's cost.
    objective : str, default="val_accuracy"
        Metric the search maximises (names ending in "loss" are minimised).
    directory : str, Path or None, default=None
        Where the search is kept; None: a temporary directory.
    overwrite : bool, default=True
        With ``directory``, False resumes the search found there.
    train_finalists : bool, default=True
        Train the finalists (see above). False keeps the best trial's own
        model, trained for at most ``max_epochs``.
    distribution_strategy : tf.distribute.Strategy or None, default=None
        Passed to keras-tuner for multi-device training of each trial.
    keep_checkpoints : bool, default=False
        Keep each trial's best weights in ``directory`` after the search.
    isolate_search : "auto" or bool, default="auto"
        Run the search in a fresh worker process, whose memory goes back
        when it ends. "auto": unless a ``distribution_strategy`` is given.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    best_params_ : dict
        Values of the kept finalist (without finalists, the best trial; of
        an average, its heaviest member), as plain Python values.
    best_score_ : float
        The objective of ``model_`` on the validation part.
    search_results_ : dict of str to list
        One entry per trial, like ``cv_results_``: "trial_id", "status",
        "score", "best_epoch", "duration", "refit_estimate" (the finalists'
        estimate the trial started under, seconds), "split<i>_score" with
        ``cv``, and "param_<name>" per searched argument.
    n_trials_ : int
        Number of trials run.
    defaults_only_ : bool
        Whether the ``time_budget`` left room for the defaults alone, which
        then trained to convergence (see ``time_budget``).
    finalists_ : list of dict
        One record per finalist trained, the defaults first: "trial_id",
        "params", "score", "best_epoch", "epochs", "duration" and "weight"
        (its share of ``model_``).

    See Also
    --------
    DropoutCNN : The same CNN with fixed settings.

    Examples
    --------
    >>> from cnnfix import TunedCNNClassifier
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> space = {"conv_filters": [(8,), (16,)]}
    >>> clf = TunedCNNClassifier(tuner="random", max_trials=2, max_epochs=2,
    ...                          search_space=space, epochs=5,
    ...                          verbose=0, random_state=0)
    >>> clf.fit(X[:300], y[:300]).n_trials_
    2
    >>> sorted(clf.best_params_)
    ['conv_filters']
    >>> clf.n_epochs_ <= 5  # the kept finalist's epochs
    True
    """

    _parameter_constraints: dict = {
        **BaseCNNClassifier._parameter_constraints,
        "tuner": [StrOptions({"hyperband", "random", "bayesian"})],
        "lr_schedule": [None, StrOptions({"plateau", "auto"})],
        "search_space": [None, dict, callable, HasMethods(["build"])],
        "time_budget": [None, Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "factor": [Interval(Integral, 2, None, closed="left")],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "n_finalists": [Interval(Integral, 1, None, closed="left")],
        "ensemble": ["boolean"],
        "executions_per_trial": [Interval(Integral, 1, None, closed="left")],
        "max_search_samples": [None, Interval(Integral, 1, None, closed="left")],
        "cv": [
            None,
            Interval(Integral, 2, None, closed="left"),
            HasMethods(["split", "get_n_splits"]),
        ],
        "objective": [str],
        "directory": [None, str, Path],
        "overwrite": ["boolean"],
        "train_finalists": ["boolean"],
        "distribution_strategy": [None, HasMethods(["scope"])],
        "isolate_search": [StrOptions({"auto"}), "boolean"],
        "keep_checkpoints": ["boolean"],
    }

    #: The budget's rules; a subclass (a test) may set others.
    _policy = BudgetPolicy()
    #: The clock of ``time_budget``.
    _clock = staticmethod(time.time)

    def __init__(
        self,
        *,
        tuner="hyperband",
        search_space=None,
        time_budget=None,
        max_epochs=3,
        factor=3,
        max_trials=10,
        n_finalists=2,
        ensemble=True,
        executions_per_trial=1,
        max_search_samples=10_000,
        cv=None,
        objective="val_accuracy",
        directory=None,
        overwrite=True,
        train_finalists=True,
        distribution_strategy=None,
        isolate_search="auto",
        keep_checkpoints=False,
        epochs=100,
        batch_size=64,
        optimizer="adam",
        learning_rate=1e-3,
        validation_split=0.1,
        early_stopping=True,
        patience=10,
        lr_schedule="auto",
        normalize=True,
        augmentation=None,
        class_weight=None,
        image_shape=None,
        image_size=None,
        cache=False,
        precision="float32",
        random_state=None,
        verbose=1,
        callbacks=None,
        balancer=None,
        distribution=None,
    ):
        self._store(locals())

    def _space(self):
        """The search space, checked; Keras layers as ``augmentation`` are
        kept as given, not searched."""
        space = DEFAULT_SEARCH_SPACE if self.search_space is None else self.search_space
        if isinstance(space, dict):
            check_search_space(space)
            # A short budget's trials and finalists stop before augmentation
            # pays off (see BudgetPolicy.augmentation_budget).
            short = not self._policy.searches_augmentation(self.time_budget)
            layers = not isinstance(self.augmentation, str | None)
            if layers or (short and self.search_space is None):
                space = {k: v for k, v in space.items() if k != "augmentation"}
        return space

    def _isolated(self):
        # A strategy holds this process's devices: it cannot travel.
        held = self.distribution_strategy is not None or is_strategy(self.distribution)
        if self.isolate_search == "auto":
            return not held
        if self.isolate_search and held:
            raise ValueError(
                "isolate_search=True cannot run a search with a "
                "tf.distribute strategy as distribution_strategy or "
                "distribution: the strategy holds this process's devices and "
                "cannot be sent to a worker process. Use isolate_search='auto' "
                "or False, or distribution='mirrored'."
            )
        return self.isolate_search

    def _fit_scope(self, strategy):
        """The search runs outside ``distribution`` (its trials take
        ``distribution_strategy``); the finalists train under it."""
        return nullcontext()

    def _n_trials_planned(self):
        """Trials the search plans; None when the ``time_budget`` decides."""
        if self.tuner == "hyperband":  # the brackets; the defaults are one trial
            if self.time_budget is not None:  # iterations until the deadline
                return None
            return hyperband_trials(self.max_epochs, self.factor)
        return self.max_trials

    def _fold_arguments(self, fold):
        """What one model of a ``cv`` fold trains on: ``(fit arguments,
        validation data)``."""
        return self._fit_arguments(fold.train, fold), self._validation_data(fold)

    def _fit_keras(self, run):
        started = self._clock()
        deadline = None if self.time_budget is None else started + self.time_budget
        temporary = self.directory is None
        directory = Path(
            tempfile.mkdtemp(prefix="cnnfix-tuner-") if temporary else self.directory
        ).resolve()
        if run.verbose and not self.overwrite and (directory / "search").exists():
            print(f"Resuming the keras-tuner search in {directory / 'search'}.")
        progress = None
        if run.verbose == 1:
            progress = SearchProgress(
                self._n_trials_planned(),
                self.objective,
                started,
                self.time_budget,
                clock=self._clock,
            )
        report = progress.update if progress else (lambda event: None)
        try:
            if self._isolated():
                # A fresh copy travels: not the previous fit's model.
                searcher = type(self)(**self.get_params(deep=False))
                for name in ("image_shape_", "n_classes_", "classes_"):
                    setattr(searcher, name, getattr(self, name))
                outcome = run_in_worker(
                    search,
                    searcher,
                    run,
                    directory,
                    deadline,
                    on_event=report,
                    quiet=run.verbose < 2,
                )
            else:
                outcome = search(self, run, directory, deadline, emit=report)
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)
        if outcome is None:  # a distributed worker: the chief keeps the model
            return None, {}
        if progress:
            progress.finish(
                outcome["stopped"],
                outcome.get("finalist", {}).get("score"),
                averaged=sum(f["weight"] > 0 for f in outcome.get("finalists", [])),
            )
        self.finalists_ = [dict(f) for f in outcome.get("finalists", [])]
        best = outcome.get("finalist") or outcome["best"]
        self.best_params_, self.best_score_ = best["params"], best["score"]
        self.search_results_ = search_results(outcome["trials"])
        self.n_trials_ = len(outcome["trials"])
        self.defaults_only_ = outcome["defaults_only"]
        if outcome["balancer"] is not None:
            self.balancer_ = outcome["balancer"]
        with no_optimizer_state_warning():
            return model_from_bytes(outcome["model"]), outcome["history"]
