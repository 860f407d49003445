"""TunedCNNClassifier: a CNN whose architecture and training are searched
with keras-tuner inside ``fit``.

The search space samples the arguments of :func:`cnnfix.build_cnn`, the same
builder DropoutCNN uses, so there is one architecture definition (see
:mod:`cnnfix.search_space`). The search runs in a fresh worker process, so
the memory Keras and keras-tuner leave behind goes back when it ends, and in
a temporary directory that is removed when ``fit`` ends, also on error or
Ctrl-C; ``directory=`` keeps it for resuming.
"""

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._convert import to_python
from ._docs import fill_doc
from ._keras import import_keras
from ._oracle import defaults_first, hyperband_trials
from ._worker import run_in_worker
from .base import BaseCNNClassifier
from .persistence import model_from_bytes, model_to_bytes
from .search_space import (
    DEFAULT_SEARCH_SPACE,
    check_search_space,
    make_hypermodel,
)

__all__ = ["DEFAULT_SEARCH_SPACE", "TunedCNNClassifier"]


@fill_doc(
    epochs="""\
    Most epochs the refit trains: the best trial's best number of epochs
    (its ``best_epoch``), at most this many. Each trial trains up to
    ``max_epochs``.""",
    validation_split="""\
    Fraction of the training data held out by a stratified shuffle to score
    the trials (and for their early stopping); with ``refit=True`` the best
    configuration is then trained on all the data. 0 scores the trials on
    the training data.""",
    verbose=(
        '"auto" or int',
        """\
    0 prints nothing; 1 shows the search's progress on
    stderr, one line updated after each trial (trials done of planned,
    best score so far, time elapsed and an estimate of the time left),
    then a progress bar per epoch of the refit; 2 shows keras-tuner's own
    report of every trial and one line per epoch of the trials and the
    refit. Levels above 2 act as 2. "auto" (Keras's convention) is 1,
    except inside scikit-learn's model selection: when ``fit`` is called
    from ``cross_val_score``, ``cross_validate``, ``GridSearchCV``,
    ``RandomizedSearchCV`` or any other tool of ``sklearn.model_selection``
    (it is on the call stack, in this process or in a joblib worker), it is
    0, so folds and candidates do not all print. It is resolved when
    ``fit`` runs, so a clone keeps "auto".""",
    ),
)
class TunedCNNClassifier(BaseCNNClassifier):
    """A CNN classifier whose architecture and learning rate are searched in ``fit``.

    keras-tuner (Hyperband by default) samples the arguments of
    :func:`cnnfix.build_cnn` (the builder behind DropoutCNN), scores each
    trial on the stratified validation split, and with ``refit=True``
    trains the best configuration on all the training data for the best
    number of epochs. After ``fit`` it behaves like any fitted classifier.

    The first trial is DropoutCNN's defaults (every searched name at its
    DropoutCNN value, ``learning_rate`` and ``optimizer`` at this
    estimator's; a name whose choices or range exclude that value takes its
    first choice or the low end of its range); Hyperband trains it for its
    whole budget, ``max_epochs``. The search replaces it only with a
    configuration that scores better on the same validation data. A callable
    or HyperModel space starts from the defaults of its own hyperparameters.

    Parameters
    ----------
    tuner : {"hyperband", "random", "bayesian"}, default="hyperband"
        keras-tuner's search algorithm.
    search_space : dict, callable, keras_tuner.HyperModel or None, default=None
        None searches :data:`DEFAULT_SEARCH_SPACE` (blocks, filters, kernel
        size, batch norm, dense units, dropout, learning rate). A dict maps
        builder arguments (``n_blocks``, ``filters``, ``kernel_size``,
        ``pool_size``, ``batch_norm``, ``conv_dropout``, ``dense_units``,
        ``dropout``, ``weight_decay``, ``learning_rate``, ``optimizer``) to a
        list of choices, a ``(low, high)`` range (log scale for the learning
        rate) or a fixed value; unnamed arguments keep DropoutCNN's defaults.
        A callable ``build(hp) -> keras.Model`` or a ``HyperModel`` takes full
        control (it then handles input shape, classes and normalisation).
    time_budget : float or None, default=None
        Seconds the whole ``fit`` may take, search and refit included. Once
        one trial has ended, no new trial starts when the mean trial
        duration so far plus the estimated refit (seconds per epoch of the
        trials, times the refit's epochs, scaled to all the training data)
        would end past it; the fit then overruns it by at most the error of
        that estimate. None searches the whole budget of the tuner. The
        progress line counts down to it.
    max_epochs : int, default=10
        Most epochs one trial trains (Hyperband's budget; the epochs of every
        trial for "random" and "bayesian").
    factor : int, default=3
        Hyperband's reduction factor between rounds.
    max_trials : int, default=10
        Number of trials for "random" and "bayesian".
    executions_per_trial : int, default=1
        Models trained per trial, averaged to reduce noise.
    objective : str, default="val_accuracy"
        Metric the search maximises (names ending in "loss" are
        minimised). Without validation data the training metric of the same
        name is used.
    directory : str, Path or None, default=None
        Where the search is kept. None uses a temporary directory removed
        when ``fit`` ends (also on error or Ctrl-C), so nothing is written to
        the working directory.
    overwrite : bool, default=True
        With ``directory``, False resumes the search found there.
    refit : bool, default=True
        Train the best configuration on all the training data (training and
        validation parts, balanced like the trials) for the best trial's
        number of epochs, at most ``epochs``. False keeps the best trial's
        own model.
    distribution_strategy : tf.distribute.Strategy or None, default=None
        Passed to keras-tuner for multi-device training of each trial.
    keep_checkpoints : bool, default=False
        Keep each trial's best weights (``trial_*/checkpoint.weights.h5``)
        in ``directory`` after the search; by default they are deleted once
        it ends, and the trial records (scores, values) stay. Hyperband
        needs them only while the search runs.
    isolate_search : "auto" or bool, default="auto"
        Run the search in a fresh worker process, which returns the memory
        Keras and keras-tuner leave behind (tens of MB per search) when it
        ends, so repeated fits (cross-validation, GridSearchCV) do not
        grow. The first worker of a process imports TensorFlow once
        (~6 s); later ones start at once. Callables in ``search_space``
        and ``callbacks`` are sent with cloudpickle. "auto" isolates
        unless a ``distribution_strategy`` is given (it holds this
        process's devices); False searches in this process.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    best_params_ : dict
        Values of the best trial (plain Python values, keras-tuner's own
        ``tuner/...`` bookkeeping removed).
    best_score_ : float
        The best trial's objective value.
    search_results_ : dict of str to list
        One entry per trial, like ``cv_results_``: "trial_id", "status",
        "score", "best_epoch", "duration" (seconds, None for a trial of a
        resumed search that did not record it) and one "param_<name>"
        column per searched argument. ``pandas.DataFrame(search_results_)``
        makes a table.
    n_trials_ : int
        Number of trials run.

    See Also
    --------
    DropoutCNN : The same CNN with fixed settings.

    Examples
    --------
    >>> from cnnfix import TunedCNNClassifier
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> clf = TunedCNNClassifier(tuner="random", max_trials=2, max_epochs=2,
    ...                          search_space={"filters": [8, 16]}, random_state=0)
    >>> clf.fit(X[:300], y[:300]).n_trials_
    2
    >>> sorted(clf.best_params_)
    ['filters']
    """

    _parameter_constraints: dict = {
        **BaseCNNClassifier._parameter_constraints,
        "tuner": [StrOptions({"hyperband", "random", "bayesian"})],
        "search_space": [None, dict, callable, HasMethods(["build"])],
        "time_budget": [None, Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "factor": [Interval(Integral, 2, None, closed="left")],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "executions_per_trial": [Interval(Integral, 1, None, closed="left")],
        "objective": [str],
        "directory": [None, str, Path],
        "overwrite": ["boolean"],
        "refit": ["boolean"],
        "distribution_strategy": [None, HasMethods(["scope"])],
        "isolate_search": [StrOptions({"auto"}), "boolean"],
        "keep_checkpoints": ["boolean"],
        "verbose": [StrOptions({"auto"}), "verbose"],
    }

    def __init__(
        self,
        *,
        tuner="hyperband",
        search_space=None,
        time_budget=None,
        max_epochs=10,
        factor=3,
        max_trials=10,
        executions_per_trial=1,
        objective="val_accuracy",
        directory=None,
        overwrite=True,
        refit=True,
        distribution_strategy=None,
        isolate_search="auto",
        keep_checkpoints=False,
        epochs=100,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        validation_split=0.2,
        early_stopping=True,
        patience=3,
        normalize=True,
        augmentation=None,
        class_weight=None,
        image_shape=None,
        image_size=None,
        random_state=None,
        verbose="auto",
        callbacks=None,
        balancer=None,
    ):
        self.tuner = tuner
        self.search_space = search_space
        self.time_budget = time_budget
        self.max_epochs = max_epochs
        self.factor = factor
        self.max_trials = max_trials
        self.executions_per_trial = executions_per_trial
        self.objective = objective
        self.directory = directory
        self.overwrite = overwrite
        self.refit = refit
        self.distribution_strategy = distribution_strategy
        self.isolate_search = isolate_search
        self.keep_checkpoints = keep_checkpoints
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.normalize = normalize
        self.augmentation = augmentation
        self.class_weight = class_weight
        self.image_shape = image_shape
        self.image_size = image_size
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.balancer = balancer

    def _verbosity(self):
        # "auto" is resolved at fit time, so that clones keep it.
        if self.verbose == "auto":
            return 0 if _called_by_model_selection() else 1
        return super()._verbosity()

    def _space(self):
        space = DEFAULT_SEARCH_SPACE if self.search_space is None else self.search_space
        if isinstance(space, dict):
            check_search_space(space)
            space = {
                **{"optimizer": self.optimizer, "learning_rate": self.learning_rate},
                **space,
            }
        return space

    def _hypermodel(self, normalization):
        """What keras-tuner builds: the dict space sampled into build_cnn, or
        the user's callable or HyperModel."""
        space = self._space()
        if not isinstance(space, dict):
            return space
        return make_hypermodel(
            space,
            self.image_shape_,
            self.n_classes_,
            normalization,
            self.augmentation,
            defaults={"optimizer": self.optimizer, "learning_rate": self.learning_rate},
        )

    def _isolated(self):
        if self.isolate_search == "auto":
            return self.distribution_strategy is None
        if self.isolate_search and self.distribution_strategy is not None:
            raise ValueError(
                "isolate_search=True cannot run a search with a "
                "distribution_strategy: the strategy holds this process's "
                "devices and cannot be sent to a worker process. Use "
                "isolate_search='auto' or False."
            )
        return self.isolate_search

    def _n_trials_planned(self):
        if self.tuner == "hyperband":  # the brackets, after the defaults' trial
            return 1 + hyperband_trials(self.max_epochs, self.factor)
        return self.max_trials

    def _make_tuner(self, hypermodel, directory, run, emit, deadline):
        import keras_tuner as kt

        n_train = len(run.train[1])
        n_all = n_train + (0 if run.validation is None else len(run.validation[1]))
        refit_scale = n_all / n_train if self.refit else 0.0
        max_refit_epochs = self.epochs

        searchers = {
            "hyperband": (kt.Hyperband, kt.oracles.HyperbandOracle),
            "random": (kt.RandomSearch, kt.oracles.RandomSearchOracle),
            "bayesian": (
                kt.BayesianOptimization,
                kt.oracles.BayesianOptimizationOracle,
            ),
        }
        tuner_class, oracle_class = searchers[self.tuner]

        class Tuner(tuner_class):
            """keras-tuner's tuner with an oracle whose first trial is the
            defaults; reports each finished trial (for the progress bar)."""

            def __init__(self, oracle, hypermodel, **kwargs):
                # The searcher's own __init__ only makes its oracle.
                kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
                self.seconds, self.epochs = 0.0, 0  # over all trials so far

            def on_trial_begin(self, trial):
                super().on_trial_begin(trial)
                self.started = time.time()

            def on_epoch_end(self, trial, model, epoch, logs=None):
                super().on_epoch_end(trial, model, epoch, logs=logs)
                self.epochs += 1

            def on_trial_end(self, trial):
                duration = time.time() - self.started
                self.seconds += duration
                super().on_trial_end(trial)
                best = self.oracle.get_best_trials(1)
                best = best[0] if best and best[0].score is not None else None
                refit = 0.0
                if best is not None and self.epochs:
                    epochs = min(int(best.best_step or 0) + 1, max_refit_epochs)
                    refit = self.seconds / self.epochs * epochs * refit_scale
                self.oracle.refit_seconds = refit  # what the deadline needs
                emit(
                    {
                        "best": None if best is None else float(best.score),
                        "duration": duration,
                        "refit": refit,
                    }
                )

        budget = (
            dict(max_epochs=self.max_epochs, factor=self.factor)
            if self.tuner == "hyperband"
            else dict(max_trials=self.max_trials)
        )
        oracle = defaults_first(oracle_class)(
            deadline=deadline,
            objective=self._objective(run.validation is not None),
            seed=run.seed,
            max_consecutive_failed_trials=1,
            **budget,
        )
        return Tuner(
            oracle,
            hypermodel,
            directory=str(directory),
            project_name="search",
            overwrite=self.overwrite,
            executions_per_trial=self.executions_per_trial,
            distribution_strategy=self.distribution_strategy,
        )

    def _objective(self, has_validation):
        import keras_tuner as kt

        name = self.objective
        if not has_validation and name.startswith("val_"):
            name = name[len("val_") :]
        return kt.Objective(name, direction="min" if name.endswith("loss") else "max")

    def _fit_keras(self, run):
        started = time.time()
        deadline = None if self.time_budget is None else started + self.time_budget
        temporary = self.directory is None
        directory = (
            Path(tempfile.mkdtemp(prefix="cnnfix-tuner-"))
            if temporary
            else Path(self.directory).resolve()
        )
        if run.verbose and not self.overwrite and (directory / "search").exists():
            print(f"Resuming the keras-tuner search in {directory / 'search'}.")
        progress = (
            _SearchProgress(
                self._n_trials_planned(), self.objective, started, self.time_budget
            )
            if run.verbose == 1
            else None
        )
        report = progress.update if progress else None
        try:
            if self._isolated():
                # A fresh copy travels: not the previous fit's model.
                searcher = type(self)(**self.get_params(deep=False))
                for name in ("image_shape_", "n_classes_", "classes_"):
                    setattr(searcher, name, getattr(self, name))
                outcome = run_in_worker(
                    searcher._search,
                    run,
                    directory,
                    deadline,
                    on_event=report,
                    quiet=run.verbose < 2,
                )
            else:
                outcome = self._search(
                    run, directory, deadline, emit=report or (lambda event: None)
                )
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)
        if outcome is None:  # a distributed worker: the chief keeps the model
            return None, {}
        if progress:
            refit = len(run.train[1]) + (
                0 if run.validation is None else len(run.validation[1])
            )
            progress.finish(outcome["stopped"], refit if self.refit else None)
        self._record_search(outcome["trials"], outcome["best"])
        if self.refit:
            return self._refit(run, outcome)
        if outcome["balancer"] is not None:
            self.balancer_ = outcome["balancer"]
        with _no_optimizer_state_warning():
            return model_from_bytes(outcome["model"]), outcome["history"]

    def _search(self, run, directory, deadline, emit):
        """Run the keras-tuner search; return plain records of its trials.

        Runs in the worker process (or in this one with
        ``isolate_search=False``): everything it returns is picklable, and
        the best trial's model travels as ``.keras`` bytes.
        """
        keras = import_keras()
        keras.utils.set_random_seed(run.seed)
        hypermodel = self._hypermodel(run.normalization)
        arguments = self._fit_arguments(run.train, run)
        stdout = sys.stdout

        def report(event):  # the progress bar prints past the silencing below
            with contextlib.redirect_stdout(stdout):
                emit(event)

        # verbose=2 shows keras-tuner's own report of each trial; below that
        # it is silenced (verbose=1 has the progress bar over trials).
        quiet = (
            contextlib.redirect_stdout(io.StringIO())
            if run.verbose < 2
            else contextlib.nullcontext()
        )
        with quiet, _no_optimizer_state_warning():
            tuner = self._make_tuner(hypermodel, directory, run, report, deadline)
            tuner.search(
                **arguments,
                validation_data=self._validation_data(run),
                epochs=self.max_epochs,
                callbacks=self._callbacks(run.validation is not None),
                verbose=2 if run.verbose == 2 else 0,
            )
            if _distributed_worker():
                return None
            # In creation order (ids are numbers as strings; reloads shuffle).
            trials = sorted(
                tuner.oracle.trials.values(),
                key=lambda t: (len(t.trial_id), t.trial_id),
            )
            best = tuner.oracle.get_best_trials(1)[0]
            durations = tuner.oracle.durations
            outcome = {
                "trials": [_trial_record(t, durations) for t in trials],
                "best": _trial_record(best, durations),
                "hyperparameters": best.hyperparameters,
                "stopped": tuner.oracle.stopped_by_deadline,
            }
            if not self.refit:
                outcome["model"] = model_to_bytes(tuner.load_model(best))
                outcome["history"] = _trial_history(best)
                outcome["balancer"] = getattr(self, "balancer_", None)
        if not self.keep_checkpoints:  # the search is over: only its record stays
            for path in Path(tuner.project_dir).glob("trial_*/checkpoint*"):
                path.unlink()
        return outcome

    def _record_search(self, trials, best):
        self.best_params_ = best["params"]
        self.best_score_ = best["score"]
        names = sorted({k for t in trials for k in t["params"]})
        self.search_results_ = {
            "trial_id": [t["trial_id"] for t in trials],
            "status": [t["status"] for t in trials],
            "score": [t["score"] for t in trials],
            "best_epoch": [t["best_epoch"] for t in trials],
            "duration": [t["duration"] for t in trials],
            **{f"param_{n}": [t["params"].get(n) for t in trials] for n in names},
        }
        self.n_trials_ = len(trials)

    def _refit(self, run, outcome):
        """Train the best values on all the training data (the validation
        part included), balanced like the trials, for the best trial's
        number of epochs (at most ``epochs``)."""
        keras = import_keras()
        keras.backend.clear_session()
        hypermodel = self._hypermodel(run.normalization)
        build = getattr(hypermodel, "build", hypermodel)  # HyperModel or callable
        model = build(outcome["hyperparameters"])
        data = run.train if run.validation is None else _join(run.train, run.validation)
        history = model.fit(
            **self._fit_arguments(data, run),
            epochs=min(outcome["best"]["best_epoch"], self.epochs),
            shuffle=True,
            callbacks=list(self.callbacks or []),
            verbose=run.verbose,
        )
        return model, history.history


