"""The shared CNN builder."""

import keras
import numpy as np
import pytest

from cnnfix.architectures import (
    BATCH_NORM_MOMENTUM,
    build_cnn,
    compile_cnn,
    make_augmentation,
    precision_policy,
)


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_default_architecture():
    model = build_cnn((8, 8, 1), 10)
    types = layer_types(model)
    assert types.count("Conv2D") == 2
    assert types.count("BatchNormalization") == 2
    assert types[-3:] == ["Dense", "Dropout", "Dense"]
    assert model.output_shape == (None, 10)
    assert [model.get_layer(f"conv{i}").filters for i in range(2)] == [32, 64]


def test_batch_norm_statistics_settle_within_a_few_dozen_steps():
    # 40 steps of a frozen convolution: the moving mean is the batches' mean
    # to within 0.9 ** 40 (1.5%) of its start; Keras's 0.99 keeps 67% of it.
    model = build_cnn((6, 6, 1), 2, conv_filters=(4,), dense_units=None)
    compile_cnn(model, learning_rate=0.0)
    images = np.random.default_rng(0).normal(3.0, 1.0, (40 * 8, 6, 6, 1))
    model.fit(images, np.zeros(len(images), int), batch_size=8, verbose=0)
    conv = keras.Model(model.inputs, model.get_layer("conv0").output)
    mean = np.asarray(conv(images)).mean(axis=(0, 1, 2))
    moving = np.asarray(model.get_layer("bn0").moving_mean)
    assert BATCH_NORM_MOMENTUM == 0.9
    np.testing.assert_allclose(moving, mean, atol=0.05 * np.abs(mean).max())


def test_options_change_one_thing_each():
    model = build_cnn(
        (8, 8, 1),
        3,
        conv_filters=(4, 8, 16),
        batch_norm=False,
        conv_dropout=0.2,
        dense_units=None,
        dropout=0.0,
        normalization=([0.5], [2.0]),
        augmentation="light",
    )
    types = layer_types(model)
    assert types.count("Conv2D") == 3
    assert "BatchNormalization" not in types
    assert types.count("SpatialDropout2D") == 3
    assert "Dropout" not in types
    assert types[1:3] == ["RandomTranslation", "Normalization"]
    assert types[-2:] == ["Flatten", "Dense"]


def test_convs_per_block_stacks_convolutions_before_each_pooling():
    model = build_cnn((12, 10, 3), 4, conv_filters=(4, 8), convs_per_block=2)
    names = [layer.name for layer in model.layers]
    block = ["conv0", "bn0", "relu0", "conv0_1", "bn0_1", "relu0_1", "pool0"]
    assert names[names.index("conv0") : names.index("pool0") + 1] == block
    assert names.index("conv1_1") < names.index("pool1")
    assert [model.get_layer(n).filters for n in ("conv1", "conv1_1")] == [8, 8]
    # The second convolution sees the first's channels at full resolution.
    assert model.get_layer("conv0_1").kernel.shape == (3, 3, 4, 4)
    assert model.get_layer("pool0").output.shape[1:3] == (6, 5)
    with pytest.raises(ValueError, match=r"convs_per_block must be a positive int"):
        build_cnn((8, 8, 1), 2, convs_per_block=0)


def test_residual_blocks_add_a_shortcut_projected_where_channels_change():
    plain = build_cnn((8, 8, 1), 3)
    model = build_cnn((8, 8, 1), 3, residual=True)
    # Each block's channels change (1 -> 32, 32 -> 64): a 1x1 kernel without
    # bias (batch norm follows) and that batch norm's 4 numbers per channel.
    added = (1 * 32 + 4 * 32) + (32 * 64 + 4 * 64)
    assert model.count_params() - plain.count_params() == added
    assert {"shortcut0", "shortcut_bn0", "add0", "add1"} <= {
        layer.name for layer in model.layers
    }
    # Where the channels stay, the block's input is added as it is.
    same = build_cnn(
        (8, 8, 4), 3, conv_filters=(4, 4), convs_per_block=2, residual=True
    )
    names = [layer.name for layer in same.layers]
    assert "shortcut0" not in names and "shortcut1" not in names
    assert names.index("add0") < names.index("relu0_1") < names.index("pool0")
    assert (
        same.count_params()
        == build_cnn(
            (8, 8, 4), 3, conv_filters=(4, 4), convs_per_block=2
        ).count_params()
    )
    compile_cnn(model)
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype("float32")
    loss, _ = model.train_on_batch(x, np.array([0, 1, 2, 0, 1, 2]))
    assert np.isfinite(loss)


def test_pooling_works_on_one_pixel_wide_images():
    model = build_cnn((5, 1, 1), 2, conv_filters=(4, 4, 4))
    assert model.output_shape == (None, 2)


def test_weight_decay_adds_l2_penalties():
    model = build_cnn((8, 8, 1), 2, weight_decay=1e-3)
    assert isinstance(
        model.get_layer("conv0").kernel_regularizer, keras.regularizers.L2
    )
    assert build_cnn((8, 8, 1), 2).get_layer("conv0").kernel_regularizer is None


def test_user_augmentation_layers_are_copied():
    flip = keras.layers.RandomFlip("horizontal")
    (copy,) = make_augmentation([flip])
    assert copy is not flip
    assert copy.get_config()["mode"] == "horizontal"


def test_augmentation_errors():
    with pytest.raises(ValueError, match=r"Unknown augmentation preset 'heavy'"):
        make_augmentation("heavy")
    with pytest.raises(TypeError, match=r"got an item of type str"):
        make_augmentation(["flip"])


