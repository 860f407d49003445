"""BaseCNNClassifier: the scikit-learn side of every cnnfix CNN.

Subclasses say how to build and train the Keras model (:meth:`_fit_keras`,
usually with :meth:`_train`); the base
validates input, encodes labels, seeds, splits off stratified validation data,
learns input normalisation, weights classes, trains with early stopping,
predicts quickly in batches and pickles the model as a ``.keras`` archive.
"""

import random
import tempfile
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._keras import import_keras
from ._validation import check_sample_weight, validate_images
from .architectures import AUGMENTATION_PRESETS, OPTIMIZERS
from .balance import ClassBalancer, balanced_batches

__all__ = ["BaseCNNClassifier"]

#: Rows per ``predict_on_batch`` call: large enough to amortise the call,
#: small enough to bound the memory of one forward pass.
PREDICT_CHUNK = 4096


@contextmanager
def _seeded(seed):
    """Seed Keras, TensorFlow, NumPy and Python for the block, then restore the
    global NumPy and Python random states so ``fit`` has no side effect on the
    caller's own random numbers."""
    keras = import_keras()
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def stratified_split(y, fraction, rng):
    """Indices (train, validation) from a stratified shuffle of labels ``y``.

    Each class gives ``round(fraction * count)`` samples to validation but
    always keeps one for training, so rare classes are never lost from
    training. Returns an empty validation set when ``fraction`` is 0 or the
    data are too small to spare any sample.
    """
    train, val = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = min(int(np.floor(fraction * len(idx) + 0.5)), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    train, val = np.concatenate(train), np.concatenate(val)
    return rng.permutation(train), rng.permutation(val)


def _subset(idx, X, y, weights):
    """Rows ``idx`` of X, y and weights; the arrays themselves when idx is all."""
    if len(idx) == len(y):
        return X, y, weights
    return X[idx], y[idx], None if weights is None else weights[idx]


def _model_to_bytes(model):
    with tempfile.TemporaryDirectory(prefix="cnnfix-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _model_from_bytes(data):
    keras = import_keras()
    with tempfile.TemporaryDirectory(prefix="cnnfix-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, safe_mode=True)


class BaseCNNClassifier(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the cnnfix CNN classifiers. Not meant to be used directly.

    Subclasses define ``__init__`` with their own parameters plus the shared
    ones below and implement :meth:`_fit_keras`.
    """

    _parameter_constraints: dict = {
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), HasMethods(["get_config"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "normalize": ["boolean"],
        "augmentation": [None, StrOptions(set(AUGMENTATION_PRESETS)), list, tuple],
        "class_weight": [None, StrOptions({"balanced"}), dict],
        "image_shape": [None, tuple, list],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [None, list],
        "balancer": [None, HasMethods(["fit_resample"])],
    }

    @abstractmethod
    def _fit_keras(self, train_data, validation, normalization):
        """Build and train the Keras model; return it and its history dict.

        ``train_data`` holds ``model.fit``'s data arguments (see
        :meth:`_balance`), ``validation`` is ``(X, y, sample_weight)`` or
        None, ``normalization`` the per-channel (mean, variance) or None.
        Runs inside the estimator's seeding. A model of None leaves the
        estimator without one (a worker of a distributed search).
        """

    # -- fit ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Build a fresh Keras model and train it on images X with labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features)
            Training images; any numeric dtype (raw 0-255 pixels work with
            ``normalize=True``).
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
        X, y = validate_images(self, X, y, reset=True, image_shape=self.image_shape)
        check_classification_targets(y)
        classes, y_encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; got "
                f"1 class ({classes[0]!r}). Check that y holds the labels of "
                "every class you want to recognise."
            )
        self.classes_, self.n_classes_ = classes, len(classes)
        weights = self._sample_weights(y_encoded, sample_weight, X)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        train, val = stratified_split(y_encoded, self.validation_split, rng)
        X_train, y_train, w_train = _subset(train, X, y_encoded, weights)
        validation = _subset(val, X, y_encoded, weights) if len(val) else None
        # Only the training part is balanced: validation keeps the real mix.
        train_data = self._balance(X_train, y_train, w_train, rng)
        normalization = self._channel_stats(X_train) if self.normalize else None
        with _seeded(seed):
            model, history = self._fit_keras(train_data, validation, normalization)
        if model is None:  # a distributed search worker; the chief has the model
            for name in ("model_", "history_", "n_epochs_"):
                self.__dict__.pop(name, None)  # not a previous fit's
            return self
        self.model_ = model
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.items()}
        self.n_epochs_ = len(next(iter(self.history_.values()), []))
        return self

    def _sample_weights(self, y_encoded, sample_weight, X):
        """Per-sample weights combining ``sample_weight`` and ``class_weight``."""
        weights = check_sample_weight(sample_weight, X, y_encoded, self.n_classes_)
        if self.class_weight is None:
            return weights
        if isinstance(self.class_weight, str):  # "balanced"
            per_class = compute_class_weight(
                "balanced", classes=np.arange(self.n_classes_), y=y_encoded
            )
        else:
            unknown = [k for k in self.class_weight if k not in set(self.classes_)]
            if unknown:
                raise ValueError(
                    f"class_weight names labels {unknown} that are not in y; the "
                    f"classes are {self.classes_.tolist()}. Use labels of y as "
                    "the dict keys."
                )
            per_class = np.array(
                [float(self.class_weight.get(c, 1.0)) for c in self.classes_]
            )
            if np.any(per_class < 0) or not np.all(np.isfinite(per_class)):
                raise ValueError(
                    "class_weight values must be finite and non-negative; got "
                    f"{self.class_weight!r}."
                )
        per_sample = per_class[y_encoded].astype(np.float32)
        return per_sample if weights is None else weights * per_sample

    @staticmethod
    def _channel_stats(images):
        """Per-channel (mean, variance) of images; variance floored at 1e-6."""
        mean = images.mean(axis=(0, 1, 2), dtype=np.float64)
        var = images.var(axis=(0, 1, 2), dtype=np.float64)
        return mean.tolist(), np.maximum(var, 1e-6).tolist()

    def _balance(self, X, y, weights, rng):
        """``model.fit`` arguments for the training data, balanced if asked.

        The balancer sees the original labels (so a ``sampling_strategy``
        dict keyed by them works) and, when its ``random_state`` is None,
        gets a seed from this estimator's. Sample weights follow the rows the
        balancer picked. Other imbalanced-learn samplers get flat rows.
        """
        if self.balancer is None:
            return dict(x=X, y=y, sample_weight=weights, batch_size=self.batch_size)
        balancer = clone(self.balancer)
        if balancer.get_params().get("random_state", 0) is None:
            balancer.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
        labels = self.classes_[y]
        if getattr(balancer, "stream", False):
            balancer.fit(X, labels)
            batches = balanced_batches(
                X, y, balancer, batch_size=self.batch_size, sample_weight=weights
            )
            self.balancer_ = balancer
            return dict(x=batches)
        if isinstance(balancer, ClassBalancer):
            X_res, labels_res = balancer.fit_resample(X, labels)
            rows = balancer.source_indices()
        else:
            X_res, labels_res = balancer.fit_resample(X.reshape(len(X), -1), labels)
            X_res = np.asarray(X_res).reshape(-1, *X.shape[1:])
            rows = getattr(balancer, "sample_indices_", None)
        if weights is not None:
            if rows is None:
                raise ValueError(
                    f"{type(balancer).__name__} creates new samples without "
                    "telling which input rows they come from, so sample_weight "
                    "and class_weight cannot follow them. Use a ClassBalancer, or "
                    "drop the weights (balancing usually replaces them)."
                )
            weights = weights[rows]
        self.balancer_ = balancer
        y_res = np.searchsorted(self.classes_, labels_res)
        return dict(x=X_res, y=y_res, sample_weight=weights, batch_size=self.batch_size)

    def _callbacks(self, has_validation):
        """The user's callbacks plus early stopping, when asked for."""
        keras = import_keras()
        callbacks = list(self.callbacks or [])
        if self.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss" if has_validation else "loss",
                    patience=self.patience,
                    restore_best_weights=True,
                )
            )
        return callbacks

    def _train(self, model, train_data, validation, epochs=None):
        history = model.fit(
            **train_data,
            validation_data=validation,
            epochs=self.epochs if epochs is None else epochs,
            shuffle=True,
            callbacks=self._callbacks(validation is not None),
            verbose=min(int(self.verbose), 2),
        )
        return history.history

    # -- predict -----------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities, one column per class in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features)
            Images of the same shape as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities (float64) that sum to 1 over each row.
        """
        check_is_fitted(self)
        X = validate_images(self, X, reset=False)
        # predict_on_batch skips model.predict's per-call set-up (~60x faster
        # on small batches); chunks bound the memory of large inputs.
        proba = np.concatenate(
            [
                np.asarray(self.model_.predict_on_batch(X[i : i + PREDICT_CHUNK]))
                for i in range(0, len(X), PREDICT_CHUNK)
            ]
        ).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels (of the same type as the labels in ``fit``).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, channels), \
(n_samples, height, width) or (n_samples, n_features)
            Images of the same shape as in ``fit``.

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
        from .persistence import save

        save(self, path)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": _model_to_bytes(state["model_"])}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _model_from_bytes(state["model_"])}
        super().__setstate__(state)
