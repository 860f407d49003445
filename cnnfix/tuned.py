"""TunedCNNClassifier: a CNN whose architecture and training are searched
with keras-tuner inside ``fit``.

The search space samples the arguments of :func:`cnnfix.build_cnn`, the same
builder DropoutCNN uses, so there is one architecture definition. Searches
run in a temporary directory that is removed when ``fit`` ends, also on error
or Ctrl-C; ``directory=`` keeps them for resuming.
"""

import contextlib
import io
import shutil
import tempfile
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._docs import fill_doc
from ._keras import import_keras
from .architectures import build_cnn, compile_cnn
from .base import BaseCNNClassifier

__all__ = ["DEFAULT_SEARCH_SPACE", "TunedCNNClassifier"]

#: What a search samples when ``search_space=None``. A list is a choice; a
#: (low, high) pair a range (log scale for the learning rate).
DEFAULT_SEARCH_SPACE = {
    "n_blocks": [1, 2, 3],
    "filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.5),
    "learning_rate": (1e-4, 1e-2),
}

#: Values of the names a search space does not mention: DropoutCNN's defaults.
#: ``n_blocks`` blocks get ``filters``, ``2 * filters``, ``4 * filters``, ...
FIXED_VALUES = {
    "n_blocks": 2,
    "filters": 32,
    "kernel_size": 3,
    "pool_size": 2,
    "batch_norm": True,
    "conv_dropout": 0.0,
    "dense_units": 128,
    "dropout": 0.5,
    "weight_decay": 0.0,
    "learning_rate": 1e-3,
    "optimizer": "adam",
}

LOG_SCALE = {"learning_rate"}


def check_search_space(space):
    """Raise a clear error for names or values a dict space cannot use."""
    unknown = sorted(set(space) - set(FIXED_VALUES))
    if unknown:
        raise ValueError(
            f"search_space names {unknown}, which the CNN builder does not take. "
            f"Valid names: {sorted(FIXED_VALUES)}."
        )
    for name, spec in space.items():
        if isinstance(spec, list) and not spec:
            raise ValueError(f"search_space[{name!r}] is an empty list of choices.")
        if isinstance(spec, tuple) and (
            len(spec) != 2
            or not all(isinstance(v, Real) for v in spec)
            or spec[0] > spec[1]
        ):
            raise ValueError(
                f"search_space[{name!r}] = {spec!r}: a tuple must be a (low, high) "
                "range of numbers with low <= high; use a list for choices."
            )


def sample(hp, name, spec):
    """One builder argument drawn from keras-tuner's ``hp`` by ``spec``."""
    if isinstance(spec, list):
        if all(isinstance(v, bool) for v in spec):  # hp.Choice would give 0/1
            return hp.Boolean(name) if len(set(spec)) == 2 else spec[0]
        return hp.Choice(name, spec)
    if isinstance(spec, tuple):
        low, high = spec
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in spec):
            return hp.Int(name, low, high)
        scale = "log" if name in LOG_SCALE else "linear"
        return hp.Float(name, float(low), float(high), sampling=scale)
    return spec  # a fixed value


def build_from_values(values, input_shape, n_classes, normalization, augmentation):
    """Compile the CNN for one set of search-space values."""
    params = {**FIXED_VALUES, **values}
    filters, n_blocks = int(params.pop("filters")), int(params.pop("n_blocks"))
    learning_rate, optimizer = params.pop("learning_rate"), params.pop("optimizer")
    model = build_cnn(
        input_shape,
        n_classes,
        conv_filters=tuple(filters * 2**i for i in range(n_blocks)),
        normalization=normalization,
        augmentation=augmentation,
        name="tuned_cnn",
        **params,
    )
    return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)


def make_hypermodel(space, input_shape, n_classes, normalization, augmentation):
    """A keras-tuner HyperModel sampling ``space`` (a dict) into build_cnn."""
    import keras_tuner as kt

    class CNNHyperModel(kt.HyperModel):
        def build(self, hp):
            values = {name: sample(hp, name, spec) for name, spec in space.items()}
            return build_from_values(
                values, input_shape, n_classes, normalization, augmentation
            )

    return CNNHyperModel(name="cnnfix_cnn")


def _plain(value):
    """numpy scalars to Python scalars, for best_params_ and search_results_."""
    return value.item() if isinstance(value, np.generic) else value