def test_compile_cnn_uses_a_fresh_optimizer():
    sgd = keras.optimizers.SGD(learning_rate=0.05)
    model = compile_cnn(build_cnn((8, 8, 1), 2), optimizer=sgd)
    assert model.optimizer is not sgd
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    model = compile_cnn(
        build_cnn((8, 8, 1), 2), optimizer="rmsprop", learning_rate=0.01
    )
    assert type(model.optimizer).__name__ == "RMSprop"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'"):
        compile_cnn(build_cnn((8, 8, 1), 2), optimizer="adamm")


def test_digits_model_is_unchanged_by_the_head_option():
    # Layer list and parameter count of the 8x8 model before head= existed.
    model = build_cnn((8, 8, 1), 10)
    assert [layer.name for layer in model.layers] == [
        "images",
        "conv0",
        "bn0",
        "relu0",
        "pool0",
        "conv1",
        "bn1",
        "relu1",
        "pool1",
        "flatten",
        "dense",
        "dropout",
        "probabilities",
    ]
    assert model.count_params() == 53_290
    # Fashion-MNIST (7x7 last map) and 32x32 (8x8) still flatten.
    assert build_cnn((28, 28, 1), 10).count_params() == 421_930
    assert "flatten" in [layer.name for layer in build_cnn((32, 32, 3), 10).layers]


def test_large_images_get_a_small_head():
    model = build_cnn((224, 224, 3), 10)
    assert "global_average" in [layer.name for layer in model.layers]
    assert model.count_params() < 50_000  # Flatten: 25.7 million
    assert build_cnn((224, 224, 3), 10, head="flatten").count_params() > 25e6
    # Just above the threshold: 9x9 positions after two poolings.
    assert "GlobalAveragePooling2D" in layer_types(build_cnn((33, 33, 1), 2))


def test_explicit_heads_are_honoured():
    small = build_cnn((8, 8, 1), 3, head="global_average")
    assert "GlobalAveragePooling2D" in layer_types(small)
    assert "Flatten" not in layer_types(small)
    large = build_cnn((64, 64, 3), 3, head="flatten", dense_units=None, dropout=0)
    assert layer_types(large)[-2:] == ["Flatten", "Dense"]
    assert large.count_params() == 16 * 16 * 64 * 3 + 3 + 18_432 + 864 + 384


@pytest.mark.parametrize("head", ["gap", "Flatten", None])
def test_bad_head(head):
    with pytest.raises(ValueError, match=r"head must be one of \['auto', 'flatten'"):
        build_cnn((8, 8, 1), 2, head=head)


# -- precision ---------------------------------------------------------------


def test_mixed_precision_computes_in_float16_with_float32_ends():
    before = keras.config.dtype_policy().name
    with precision_policy("mixed"):
        model = build_cnn(
            (8, 8, 1), 3, normalization=([0.5], [2.0]), augmentation="light"
        )
    assert keras.config.dtype_policy().name == before  # restored
    for name in ("conv0", "bn0", "relu0", "pool0", "conv1", "dense", "dropout"):
        layer = model.get_layer(name)
        assert (layer.compute_dtype, layer.variable_dtype) == ("float16", "float32")
    for layer in model.layers[1:3]:  # augmentation and normalisation
        assert layer.compute_dtype == "float32"
    assert model.get_layer("probabilities").compute_dtype == "float32"
    assert model.output.dtype == "float32"
    compiled = compile_cnn(model)
    assert isinstance(compiled.optimizer, keras.optimizers.LossScaleOptimizer)


def test_float32_precision_and_no_policy_change_without_a_block():
    with precision_policy("float32"):
        model = build_cnn((8, 8, 1), 3)
    assert {layer.compute_dtype for layer in model.layers[1:]} == {"float32"}
    assert not isinstance(
        compile_cnn(model).optimizer, keras.optimizers.LossScaleOptimizer
    )


def test_precision_policy_restores_the_policy_on_error():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError, match="inside"), precision_policy("mixed"):
        assert keras.config.dtype_policy().name == "mixed_float16"
        raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == before


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"\['float32', 'mixed'\]; got 'half'"):
        with precision_policy("half"):
            pass


def test_average_models_checks_its_weights_and_keeps_a_lone_member():
    from cnnfix.architectures import average_models, ensemble_members

    a, b = build_cnn((6, 5, 1), 4), build_cnn((6, 5, 1), 4, conv_filters=(4,))
    with pytest.raises(ValueError, match="one non-negative weight per model"):
        average_models([a, b], [1.0])
    with pytest.raises(ValueError, match="one non-negative weight per model"):
        average_models([a, b], [1.5, -0.5])
    # A weight of 0 leaves a model out; one left is returned as it is.
    assert average_models([a, b], [0.0, 1.0]) is b
    assert ensemble_members(b) == [b]
    # Mixed precision: the members compute in float16, the average in float32.
    with precision_policy("mixed"):
        c, d = build_cnn((6, 5, 1), 4), build_cnn((6, 5, 1), 4, conv_filters=(4,))
        both = average_models([c, d], [0.5, 0.5])
    assert both.output.dtype == "float32"
    assert (c.name, d.name) == ("cnn", "cnn")  # the given models are not renamed
    x = np.random.default_rng(0).random((3, 6, 5, 1)).astype("float32")
    np.testing.assert_allclose(both.predict_on_batch(x).sum(axis=1), 1.0, atol=1e-5)