def _join(train, validation):
    """The ``(X, y, sample_weight)`` rows of both parts, training first."""
    (X, y, weights), (X_val, y_val, w_val) = train, validation
    joined_weights = None if weights is None else np.concatenate([weights, w_val])
    return np.concatenate([X, X_val]), np.concatenate([y, y_val]), joined_weights


def _distributed_worker():
    """Whether this process is a worker of keras-tuner's distributed search
    (``KERASTUNER_TUNER_ID`` set to anything but "chief...")."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )


@contextlib.contextmanager
def _no_optimizer_state_warning():
    """Hyperband resumes trials from checkpoints without their optimizer
    state, and a trial's model is kept without it (keras-tuner's design);
    Keras warns each time."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer"
        )
        yield


def _called_by_model_selection():
    """Whether a function of ``sklearn.model_selection`` is on the call stack
    (cross_val_score, GridSearchCV, ...; their fits run through
    ``_fit_and_score``, in this process or in a joblib worker)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("sklearn.model_selection"):
            return True
        frame = frame.f_back
    return False


def _trial_record(trial, durations):
    duration = durations.get(trial.trial_id)
    return {
        "trial_id": trial.trial_id,
        "status": str(trial.status),
        "score": None if trial.score is None else float(trial.score),
        "best_epoch": int(trial.best_step) + 1,
        "duration": None if duration is None else float(duration),
        "params": {
            k: to_python(v)
            for k, v in trial.hyperparameters.values.items()
            if not k.startswith("tuner/")
        },
    }


def _trial_history(trial):
    return {
        name: [float(o.value[0]) for o in trial.metrics.get_history(name)]
        for name in trial.metrics.metrics
    }


def _clock(seconds):
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour)."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )


class _SearchProgress:
    """The search's progress on stderr: one line per finished trial (updated
    in place on a terminal or in a notebook) with the trials done, the best
    score so far, the time elapsed and an estimate of the time left."""

    def __init__(self, n_trials, objective, started, budget):
        self.n_trials, self.objective = n_trials, objective
        self.started, self.budget = started, budget
        self.durations, self.best, self.refit = [], None, 0.0
        self.width = 0
        stream = sys.stderr
        self.dynamic = "ipykernel" in sys.modules or (
            hasattr(stream, "isatty") and stream.isatty()
        )

    def _write(self, line, end=""):
        stream = sys.stderr
        if self.dynamic:
            stream.write("\r" + line.ljust(self.width) + end)
            self.width = len(line)
        else:
            stream.write(line + "\n")
        stream.flush()

    def _best(self):
        return "" if self.best is None else f", best {self.objective} {self.best:.4f}"

    def update(self, event):
        self.durations.append(event["duration"])
        self.best, self.refit = event["best"], event["refit"]
        elapsed = time.time() - self.started
        mean = sum(self.durations) / len(self.durations)
        done = len(self.durations)
        left = mean * max(self.n_trials - done, 0) + self.refit
        if self.budget is not None:
            left = min(left, max(self.budget - elapsed, 0.0))
        self._write(
            f"Search: trial {min(done, self.n_trials)}/{self.n_trials}{self._best()}, "
            f"{_clock(elapsed)} elapsed, ~{_clock(left)} left"
        )

    def finish(self, stopped, n_refit):
        """The closing line: the trials run, why the search ended early if it
        did, and the refit to come (on ``n_refit`` images) if any."""
        elapsed = _clock(time.time() - self.started)
        line = f"Search: {len(self.durations)} trials in {elapsed}{self._best()}"
        if stopped:
            line += f" (stopped by time_budget={self.budget:g} s)"
        if n_refit:
            line += f"; refit on {n_refit} images (~{_clock(self.refit)})"
        self._write(line, end="\n")