@fill_doc
class TunedCNNClassifier(BaseCNNClassifier):
    """A CNN classifier whose architecture and learning rate are searched in ``fit``.

        keras-tuner (Hyperband by default) samples the arguments of
        :func:`cnnfix.build_cnn` (the builder behind DropoutCNN), scores each
        trial on the stratified validation split, and with ``refit=True``
        trains the best configuration on all the training data for the best
        number of epochs. After ``fit`` it behaves like any fitted classifier.

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
            Metric the search maximises ("val_loss" and other "*loss" are
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
            validation parts) for the best trial's number of epochs. False keeps
            the best trial's own model.
        distribution_strategy : tf.distribute.Strategy or None, default=None
            Passed to keras-tuner for multi-device training of each trial.
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
            "score", "best_epoch" and one "param_<name>" column per searched
            argument. ``pandas.DataFrame(search_results_)`` makes a table.
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
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "factor": [Interval(Integral, 2, None, closed="left")],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "executions_per_trial": [Interval(Integral, 1, None, closed="left")],
        "objective": [str],
        "directory": [None, str, Path],
        "overwrite": ["boolean"],
        "refit": ["boolean"],
        "distribution_strategy": [None, HasMethods(["scope"])],
    }

    def __init__(
        self,
        *,
        tuner="hyperband",
        search_space=None,
        max_epochs=10,
        factor=3,
        max_trials=10,
        executions_per_trial=1,
        objective="val_accuracy",
        directory=None,
        overwrite=True,
        refit=True,
        distribution_strategy=None,
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
        random_state=None,
        verbose=0,
        callbacks=None,
        balancer=None,
    ):
        self.tuner = tuner
        self.search_space = search_space
        self.max_epochs = max_epochs
        self.factor = factor
        self.max_trials = max_trials
        self.executions_per_trial = executions_per_trial
        self.objective = objective
        self.directory = directory
        self.overwrite = overwrite
        self.refit = refit
        self.distribution_strategy = distribution_strategy
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
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.balancer = balancer

    def _space(self):
        space = DEFAULT_SEARCH_SPACE if self.search_space is None else self.search_space
        if isinstance(space, dict):
            check_search_space(space)
            space = {
                **{"optimizer": self.optimizer, "learning_rate": self.learning_rate},
                **space,
            }
        return space

    def _make_tuner(self, hypermodel, directory, has_validation):
        import keras_tuner as kt

        rng = check_random_state(self.random_state)
        common = dict(
            objective=self._objective(has_validation),
            directory=str(directory),
            project_name="search",
            overwrite=self.overwrite,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            executions_per_trial=self.executions_per_trial,
            distribution_strategy=self.distribution_strategy,
            max_consecutive_failed_trials=1,
        )
        if self.tuner == "hyperband":
            return kt.Hyperband(
                hypermodel, max_epochs=self.max_epochs, factor=self.factor, **common
            )
        searcher = (
            kt.RandomSearch if self.tuner == "random" else kt.BayesianOptimization
        )
        return searcher(hypermodel, max_trials=self.max_trials, **common)

    def _objective(self, has_validation):
        import keras_tuner as kt

        name = self.objective
        if not has_validation and name.startswith("val_"):
            name = name[len("val_") :]
        return kt.Objective(name, direction="min" if name.endswith("loss") else "max")

    def _fit_keras(self, train_data, validation, normalization):
        space = self._space()
        if isinstance(space, dict):
            hypermodel = make_hypermodel(
                space,
                self.image_shape_,
                self.n_classes_,
                normalization,
                self.augmentation,
            )
        else:
            hypermodel = space
        temporary = self.directory is None
        directory = (
            Path(tempfile.mkdtemp(prefix="cnnfix-tuner-"))
            if temporary
            else Path(self.directory)
        )
        quiet = (
            contextlib.redirect_stdout(io.StringIO())
            if not self.verbose
            else contextlib.nullcontext()
        )
        try:
            with quiet, warnings.catch_warnings():
                # Hyperband resumes trials from checkpoints without their
                # optimizer state (keras-tuner's design); Keras warns each time.
                warnings.filterwarnings(
                    "ignore", message="Skipping variable loading for optimizer"
                )
                resuming = not self.overwrite and (directory / "search").exists()
                tuner = self._make_tuner(hypermodel, directory, validation is not None)
                if resuming and self.verbose:
                    print(f"Resuming the keras-tuner search in {directory / 'search'}.")
                tuner.search(
                    **train_data,
                    validation_data=validation,
                    epochs=self.max_epochs,
                    callbacks=self._callbacks(validation is not None),
                    verbose=min(int(self.verbose), 2),
                )
                # In creation order (ids are numbers as strings; reloads shuffle).
                trials = sorted(
                    tuner.oracle.trials.values(),
                    key=lambda t: (len(t.trial_id), t.trial_id),
                )
                best = tuner.oracle.get_best_trials(1)[0]
                self._record_search(trials, best)
                if self.refit:
                    return self._refit(hypermodel, best, train_data, validation)
                model = tuner.load_model(best)
                return model, self._trial_history(best)
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)

    def _record_search(self, trials, best):
        def params(trial):
            return {
                k: _plain(v)
                for k, v in trial.hyperparameters.values.items()
                if not k.startswith("tuner/")
            }

        self.best_params_ = params(best)
        self.best_score_ = float(best.score)
        names = sorted({k for t in trials for k in params(t)})
        self.search_results_ = {
            "trial_id": [t.trial_id for t in trials],
            "status": [str(t.status) for t in trials],
            "score": [None if t.score is None else float(t.score) for t in trials],
            "best_epoch": [int(t.best_step) + 1 for t in trials],
            **{f"param_{n}": [params(t).get(n) for t in trials] for n in names},
        }
        self.n_trials_ = len(trials)

    def _trial_history(self, trial):
        return {
            name: [float(o.value[0]) for o in history]
            for name, history in (
                (n, trial.metrics.get_history(n)) for n in trial.metrics.metrics
            )
        }

    def _refit(self, hypermodel, best, train_data, validation):
        """Train the best values on training + validation data, best epochs."""
        keras = import_keras()
        keras.backend.clear_session()
        build = getattr(hypermodel, "build", hypermodel)  # HyperModel or callable
        model = build(best.hyperparameters)
        data = dict(train_data)
        if validation is not None and "y" in data:
            X_val, y_val, w_val = validation
            data["x"] = np.concatenate([data["x"], X_val])
            data["y"] = np.concatenate([data["y"], y_val])
            if data.get("sample_weight") is not None:
                data["sample_weight"] = np.concatenate([data["sample_weight"], w_val])
        history = model.fit(
            **data,
            epochs=int(best.best_step) + 1,
            shuffle=True,
            callbacks=list(self.callbacks or []),
            verbose=min(int(self.verbose), 2),
        )
        return model, history.history
