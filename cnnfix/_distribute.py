"""One fit on several devices: the estimators' ``distribution`` parameter.

``distribution`` turns into a ``tf.distribute`` strategy here
(:func:`distribution_strategy`), after the checks that give clear errors:
devices that exist, a batch that splits evenly over the replicas, no
joblib parallelism around it. :func:`strategy_scope` is the block in which
the model is built, compiled and trained; :func:`even_batches` keeps every
batch of a ``keras.utils.PyDataset`` divisible by the replicas; and
:func:`LeftBehind` stands for a strategy in a pickle.

The rules users feel:

- ``batch_size`` is the global batch: each gradient step takes
  ``batch_size`` images and gives ``batch_size / n_replicas`` to each
  replica, then averages the gradients. One step sees the same images as on
  one device, so ``learning_rate`` needs no change. To keep each device as
  busy as one device alone was, multiply ``batch_size`` by the replicas and
  ``learning_rate`` by the same factor (the linear scaling rule; warm up
  for large factors). Batch normalisation computes its statistics per
  replica, on ``batch_size / n_replicas`` images.
- Batches from a PyDataset (file paths, streamed balanced batches of them) whose
  size does not divide by the replicas (the last of an epoch) are padded
  with repeated rows of weight 0, because TensorFlow fails on such
  batches from Python; arrays and ``tf.data`` pipelines split unevenly by
  themselves.
- The fitted model is rebuilt outside the strategy (:func:`one_device`):
  it pickles, saves and predicts on one device.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache

import numpy as np
from joblib.parallel import get_active_backend

from ._archive import model_from_bytes, model_to_bytes
from ._keras import import_keras

#: The named values of ``distribution`` (besides None, devices and a strategy).
DISTRIBUTIONS = ("mirrored",)


@dataclass(frozen=True)
class LeftBehind:
    """What a pickle holds in place of a ``tf.distribute`` strategy.

    A strategy holds devices of the process that made it and cannot be
    pickled; an estimator pickled with one (by joblib, say) arrives with
    this, which predicts fine and whose ``fit`` raises a clear error.
    """

    name: str

    def __repr__(self):
        return f"LeftBehind({self.name!r})"


def is_strategy(value):
    """Whether ``value`` is a ``tf.distribute.Strategy`` (duck-typed, so
    that TensorFlow need not be imported to tell)."""
    return hasattr(value, "scope") and hasattr(value, "num_replicas_in_sync")


def left_behind(distribution):
    """``distribution`` as it may be pickled: a strategy becomes a
    :class:`LeftBehind` naming its class; anything else stays."""
    if is_strategy(distribution):
        return LeftBehind(type(distribution).__name__)
    return distribution


def in_parallel_worker():
    """Whether this code runs inside a worker of a parallel joblib call
    (loky, threading, multiprocessing or dask), where other fits run at
    the same time."""
    return (getattr(get_active_backend()[0], "nesting_level", 0) or 0) > 0


def distribution_strategy(distribution, *, batch_size, owner):
    """The ``tf.distribute`` strategy of ``distribution``, checked; None
    for None.

    Parameters
    ----------
    distribution : None, "mirrored", list of str or tf.distribute.Strategy
        An estimator's ``distribution`` parameter.
    batch_size : int
        The estimator's global ``batch_size``; it must divide by the
        strategy's replicas.
    owner : str
        The estimator's class name, for the messages.

    Raises
    ------
    ValueError
        For a strategy left behind by a pickle, a strategy inside a parallel
        joblib worker, devices that do not exist, several machines, or a
        batch size that does not divide by the replicas.
    """
    if distribution is None:
        return None
    # Where distribution cannot be used in this process: inside a parallel
    # joblib call, or a strategy left behind by a pickle.
    if in_parallel_worker():
        raise ValueError(
            f"{owner}(distribution={_shown(distribution)}) spreads one fit over "
            "several devices, but this fit runs in a worker of a parallel "
            "joblib call (n_jobs > 1, as in GridSearchCV or cross_val_score), "
            "where other fits claim the same devices. Either keep "
            "distribution and run the fits one after another (n_jobs=1), or "
            "run them in parallel on one device each (distribution=None)."
        )
    if isinstance(distribution, LeftBehind):
        raise ValueError(
            f"{owner}'s distribution is a {distribution.name} left behind in "
            "the process that pickled this estimator (a strategy holds that "
            "process's devices and cannot be pickled). To fit here, pass a "
            "new one: set_params(distribution='mirrored'), a strategy made in "
            "this process, or None for one device."
        )
    import_keras()  # TensorFlow's logging quieted first
    if isinstance(distribution, str):
        strategy = mirrored_strategy(None)
    elif is_strategy(distribution):
        strategy = distribution
        devices = list(strategy.extended.worker_devices)
        _check_devices(devices, f"the {type(strategy).__name__}", owner)
        # Keras 3's model.fit cannot reduce its metrics across machines.
        resolver = getattr(strategy, "cluster_resolver", None)
        spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
        machines = sum(len(tasks) for tasks in spec.values())
        if machines > 1:
            raise ValueError(
                f"{owner}'s distribution is a {type(strategy).__name__} over "
                f"{machines} machines (TF_CONFIG), and Keras "
                f"{import_keras().__version__}'s model.fit cannot train under "
                "one: it reduces each step's metrics across workers on axis 0 "
                "of a scalar and fails "
                "(keras-team/keras#20585). Train on the devices of one machine "
                "(distribution='mirrored'), or spread many fits over machines "
                "with joblib's dask backend instead (see the parallel page)."
            )
    else:
        devices = tuple(str(d) for d in distribution)
        _check_devices(devices, f"distribution={list(devices)!r}", owner)
        strategy = mirrored_strategy(devices)
    n_replicas = strategy.num_replicas_in_sync
    if batch_size % n_replicas:
        lower = batch_size - batch_size % n_replicas
        raise ValueError(
            f"{owner}'s batch_size={batch_size} does not split evenly over the "
            f"{n_replicas} replicas of distribution={_shown(distribution)}: each "
            "gradient step gives batch_size / n_replicas images to every "
            f"replica. Use a multiple of {n_replicas}, such as "
            f"{lower or n_replicas} or {lower + n_replicas}."
        )
    return strategy


@cache
def mirrored_strategy(devices):
    """The process's one ``MirroredStrategy`` over ``devices`` (a tuple;
    None for every GPU, else every logical CPU): several strategies in one
    process reuse the keys of their collective operations and clash."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=devices)


