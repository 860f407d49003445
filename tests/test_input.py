"""The input path's entry points (cnnfix._input.pipeline), on values: no
estimator and no training."""

import dataclasses
import itertools

import numpy as np
import pytest
from PIL import Image

from cnnfix import ClassBalancer
from cnnfix._input import INPUT_POLICY, InputPolicy, working_size
from cnnfix._input.pipeline import (
    channel_stats,
    content_order,
    normalization,
    prediction_chunks,
    training_arguments,
    validation_data,
)


@pytest.fixture
def pngs(tmp_path):
    """Ten 6x5 grey PNG files (as an object array of paths) and their pixels."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (10, 6, 5), np.uint8)
    paths = []
    for i, image in enumerate(pixels):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    return np.array(paths, dtype=object), pixels[..., None]


def test_the_policy_is_frozen_and_passed_by_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        INPUT_POLICY.predict_rows = 1
    assert InputPolicy(predict_rows=7).predict_rows == 7
    assert InputPolicy().process_files == INPUT_POLICY.process_files


def test_normalization_of_files_equals_that_of_their_pixels(pngs):
    paths, pixels = pngs
    expected = channel_stats(pixels.astype(np.float32))
    on_files = normalization(paths, image_shape=(6, 5, 1), seed=0)
    np.testing.assert_allclose(on_files, expected)
    np.testing.assert_allclose(
        normalization(pixels, image_shape=None, seed=0), expected
    )


def test_normalization_of_many_files_uses_a_seeded_sample(pngs):
    paths, pixels = pngs
    small = InputPolicy(normalization_sample=4)
    first = normalization(paths, image_shape=(6, 5, 1), seed=1, policy=small)
    again = normalization(paths, image_shape=(6, 5, 1), seed=1, policy=small)
    assert first == again
    samples = [
        channel_stats(pixels[list(rows)].astype(np.float32))
        for rows in itertools.combinations(range(10), 4)
    ]
    assert any(np.allclose(first, sample) for sample in samples)
    assert not np.allclose(first, channel_stats(pixels.astype(np.float32)))


def test_channel_stats_floor_the_variance():
    mean, var = channel_stats(np.full((3, 2, 2, 2), 5.0))
    assert mean == [5.0, 5.0] and var == [1e-6, 1e-6]


def test_prediction_chunks_bound_the_rows(pngs):
    paths, pixels = pngs
    seven = InputPolicy(predict_rows=7)
    chunks = list(prediction_chunks(pixels, (6, 5, 1), seven))
    assert [len(c) for c in chunks] == [7, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), pixels)
    decoded = list(prediction_chunks(paths, (6, 5, 1), seven))
    assert [len(c) for c in decoded] == [7, 3]
    assert decoded[0].dtype == np.float32
    np.testing.assert_array_equal(np.concatenate(decoded), pixels)


def test_content_order_follows_the_rows_not_their_positions(pngs):
    paths, pixels = pngs
    shuffled = np.random.default_rng(0).permutation(len(pixels))
    for X in (pixels, paths):
        order = content_order(X)
        assert sorted(order) == list(range(len(X)))
        # the same rows, shuffled, come out in the same sequence
        np.testing.assert_array_equal(X[shuffled][content_order(X[shuffled])], X[order])
    chunks = prediction_chunks(paths, (6, 5, 1), order=content_order(paths))
    np.testing.assert_array_equal(
        np.concatenate(list(chunks)), pixels[content_order(paths)]
    )


def epoch(dataset):
    """One pass over a ``tf.data`` pipeline: its columns, concatenated."""
    batches = [[np.asarray(column) for column in batch] for batch in dataset]
    return [np.concatenate(column) for column in zip(*batches, strict=True)]


def test_validation_data_batch_arrays_in_order_and_decode_files(pngs):
    paths, pixels = pngs
    y = np.arange(10) % 2
    assert (
        validation_data(None, image_shape=(6, 5, 1), batch_size=4, cache=False) is None
    )
    weights = np.linspace(0.5, 1.5, 10, dtype=np.float32)
    dataset = validation_data(
        (pixels, y, weights), image_shape=(6, 5, 1), batch_size=4, cache=False
    )
    assert [len(batch[1]) for batch in dataset] == [4, 4, 2]
    for got, given in zip(epoch(dataset), (pixels, y, weights), strict=True):
        np.testing.assert_array_equal(got, given)  # in order, every epoch
    batches = validation_data(
        (paths, y, None), image_shape=(6, 5, 1), batch_size=4, cache=True
    )
    images = np.concatenate([batches[i][0] for i in range(len(batches))])
    np.testing.assert_array_equal(images, pixels)  # in order, once each


def arguments_of(X, y, weights, seed, balancer=None):
    return training_arguments(
        X,
        y,
        weights,
        classes=np.array(["a", "b"]),
        balancer=balancer,
        batch_size=3,
        seed=seed,
        image_shape=X.shape[1:],
        cache=False,
    )


def test_training_arguments_without_a_balancer_reshuffle_the_rows_every_epoch():
    X = np.arange(40, dtype=np.float32).reshape(10, 2, 2, 1)
    y, weights = np.arange(10) % 2, np.arange(10, dtype=np.float32)
    arguments, fitted = arguments_of(X, y, weights, seed=3)
    assert fitted is None
    assert set(arguments) == {"x", "shuffle"} and arguments["shuffle"] is False
    first, second = epoch(arguments["x"]), epoch(arguments["x"])
    for images, labels, w in (first, second):
        order = w.astype(int)  # every row once, with its label and weight
        np.testing.assert_array_equal(np.sort(order), np.arange(10))
        np.testing.assert_array_equal(images, X[order])
        np.testing.assert_array_equal(labels, y[order])
    assert not np.array_equal(first[2], second[2])  # a new order each epoch
    again = epoch(arguments_of(X, y, weights, seed=3)[0]["x"])
    np.testing.assert_array_equal(again[2], first[2])  # the seed's orders


def test_streamed_balancing_of_arrays_draws_every_epoch_anew():
    X = np.arange(48, dtype=np.float32).reshape(12, 2, 2, 1)
    y = (np.arange(12) >= 9).astype(int)  # 9 of "a", 3 of "b"
    weights = np.arange(12, dtype=np.float32)
    stream = ClassBalancer(strategy="oversample", stream=True)
    arguments, fitted = arguments_of(X, y, weights, seed=3, balancer=stream)
    assert set(arguments) == {"x", "shuffle"} and arguments["shuffle"] is False
    assert fitted is not stream and fitted.random_state == 3
    draws = [epoch(arguments["x"]) for _ in range(3)]
    for images, labels, w in draws:
        rows = w.astype(int)  # the drawn rows, with their labels and weights
        np.testing.assert_array_equal(images, X[rows])
        np.testing.assert_array_equal(labels, y[rows])
        np.testing.assert_array_equal(np.bincount(labels), [9, 9])
        assert set(rows[labels == 1]) == {9, 10, 11}
    assert not np.array_equal(draws[0][2], draws[1][2])  # a new draw each epoch
    again = arguments_of(X, y, weights, seed=3, balancer=stream)[0]["x"]
    np.testing.assert_array_equal(epoch(again)[2], draws[0][2])  # the seed's


def test_pipelines_handed_to_keras_run_without_autotuning(pngs):
    """tf.data's autotuning thread makes dropping an iterator wait for its
    next round (up to a minute), and Keras drops one every epoch."""
    paths, pixels = pngs
    y = np.arange(10) % 2
    training, _ = arguments_of(pixels.astype(np.float32), y, None, seed=0)
    validation = validation_data(
        (pixels, y, None), image_shape=(6, 5, 1), batch_size=4, cache=False
    )
    plain_pngs = training_arguments(
        paths,
        y,
        None,
        classes=np.array(["a", "b"]),
        balancer=None,
        batch_size=4,
        seed=0,
        image_shape=(6, 5, 1),
        cache=False,
    )[0]["x"]
    streamed, _ = arguments_of(
        pixels.astype(np.float32), y, None, seed=0, balancer=ClassBalancer(stream=True)
    )
    for dataset in (training["x"], validation, plain_pngs, streamed["x"]):
        assert dataset.options().autotune.enabled is False


def test_working_size_keeps_the_median_aspect_and_caps_the_longer_side():
    landscape = [(300, 400), (150, 200), (480, 640), (400, 300)]
    assert working_size(landscape, max_side=64) == (48, 64)
    assert working_size([(400, 300)] * 3 + [(300, 400)], max_side=96) == (96, 72)
    # Small images are never enlarged: the median longer side is below the cap.
    assert working_size([(24, 32), (30, 40)], max_side=64) == (27, 36)
    assert working_size([(10, 1000)], max_side=64) == (8, 64)  # aspect floor 1:8


def test_working_size_follows_the_bulk_not_the_files_that_share_a_size():
    rng = np.random.default_rng(0)
    heights, widths = rng.integers(150, 300, 300), rng.integers(200, 400, 300)
    sizes = [(int(h), int(w)) for h, w in zip(heights, widths, strict=True)]
    chosen = working_size(sizes, max_side=64)
    assert chosen == (48, 64)
    # Two files sharing a size (the old "most common") change nothing.
    assert working_size([*sizes, (151, 399), (151, 399)], max_side=64) == chosen
    # Every training part of a 5-fold split picks the same size.
    folds = [[s for i, s in enumerate(sizes) if i % 5 != k] for k in range(5)]
    assert [working_size(fold, max_side=64) for fold in folds] == [chosen] * 5


def test_working_size_refuses_what_is_not_a_list_of_sizes():
    with pytest.raises(ValueError, match="max_side must be a positive int"):
        working_size([(2, 2)], max_side=0)
    with pytest.raises(ValueError, match=r"non-empty list of \(height, width\)"):
        working_size([], max_side=8)
