"""The entry points of the estimators: their data, as Keras takes it.

Each takes values, not an estimator: images (or a 1-D array of file
paths, :func:`~cnnfix._input.files.is_path_array`) and the parameters that
shape them. Paths stay paths through the split and the balancing (rows
like any other); only where pixels are needed are they decoded, batch by
batch (:mod:`cnnfix._input.files`).
"""

import hashlib
from functools import partial

import numpy as np
from sklearn.base import clone

from .batches import balanced_batches, resample, row_batches_class
from .datasets import array_dataset, batch_dataset
from .files import (
    decode,
    decoded_chunks,
    is_path_array,
    normalization_sample,
    path_batches,
    prefetching,
)
from .policy import INPUT_POLICY


def training_arguments(
    X,
    y,
    sample_weight,
    *,
    classes,
    balancer,
    batch_size,
    seed,
    image_shape,
    cache,
    policy=INPUT_POLICY,
):
    """``model.fit`` data arguments for a training part, balanced if asked.

    The one place where the CNN estimators' training data meet their
    ``balancer``: the balancer is cloned and fitted on the *original* labels
    (so a ``sampling_strategy`` dict keyed by them works), the model gets the
    encoded ones, and sample weights follow the rows the balancer picked.
    File paths are resampled as rows, then decoded batch by batch
    (:func:`~cnnfix._input.files.path_batches`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, height, width, channels) or (n_samples,)
        Training images, or file paths (decoded batch by batch, to
        ``image_shape``).
    y : ndarray of shape (n_samples,)
        Encoded labels: positions in ``classes``.
    sample_weight : ndarray of shape (n_samples,) or None
        Per-sample weights (see :func:`~cnnfix._input.split.sample_weights`).
    classes : ndarray of shape (n_classes,)
        The original labels, sorted; a balancer is fitted on them.
    balancer : ClassBalancer, imbalanced-learn sampler or None
        The estimator's ``balancer``, cloned, never fitted itself. None
        trains on the data as they are. A ``ClassBalancer`` with
        ``stream=True`` draws balanced batches by index
        (:func:`~cnnfix._input.batches.balanced_batches`); any other sampler
        resamples the arrays (:func:`~cnnfix._input.batches.resample`).
    batch_size : int
        Images per gradient step.
    seed : int or None
        The fit's seed: of the balancer (when its own is None) and of the
        order of decoded batches.
    image_shape : tuple of (int, int, int)
        ``(height, width, channels)`` that file paths are decoded to.
    cache : bool
        Keep each decoded file in memory for the later epochs.
    policy : InputPolicy, default=INPUT_POLICY
        How files are decoded and queued.

    Returns
    -------
    arguments : dict
        Keyword arguments for ``model.fit``: ``x`` only, a ``tf.data``
        pipeline that shuffles itself every epoch for images
        (:func:`~cnnfix._input.datasets.array_dataset`) and for plain PNG
        files (:func:`~cnnfix._input.files.png_dataset`), with
        ``shuffle=False``; for streamed balanced batches of images, a
        ``tf.data`` pipeline of them
        (:func:`~cnnfix._input.datasets.batch_dataset`), also with
        ``shuffle=False``; a ``keras.utils.PyDataset`` for streamed file
        paths and other file paths.
    fitted_balancer : ClassBalancer, sampler or None
        The fitted clone of ``balancer``.
    """
    balancer = None if balancer is None else clone(balancer)
    if balancer is not None and balancer.get_params().get("random_state", 0) is None:
        balancer.set_params(random_state=seed)
    store = {} if cache else None
    if getattr(balancer, "stream", False):
        labels = classes[y]
        batches = balanced_batches(
            X,
            labels,
            balancer.fit(X, labels),
            batch_size=batch_size,
            sample_weight=sample_weight,
            targets=y,
        )
        if is_path_array(X):  # from then on, the batches decode their paths
            batches.load = partial(decode, image_shape=tuple(image_shape), cache=store)
            for name, value in prefetching(policy).items():
                setattr(batches, name, value)  # its workers and queue
            return dict(x=batches), balancer
        return dict(x=batch_dataset(batches), shuffle=False), balancer
    if balancer is not None:
        X, y, sample_weight = resample(balancer, X, y, classes, sample_weight)
    if is_path_array(X):
        batches = path_batches(
            X, y, sample_weight, image_shape, batch_size, seed, store, policy
        )
        if isinstance(batches, row_batches_class()):
            return dict(x=batches), balancer
        return dict(x=batches, shuffle=False), balancer  # tf.data shuffles itself
    dataset = array_dataset(
        X, y, sample_weight, batch_size=batch_size, shuffle=True, seed=seed
    )
    return dict(x=dataset, shuffle=False), balancer  # tf.data shuffles itself


def validation_data(part, *, image_shape, batch_size, cache, policy=INPUT_POLICY):
    """``validation_data`` for ``model.fit`` from ``part`` = ``(X, y,
    sample_weight)`` or None: batches in order, of the images
    (:func:`~cnnfix._input.datasets.array_dataset`) or decoded from the file
    paths (each file once, with ``cache``)."""
    if part is None:
        return None
    if not is_path_array(part[0]):
        return array_dataset(*part, batch_size=batch_size, shuffle=False)
    store = {} if cache else None
    return path_batches(*part, image_shape, batch_size, None, store, policy)


def normalization(X, *, image_shape, seed, policy=INPUT_POLICY):
    """Per-channel ``(mean, variance)`` lists of training images ``X``; for
    file paths, of a decoded sample of them
    (:func:`~cnnfix._input.files.normalization_sample`)."""
    if is_path_array(X):
        X = normalization_sample(X, image_shape, seed, policy)
    return channel_stats(X)


def channel_stats(images):
    """Per-channel (mean, variance) of images, as lists; the variance is
    floored at 1e-6 so that a constant channel does not divide by zero."""
    mean = images.mean(axis=(0, 1, 2), dtype=np.float64)
    var = images.var(axis=(0, 1, 2), dtype=np.float64)
    return mean.tolist(), np.maximum(var, 1e-6).tolist()


def content_order(X):
    """An order of ``X``'s rows (images or file paths) that depends only on
    their contents: a forward pass's rounding depends on a row's neighbours
    in its batch, so predicting in this order makes the probabilities of a
    row the same in every permutation of ``X``."""
    if is_path_array(X):
        rows = (str(path).encode() for path in X)
    else:
        rows = (row.tobytes() for row in X.reshape(len(X), -1))
    keys = [hashlib.blake2b(row, digest_size=8).digest() for row in rows]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.intp)


def prediction_chunks(X, image_shape, policy=INPUT_POLICY, *, order=None):
    """``X``'s rows in ``order`` (all, as given, by default) in chunks for
    ``predict_on_batch``: at most ``policy.predict_rows`` rows of images,
    which bounds the memory of one forward pass; file paths decoded chunk
    by chunk (:func:`~cnnfix._input.files.decoded_chunks`)."""
    order = np.arange(len(X)) if order is None else order
    if is_path_array(X):
        return decoded_chunks(X[order], image_shape, policy)
    rows = policy.predict_rows
    return (X[order[i : i + rows]] for i in range(0, len(X), rows))