def _shown(distribution):
    if is_strategy(distribution):
        return type(distribution).__name__
    return repr(distribution)


def _check_devices(devices, named, owner):
    """Raise unless every one of ``devices`` is a logical device here."""
    import tensorflow as tf

    def key(name):  # (type, index) of a device name; None if it is not one
        try:
            spec = tf.DeviceSpec.from_string(name)
        except ValueError:
            return None
        return spec.device_type, spec.device_index or 0

    here = tf.config.list_logical_devices()
    known = {key(d.name) for d in here}
    missing = [device for device in devices if key(device) not in known]
    if missing:
        available = [d.name.removeprefix("/device:") for d in here]
        raise ValueError(
            f"{owner}'s {named} names devices that this machine does not "
            f"have: {missing}. Available: {available}. Name some of those "
            '("/gpu:0", "/cpu:0"), or pass distribution=\'mirrored\' for '
            "every GPU."
        )


def strategy_scope(strategy):
    """The block in which a model is built, compiled and trained under
    ``strategy`` (nothing for None)."""
    return nullcontext() if strategy is None else strategy.scope()


def one_device(model, strategy):
    """``model`` rebuilt outside ``strategy`` (as it is for None): it then
    predicts on one device, where a mirrored model's ``predict_on_batch``
    returns each row once per replica."""
    return model if strategy is None else model_from_bytes(model_to_bytes(model))


def even_batches(data, validation):
    """``model.fit``'s ``data`` (a dict) and ``validation_data`` with every
    PyDataset wrapped so that its batches divide by the replicas of the
    current strategy (see the module's docstring); unchanged on one."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync  # 1 outside any
    if replicas == 1:
        return data, validation
    dataset, padded = import_keras().utils.PyDataset, padded_batches_class()

    def even(source):
        return padded(source, replicas) if isinstance(source, dataset) else source

    return {**data, "x": even(data["x"])}, even(validation)


def pad_batch(batch, replicas):
    """``(x, y[, sample_weight])`` as ``(x, y, sample_weight)`` with rows
    repeated at weight 0 up to a multiple of ``replicas``."""
    x, y, *rest = batch
    weights = rest[0] if rest else np.ones(len(y), dtype=np.float32)
    missing = -len(y) % replicas
    if not missing:
        return x, y, weights
    rows = np.arange(missing) % len(y)
    return (
        np.concatenate([x, np.take(x, rows, axis=0)]),
        np.concatenate([y, np.take(y, rows)]),
        np.concatenate([weights, np.zeros(missing, dtype=np.asarray(weights).dtype)]),
    )


@cache
def padded_batches_class():
    """The ``PaddedBatches`` PyDataset class (defined on first use)."""
    keras = import_keras()

    class PaddedBatches(keras.utils.PyDataset):
        """``source``'s batches padded by :func:`pad_batch`."""

        def __init__(self, source, replicas):
            super().__init__(
                workers=source.workers,
                use_multiprocessing=source.use_multiprocessing,
                max_queue_size=source.max_queue_size,
            )
            self.source, self.replicas = source, replicas

        def __len__(self):
            return len(self.source)

        def __getitem__(self, i):
            return pad_batch(self.source[i], self.replicas)

        def on_epoch_begin(self):
            self.source.on_epoch_begin()

        def on_epoch_end(self):
            self.source.on_epoch_end()

    return PaddedBatches
