"""The shared CNN builder."""

import keras
import pytest

from cnnfix.architectures import build_cnn, compile_cnn, make_augmentation


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
