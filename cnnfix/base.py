"""BaseCNNClassifier: the scikit-learn side of every cnnfix CNN.

Subclasses say how to build and train the Keras model (:meth:`_fit_keras`,
usually with :meth:`_train`); the base
validates input, encodes labels, seeds, splits off stratified validation data,
learns input normalisation, weights classes, trains with early stopping,
predicts quickly in batches and pickles the model as a ``.keras`` archive.

X may be images or a 1-D array of file paths. :mod:`cnnfix._input`, the
one input path, turns either into what Keras takes: the stratified
validation split, the sample weights, ``model.fit`` arguments
(:meth:`_fit_arguments`, :meth:`_validation_data`; paths decoded batch by
batch), the normalisation statistics and the chunks of ``predict_proba``.
"""

import random
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._archive import model_from_bytes, model_to_bytes, save
from ._distribute import (
    DISTRIBUTIONS,
    LeftBehind,
    distribution_strategy,
    even_batches,
    is_strategy,
    left_behind,
    one_device,
    strategy_scope,
)
from ._input import INPUT_POLICY, stratified_split
from ._input.pipeline import (
    content_order,
    normalization,
    prediction_chunks,
    training_arguments,
    validation_data,
)
from ._input.split import sample_weights, subset
from ._keras import import_keras
from ._training import LR_SCHEDULES, Plan, train
from ._validation import (
    check_sample_weight,
    encode_labels,
    validate_images,
)
from .architectures import (
    AUGMENTATION_PRESETS,
    OPTIMIZERS,
    PRECISIONS,
    precision_policy,
)

__all__ = ["BaseCNNClassifier", "FitRun"]

#: Seeds are drawn below this bound (int32, which every seeded library takes).
SEED_BOUND = np.iinfo(np.int32).max


@contextmanager
def _seeded(seed):
    """Seed Keras, TensorFlow, NumPy and Python for the block, then restore the
    global NumPy and Python random states so ``fit`` has no side effect on the
    caller's own random numbers."""
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    import_keras().utils.set_random_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


@dataclass(frozen=True)
class FitRun:
    """What ``fit`` prepares once and hands to :meth:`BaseCNNClassifier._fit_keras`.

    Attributes
    ----------
    train : tuple
        ``(X, y, sample_weight)`` of the training part: images (or a 1-D
        array of file paths), labels encoded as positions in ``classes_``,
        weights or None. Not yet balanced:
        :meth:`BaseCNNClassifier._fit_arguments` does that.
    validation : tuple or None
        ``(X, y, sample_weight)`` of the stratified validation part, never
        balanced; None without validation data. Pass it to ``model.fit``
        through :meth:`BaseCNNClassifier._validation_data`, which decodes
        file paths.
    normalization : tuple or None
        Per-channel ``(mean, variance)`` of the training part, or None.
    seed : int
        The one seed of this fit, drawn from ``random_state``: Keras,
        keras-tuner and the balancer are seeded from it.
    verbose : int
        0, 1 or 2 (``verbose`` capped at 2): Keras's ``verbose`` for the
        training runs; each estimator documents what its levels show.
    """

    train: tuple
    validation: tuple | None
    normalization: tuple | None
    seed: int
    verbose: int


class BaseCNNClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the cnnfix CNN classifiers. Not meant to be used directly.

    Subclasses define ``__init__`` with their own parameters plus the shared
    ones below, store them with ``self._store(locals())``, and implement
    :meth:`_fit_keras`.
    """

    _parameter_constraints: dict = {
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), HasMethods(["get_config"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "lr_schedule": [None, StrOptions(set(LR_SCHEDULES))],
        "normalize": ["boolean"],
        "augmentation": [None, StrOptions(set(AUGMENTATION_PRESETS)), list, tuple],
        "class_weight": [None, StrOptions({"balanced"}), dict],
        "image_shape": [None, tuple, list],
        "image_size": [None, Interval(Integral, 1, None, closed="left"), tuple, list],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [None, list],
        "balancer": [None, HasMethods(["fit_resample"])],
        "cache": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "distribution": [
            None,
            StrOptions(set(DISTRIBUTIONS)),
            list,
            tuple,
            HasMethods(["scope"]),
            LeftBehind,
        ],
    }

    def _store(self, arguments):
        """Store each ``__init__`` argument as the attribute of its name,
        untouched, as scikit-learn's ``get_params`` and ``clone`` expect:
        ``arguments`` is ``__init__``'s ``locals()``, taken first thing."""
        for name, value in arguments.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    @abstractmethod
    def _fit_keras(self, run):
        """Build and train the Keras model; return it and its history dict.

        ``run`` is the :class:`FitRun` that ``fit`` prepared (data split,
        normalisation, seed, verbosity); :meth:`_fit_arguments` turns its
        training part into ``model.fit`` arguments and :meth:`_train` trains.
        Runs inside the estimator's seeding and under the dtype policy of its
        ``precision`` (:func:`cnnfix.architectures.precision_policy`), so
        every Keras model built here follows it. A model of None leaves the
        estimator without one (a worker of a distributed search).
        """

    # -- fit ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Build a fresh Keras model and train it on images X with labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width), (n_samples, n_features) or (n_samples,)
            Training images; any numeric dtype (raw 0-255 pixels work with
            ``normalize=True``). Or image file paths: a 1-D array, list or
            pandas Series of str or ``pathlib.Path``, or a one-column
            DataFrame; the files are decoded batch by batch while training
            and resized to ``image_size``.
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, bools).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights, multiplied with ``class_weight``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        previous_state = self.__dict__.copy()
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            # A failed or interrupted fit leaves the estimator as it was.
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit(self, X, y, sample_weight):
        X, y = validate_images(
            self,
            X,
            y,
            reset=True,
            image_shape=self.image_shape,
            image_size=self.image_size,
            max_side=self._working_side(),
        )
        classes, y_encoded = encode_labels(y, owner=type(self).__name__)
        self.classes_, self.n_classes_ = classes, len(classes)
        weights = check_sample_weight(sample_weight, X, y_encoded, len(classes))
        weights = sample_weights(y_encoded, classes, self.class_weight, weights)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(SEED_BOUND))
        train, val = stratified_split(y_encoded, self.validation_split, rng)
        training = subset(train, X, y_encoded, weights)
        run = FitRun(
            train=training,
            validation=subset(val, X, y_encoded, weights) if len(val) else None,
            # Per-channel statistics of the training images (a decoded sample
            # of file paths).
            normalization=(
                normalization(training[0], image_shape=self.image_shape_, seed=seed)
                if self.normalize
                else None
            ),
            seed=seed,
            verbose=min(int(self.verbose), 2),
        )
        for name in ("balancer_", "model_", "history_", "n_epochs_"):
            self.__dict__.pop(name, None)  # not a previous fit's
        strategy = self._strategy()
        with (
            _seeded(seed),
            precision_policy(self.precision),
            self._fit_scope(strategy),
        ):
            model, history = self._fit_keras(run)
        if model is None:  # a distributed search worker; the chief has the model
            return self
        self.model_ = one_device(model, strategy)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.items()}
        self.n_epochs_ = len(next(iter(self.history_.values()), []))
        return self

    def _strategy(self):
        """The ``tf.distribute`` strategy of ``distribution``, checked
        (:func:`cnnfix._distribute.distribution_strategy`); None for none."""
        return distribution_strategy(
            self.distribution, batch_size=self.batch_size, owner=type(self).__name__
        )

    def _fit_scope(self, strategy):
        """The block ``_fit_keras`` runs in: the scope of ``strategy``, in
        which the model is built, compiled and trained."""
        return strategy_scope(strategy)

    def _working_side(self):
        """Longest side of the working size for image files of mixed sizes
        (``working_size_``); TransferCNN caps its backbone's native side."""
        return INPUT_POLICY.working_side

    def _fit_arguments(self, data, run):
        """``model.fit`` arguments for ``data`` = ``(X, y, sample_weight)``,
        balanced by ``balancer`` (:func:`cnnfix._input.pipeline.training_arguments`);
        the fitted balancer becomes ``balancer_``."""
        arguments, balancer = training_arguments(
            *data,
            classes=self.classes_,
            balancer=self.balancer,
            batch_size=self.batch_size,
            seed=run.seed,
            image_shape=self.image_shape_,
            cache=self.cache,
        )
        if balancer is not None:
            self.balancer_ = balancer
        return arguments

    def _validation_data(self, run):
        """``validation_data`` for ``model.fit``: the run's validation part,
        as batches decoded on the fly when it holds file paths."""
        return validation_data(
            run.validation,
            image_shape=self.image_shape_,
            batch_size=self.batch_size,
            cache=self.cache,
        )

    def _plan(self, run, **changes):
        """The training :class:`~cnnfix._training.Plan` of this estimator's
        parameters for ``run``, with ``changes``."""
        plan = Plan(
            epochs=self.epochs,
            early_stopping=self.early_stopping,
            patience=self.patience,
            lr_schedule=self.lr_schedule,
            callbacks=tuple(self.callbacks or ()),
            verbose=run.verbose,
        )
        return replace(plan, **changes)

    def _train(self, model, run, **changes):
        """Train ``model`` on the run's (balanced) training part with early
        stopping on its validation part, by the one training loop
        (:func:`cnnfix._training.train`); ``changes`` amend the plan."""
        data, validation = even_batches(
            self._fit_arguments(run.train, run), self._validation_data(run)
        )
        return train(model, data, validation, self._plan(run, **changes))

    # -- predict -----------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities, one column per class in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width), (n_samples, n_features) or (n_samples,)
            Images of the same shape as in ``fit``, or image file paths (as
            in ``fit``), whether the model was fitted on files or arrays:
            each file is resized to ``image_shape_[:2]`` and converted to its
            channels (grey for 1, RGB for 3), the way ``fit`` decodes them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities (float64) that sum to 1 over each row.
        """
        check_is_fitted(self)
        X = validate_images(self, X, reset=False)
        return self._probabilities([self.model_], X)[0]

    def _probabilities(self, models, X, policy=INPUT_POLICY):
        """Each of ``models``' class probabilities (float64, rows summing to
        1) for validated images or file paths ``X``, in the chunks of
        ``policy`` (:func:`cnnfix._input.pipeline.prediction_chunks`): each chunk is
        decoded once for all the models."""
        # predict_on_batch skips model.predict's per-call set-up, which
        # dominates on small batches. Rows go in an order of their contents,
        # so a row's probabilities do not depend on the order of X.
        order = content_order(X)
        chunks = prediction_chunks(X, self.image_shape_, policy, order=order)
        outputs = [[np.asarray(m.predict_on_batch(c)) for m in models] for c in chunks]
        restore = np.argsort(order)
        return [
            (proba := np.concatenate(part)[restore].astype(np.float64))
            / proba.sum(axis=1, keepdims=True)
            for part in zip(*outputs, strict=True)
        ]

    def predict(self, X):
        """Predicted class labels (of the same type as the labels in ``fit``).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width), (n_samples, n_features) or (n_samples,)
            Images of the same shape as in ``fit``, or image file paths (see
            :meth:`predict_proba`).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The most probable class of each image.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- scikit-learn and pickle protocols -----------------------------------

    def save(self, path):
        """Write this fitted estimator to a ``.keras`` file: Keras's format,
        with the labels, image shape, history and parameters alongside.
        Read it back with :func:`cnnfix.load` (safe: nothing is unpickled).
        See :mod:`cnnfix.persistence`."""
        save(self, path)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def __sklearn_clone__(self):
        # A tf.distribute strategy is a handle on this process's devices:
        # clones share it, since a copy's collective keys clash with it.
        if not is_strategy(self.distribution):
            return super().__sklearn_clone__()
        params = clone(self.get_params(deep=False) | {"distribution": None}, safe=False)
        return type(self)(**params | {"distribution": self.distribution})

    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": model_to_bytes(state["model_"])}
        if "distribution" in state:  # a strategy cannot be pickled
            state = {**state, "distribution": left_behind(state["distribution"])}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": model_from_bytes(state["model_"])}
        super().__setstate__(state)
