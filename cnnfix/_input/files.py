"""Batches of file paths decoded on the fly, for ``model.fit`` and ``predict``.

When X is a 1-D array of file paths, the estimators never hold the decoded
data set: a ``keras.utils.PyDataset`` decodes each batch with
:func:`cnnfix._input.decode.read_images` (the same decoding, resizing and
colour rules as :func:`cnnfix.datasets.load_image_folder`, so a file gives
the same pixels either way) while Keras prefetches the next batches in
worker threads. Memory is bounded by the queue of prefetched batches,
whatever the number of files.

A PyDataset over Pillow, not a ``tf.data`` pipeline of ``tf.io.decode_png``
and ``tf.image.resize``, keeps one decoding rule: tf.data resizes
differently from Pillow, reads no TIFF and handles palettes and 16-bit
files its own way. Decoding overlaps training, and the thread and process
alternatives were no faster (``benchmarks/bench_paths.py``; the numbers are
in docs/benchmarks.md).

With ``cache=True`` (the estimators' ``cache`` parameter) each file is
decoded once: its uint8 pixels are kept in memory, by path, for the rest of
the fit, so the epochs after the first read no file. That costs
``height * width * channels`` bytes per distinct file plus about 200 bytes
of bookkeeping, freed when ``fit`` returns.

Shuffling: the rows are permuted anew every epoch from the fit's seed (a
PyDataset is not shuffled by Keras beyond the order of its batches).

Plain PNG files (:func:`cnnfix._input.headers.plain_pngs`: 8-bit grey or
RGB, at the wanted size, needing no colour conversion) take
:func:`png_dataset` instead, unless ``cache=True``: ``tf.data`` with
TensorFlow's own PNG decoder, as ``keras.utils.image_dataset_from_directory``
uses. The decoding rule still holds (PNG is lossless and such files need no
resizing or conversion, so every decoder gives the same pixels; a test
compares them), and the per-file work leaves Python, where it and the GIL
compete with the training loop for the cores.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from ..exceptions import UnreadableImageError
from .batches import row_batches_class
from .datasets import finished, parallel_calls
from .decode import read_images
from .headers import plain_pngs
from .policy import INPUT_POLICY


def is_path_array(X):
    """Whether X, as :func:`cnnfix._validation.validate_images` returned it,
    holds file paths (a 1-D array) rather than images."""
    return getattr(X, "ndim", None) == 1


def prefetching(policy):
    """The PyDataset arguments of a pipeline: half the CPUs as decoding
    threads (at least 1, at most 8), so that TensorFlow keeps the other half
    for training (on 2 cores one: more made the epoch slower,
    ``benchmarks/bench_paths.py``), each keeping ``policy.queue_per_worker``
    batches ahead."""
    n_workers = max(1, min(8, (os.cpu_count() or 1) // 2))
    return dict(workers=n_workers, max_queue_size=policy.queue_per_worker * n_workers)


def decode(paths, image_shape, cache=None):
    """Decode ``paths`` into float32 images of ``image_shape`` (h, w, c).

    ``cache``, a dict, maps paths to their decoded uint8 pixels: files found
    there are not read again, and the others are added to it.

    Raises :class:`~cnnfix.exceptions.UnreadableImageError` naming the files
    that cannot be read, with what to do about them in an estimator.
    """
    if cache is None:
        return _read(paths, image_shape).astype(np.float32)
    missing = list(dict.fromkeys(p for p in paths if p not in cache))
    if missing:
        cache.update(zip(missing, _read(missing, image_shape), strict=True))
    return np.stack([cache[p] for p in paths]).astype(np.float32)


def _read(paths, image_shape):
    """uint8 images of ``image_shape`` decoded from ``paths``, grey for one
    channel, else RGB."""
    mode = "grayscale" if image_shape[2] == 1 else "rgb"
    try:
        return read_images(paths, image_shape[:2], mode, n_jobs=1)
    except UnreadableImageError as error:
        raise unreadable_in_X(error) from error


def unreadable_in_X(error):
    """The :class:`~cnnfix.exceptions.UnreadableImageError` an estimator
    raises for files of X that ``error`` (from :func:`read_images`) names:
    which files, why, and what to do in an estimator."""
    cause = error.__cause__ or error.__context__
    why = f" ({type(cause).__name__}: {cause})" if cause else ""
    return UnreadableImageError(
        f"Could not read {len(error.paths)} image file(s) given as X: "
        f"{named(error.paths)}{why}. Remove or replace "
        'them; cnnfix.datasets.load_image_folder(folder, on_error="warn") '
        "lists every unreadable file of a folder and leaves them out.",
        error.paths,
    )


def named(paths, shown=10):
    """The first ``shown`` of ``paths``, quoted, and how many more, for a
    message that stays readable for a thousand files."""
    more = len(paths) - shown
    return ", ".join(map(repr, paths[:shown])) + (
        f" and {more} more" if more > 0 else ""
    )


def normalization_sample(paths, image_shape, seed, policy=INPUT_POLICY):
    """Decoded images for the normalisation statistics: every file when there
    are at most ``policy.normalization_sample``, in their order (so the
    statistics equal those of the decoded array), else a random sample of
    that many drawn with ``seed``."""
    n_sample = policy.normalization_sample
    if len(paths) > n_sample:
        rng = np.random.default_rng(seed)
        paths = paths[np.sort(rng.choice(len(paths), n_sample, replace=False))]
    return decode(paths, image_shape)


def path_batches(paths, y, sample_weight, image_shape, batch_size, seed, cache, policy):
    """Batches ``(images, y[, sample_weight])`` of ``paths``, permuted every
    epoch unless ``seed`` is None: a :func:`png_dataset` for plain PNG files
    without a ``cache`` dict, else ``RowBatches``
    (:func:`cnnfix._input.batches.row_batches_class`)."""
    if cache is None and plain_pngs(paths, image_shape):
        return png_dataset(paths, y, sample_weight, image_shape, batch_size, seed)
    order = np.arange if seed is None else np.random.default_rng(seed).permutation
    draw = partial(order, len(paths))
    load = partial(decode, image_shape=tuple(image_shape), cache=cache)
    return row_batches_class()(
        paths, y, sample_weight, batch_size, draw, load, **prefetching(policy)
    )


def decoded_chunks(paths, image_shape, policy=INPUT_POLICY):
    """Decoded images of ``paths`` in order, in chunks of at most
    ``policy.predict_bytes`` (and ``policy.predict_rows`` rows); the next
    chunk is decoded in a thread while the caller uses the current one."""
    per_image = 4 * int(np.prod(image_shape))
    rows = max(1, min(policy.predict_rows, policy.predict_bytes // per_image))
    chunks = [paths[i : i + rows] for i in range(0, len(paths), rows)]
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(decode, chunks[0], image_shape)
        for chunk in chunks[1:]:
            current, pending = pending.result(), pool.submit(decode, chunk, image_shape)
            yield current
        yield pending.result()


def png_dataset(paths, y, sample_weight, image_shape, batch_size, seed):
    """A ``tf.data`` pipeline of batches ``(images, y[, sample_weight])``
    decoded from plain PNG files (:func:`cnnfix._input.headers.plain_pngs`) by
    TensorFlow's PNG decoder, in parallel threads outside Python; the rows
    are shuffled anew every epoch from ``seed`` unless it is None.

    The pixels equal :func:`cnnfix._input.decode.read_images`'s (plain PNG files
    need no resizing or colour conversion, and PNG is lossless); only the
    work moves out of Python, where per-file overhead and the GIL, not
    decoding, made the PyDataset slower than the decoded array.
    """
    import tensorflow as tf

    files = tf.constant(np.asarray(paths, dtype=str))
    columns = [tf.constant(y)]
    if sample_weight is not None:
        columns.append(tf.constant(np.asarray(sample_weight, dtype=np.float32)))
    rows = tf.data.Dataset.range(len(paths))
    if seed is not None:
        rows = rows.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def load(i):
        image = tf.io.decode_png(tf.io.read_file(files[i]), channels=image_shape[2])
        image = tf.ensure_shape(tf.cast(image, tf.float32), image_shape)
        return (image, *(column[i] for column in columns))

    loaded = rows.map(load, num_parallel_calls=parallel_calls(), deterministic=True)
    return finished(loaded.batch(batch_size))
