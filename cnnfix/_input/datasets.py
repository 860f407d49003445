"""The ``tf.data`` pipelines cnnfix hands to ``model.fit``, and their options.

Keras makes a new ``tf.data`` iterator for every epoch (and for every
validation pass) and drops the old one. A pipeline with autotuning on has
a background thread that re-tunes it, sleeping longer and longer between
rounds, up to a minute; dropping the iterator waits for that thread to
wake. So arrays handed to Keras as they are lose up to a minute of idle
time per epoch on long epochs, and once more after the fit
(``benchmarks/bench_input.py``).

Every pipeline cnnfix makes therefore ends in :func:`finished`: autotuning
off, with the parallelism and the prefetch buffer set explicitly (on
arrays the epochs were no slower for it, the same benchmark; on plain PNG
files ``benchmarks/bench_paths.py`` measures it). Arrays go
through :func:`array_dataset` rather than Keras's own adapter, which turns
autotuning on.
"""

import os

import numpy as np

#: Batches a pipeline keeps ready ahead of the training step: enough to
#: hide one batch's gathering or decoding behind the step.
PREFETCH_BATCHES = 2


def parallel_calls():
    """Threads of a ``tf.data`` map that decodes files: one per CPU."""
    return max(1, os.cpu_count() or 1)


def finished(dataset):
    """``dataset`` prefetching :data:`PREFETCH_BATCHES` batches, with
    autotuning and the static graph rewrites off (the rewrites serialise
    the pipeline's graph, and with it any array it holds)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.prefetch(PREFETCH_BATCHES).with_options(options)


def array_dataset(X, y, sample_weight, *, batch_size, shuffle, seed=None):
    """A ``tf.data`` pipeline of batches ``(X, y[, sample_weight])`` of
    arrays in memory, gathered by index, so the arrays are held once.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Images.
    y : ndarray of shape (n_samples,)
        Targets.
    sample_weight : ndarray of shape (n_samples,) or None
        Per-sample weights; None leaves them out of the batches.
    batch_size : int
        Rows per batch; the last batch holds the rest.
    shuffle : bool
        Permute the rows anew every epoch (training data), or keep their
        order (validation data).
    seed : int or None, default=None
        The seed of the permutations; None draws one.

    Returns
    -------
    dataset : tf.data.Dataset
        Finished by :func:`finished`.
    """
    import tensorflow as tf

    columns = [X, y] + ([] if sample_weight is None else [sample_weight])
    columns = tuple(tf.convert_to_tensor(np.asarray(column)) for column in columns)
    rows = tf.data.Dataset.range(len(X))
    if shuffle:
        rows = rows.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)

    def gather(indices):
        return tuple(tf.gather(column, indices) for column in columns)

    return finished(rows.batch(batch_size).map(gather))


def batch_dataset(batches):
    """A ``tf.data`` pipeline of the batches of ``batches``, a ``RowBatches``
    (:func:`~cnnfix._input.batches.row_batches_class`) of arrays in memory:
    every epoch yields ``batches[0]``, ..., ``batches[len - 1]``, and every
    epoch after the first starts with ``batches.on_epoch_end()`` (a new
    draw of its rows). The batches are gathered in numpy,
    :data:`PREFETCH_BATCHES` ahead of the training step, so the arrays are
    never copied.

    Returns
    -------
    dataset : tf.data.Dataset
        Finished by :func:`finished`.
    """
    import tensorflow as tf

    signature = tuple(
        tf.TensorSpec((None, *np.shape(column)[1:]), tf.as_dtype(column.dtype))
        for column in map(np.asarray, batches[0])
    )
    started = []

    def epoch():
        if started:  # the first epoch takes the draw the batches were made with
            batches.on_epoch_end()
        started.append(True)
        yield from (batches[i] for i in range(len(batches)))

    dataset = tf.data.Dataset.from_generator(epoch, output_signature=signature)
    cardinality = tf.data.experimental.assert_cardinality(len(batches))
    return finished(dataset.apply(cardinality))
