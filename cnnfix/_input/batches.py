"""Balanced training data, and the batches of rows ``model.fit`` takes.

The CNN estimators' ``balancer``
(:func:`cnnfix._input.pipeline.training_arguments`) is none, a sampler
that resamples the arrays once (:func:`resample`), or a
:class:`~cnnfix.balance.ClassBalancer` with ``stream=True``, whose
:func:`balanced_batches` draw class-balanced mini-batches by index every
epoch, so that data too large to hold twice are never copied.
"""

from functools import cache, partial

import numpy as np
from sklearn.utils import check_random_state

from .._keras import import_keras


def resample(balancer, X, y, classes, sample_weight):
    """``(X, y, sample_weight)`` resampled by a fresh ``balancer``, fitted on
    the original labels ``classes[y]``; ``y`` comes back encoded, and the
    weights follow the input row behind each output row.

    A sampler with ``source_indices`` (a :class:`~cnnfix.balance.ClassBalancer`)
    takes the images as they are; any other gets flat rows, since
    imbalanced-learn's take 2-D arrays only, and says which rows it drew in
    ``sample_indices_`` if at all: a sampler that does not cannot carry
    weights."""
    labels = classes[y]
    if callable(getattr(balancer, "source_indices", None)):
        X_res, labels_res = balancer.fit_resample(X, labels)
        rows = balancer.source_indices()
    else:
        X_res, labels_res = balancer.fit_resample(X.reshape(len(X), -1), labels)
        X_res = np.asarray(X_res).reshape(-1, *X.shape[1:])
        rows = getattr(balancer, "sample_indices_", None)
    if sample_weight is not None:
        if rows is None:
            raise ValueError(
                f"{type(balancer).__name__} creates new samples without "
                "telling which input rows they come from, so sample_weight "
                "and class_weight cannot follow them. Use a ClassBalancer, or "
                "drop the weights (balancing usually replaces them)."
            )
        sample_weight = sample_weight[rows]
    # classes is sorted, so searchsorted gives the same encoding as y's.
    y_res = y[rows] if rows is not None else np.searchsorted(classes, labels_res)
    return X_res, y_res, sample_weight


def balanced_batches(
    X, y, balancer, *, batch_size=32, sample_weight=None, targets=None
):
    """Class-balanced mini-batches drawn by index, without copying the data.

    Returns a ``keras.utils.PyDataset`` that every epoch draws the row
    indices of a resampled epoch (:meth:`ClassBalancer.resample_indices`)
    and gathers one batch at a time, so peak memory is the input plus a few
    batches, whatever the imbalance. Of arrays in memory, Keras gets its
    batches through :func:`~cnnfix._input.datasets.batch_dataset`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Training images, kept by reference and never copied.
    y : ndarray of shape (n_samples,)
        Labels, the ones ``balancer`` was fitted on.
    balancer : ClassBalancer
        A balancer fitted on ``(X, y)`` with an index-based strategy.
    batch_size : int, default=32
        Images per batch.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Per-sample weights, gathered with each batch.
    targets : ndarray of shape (n_samples,) or None, default=None
        What the batches yield as labels, row for row (for example labels
        encoded as 0..k-1 for a Keras model); None yields ``y``.

    Returns
    -------
    batches : keras.utils.PyDataset
        Yields ``(X_batch, targets_batch)`` or ``(X_batch, targets_batch,
        w_batch)``.
    """
    if balancer.strategy == "smote":
        raise ValueError(
            "stream=True draws existing rows by index and cannot create SMOTE "
            "images; use strategy='oversample', 'undersample' or 'hybrid' with "
            "stream=True, or stream=False with SMOTE."
        )
    targets = y if targets is None else np.asarray(targets)
    # One generator for the whole run: every epoch draws anew.
    rng = check_random_state(balancer.random_state)
    draw = partial(balancer.resample_indices, y, rng)
    batches = row_batches_class()(X, targets, sample_weight, batch_size, draw)
    batches.sort_rows = True  # gathers from an array in memory faster
    return batches


@cache
def row_batches_class():
    """The ``RowBatches`` PyDataset class (defined on first use: Keras
    loads with the first fit, not with cnnfix)."""
    keras = import_keras()

    class RowBatches(keras.utils.PyDataset):
        """Batches ``(load(X[rows]), y[rows][, sample_weight[rows]])`` of
        ``batch_size`` rows, in the order (``indices``) that ``draw()`` gives
        anew every epoch, sorted within each batch if ``sort_rows``.
        ``prefetch`` (workers, queue) goes to the PyDataset."""

        sort_rows = False

        def __init__(
            self, X, y, sample_weight, batch_size, draw, load=np.asarray, **prefetch
        ):
            super().__init__(**prefetch)
            self.X, self.y, self.sample_weight = X, y, sample_weight
            self.batch_size, self.draw, self.load = batch_size, draw, load
            self.on_epoch_end()

        def __len__(self):
            return -(-len(self.indices) // self.batch_size)

        def __getitem__(self, i):
            rows = self.indices[i * self.batch_size : (i + 1) * self.batch_size]
            rows = np.sort(rows) if self.sort_rows else rows
            weights = () if self.sample_weight is None else (self.sample_weight[rows],)
            return (self.load(self.X.take(rows, axis=0)), self.y[rows], *weights)

        def on_epoch_end(self):
            self.indices = self.draw()

    return RowBatches
