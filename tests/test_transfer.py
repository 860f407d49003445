"""TransferCNN: the two phases, weights files, errors and the model's inputs.

Fast tests use a tiny callable backbone; tests that build a keras.applications
network (20-70 s on two busy CPU cores, mostly graph tracing) are slow.
"""

import itertools
import pickle
import warnings

import keras
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import cnnfix
from cnnfix._backbones import BACKBONES, caffe_preprocessing
from cnnfix._input import INPUT_POLICY
from cnnfix.transfer import TransferCNN

from .test_estimator_checks import expected_failures


class TinyBackbone:
    """Two small convolutions with batch normalisation between them.

    A module-level callable with a fixed repr, so estimators holding it
    clone, pickle and get the same test ids in every pytest-xdist worker (a
    function's repr holds its address). Stateless: copies are itself.
    """

    def __call__(self, input_shape):
        inputs = keras.Input(shape=input_shape)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="low")(
            inputs
        )
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="top")(x)
        return keras.Model(inputs, x)

    def __repr__(self):
        return "tiny_backbone"

    def __deepcopy__(self, memo):
        return self


tiny_backbone = TinyBackbone()


#: Fast settings for the tiny backbone: a few epochs, no early stopping.
TINY = dict(
    backbone=tiny_backbone,
    weights=None,
    normalize=True,  # the tiny backbone has no preprocessing of its own
    head_epochs=3,
    epochs=3,
    learning_rate=0.01,
    early_stopping=False,
    random_state=0,
)

TRANSFER_CNN = TransferCNN(
    backbone=tiny_backbone,
    weights=None,
    normalize=True,
    head_epochs=10,
    epochs=10,
    learning_rate=0.01,
    fine_tune_learning_rate=0.01,
    validation_split=0.0,
    early_stopping=False,
    random_state=0,
)


@pytest.mark.integration
@parametrize_with_checks([TRANSFER_CNN], expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def images():
    """60 grey 8x8 images of three string classes that a tiny CNN separates:
    the classes differ in which third of the image is bright."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["bolt", "nut", "washer"]), 20)
    X = rng.uniform(0, 60, size=(60, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(["bolt", "nut", "washer"]):
        X[y == label, :, 3 * i : 3 * i + 2] += 180
    return X, y


class Snapshots(keras.callbacks.Callback):
    """The backbone's and the output layer's weights (by path) at the start
    and end of each training run, i.e. of each phase."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = [], []

    def _weights(self):
        backbone = self.model.get_layer("backbone")
        weights = {f"backbone/{w.path}": w for w in backbone.weights}
        weights.update(
            {w.path: w for w in self.model.get_layer("probabilities").weights}
        )
        return {path: keras.ops.convert_to_numpy(w) for path, w in weights.items()}

    def on_train_begin(self, logs=None):
        self.begin.append(self._weights())

    def on_train_end(self, logs=None):
        self.end.append(self._weights())


def changed(before, after, part):
    """Paths of the weights containing ``part`` that changed."""
    return {
        path
        for path in before
        if part in path and not np.array_equal(before[path], after[path])
    }


def test_phase_one_trains_the_head_only_and_phase_two_the_top(images):
    X, y = images
    snapshots = Snapshots()
    clf = TransferCNN(**TINY, fine_tune_layers=1, callbacks=[snapshots]).fit(X, y)

    assert clf.phase_epochs_ == (3, 3)
    assert clf.n_epochs_ == 6 == len(clf.history_["loss"])
    (begin1, begin2), (end1, end2) = snapshots.begin, snapshots.end
    backbone = {p for p in begin1 if p.startswith("backbone/")}
    assert {p.split("/")[1] for p in backbone} == {"low", "bn", "top"}
    # Phase one: not one backbone weight moves (batch-norm statistics
    # included); the head learns.
    assert changed(begin1, end1, "backbone/") == set()
    assert changed(begin1, end1, "probabilities/") == {
        "probabilities/kernel",
        "probabilities/bias",
    }
    # Phase two: the top layer (fine_tune_layers=1) learns; the lower layer
    # and batch normalisation (frozen, inference mode) stay as they were.
    assert changed(begin2, end2, "backbone/") == {
        "backbone/top/kernel",
        "backbone/top/bias",
    }


def test_all_unfreezes_every_layer_but_batch_norm(images):
    X, y = images
    snapshots = Snapshots()
    TransferCNN(**{**TINY, "head_epochs": 0}, callbacks=[snapshots]).fit(X, y)
    assert len(snapshots.begin) == 1  # no head phase: all at once
    moved = changed(snapshots.begin[0], snapshots.end[0], "backbone/")
    assert {p.split("/")[1] for p in moved} == {"low", "top"}


def test_fine_tune_layers_0_trains_the_head_only(images):
    X, y = images
    clf = TransferCNN(**TINY, fine_tune_layers=0).fit(X, y)
    assert clf.phase_epochs_ == (3, 0)
    assert clf.n_epochs_ == 3
    assert not clf.model_.get_layer("backbone").trainable


def test_history_holds_both_phases_in_order(images):
    X, y = images
    clf = TransferCNN(**{**TINY, "early_stopping": True, "patience": 1}).fit(X, y)
    n1, n2 = clf.phase_epochs_
    assert 1 <= n1 <= 3 and 1 <= n2 <= 3
    for values in clf.history_.values():
        assert len(values) == n1 + n2 == clf.n_epochs_
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}


@pytest.mark.parametrize(
    ("instance", "fine_tune_learning_rate", "expected"),
    [(False, None, 0.001), (True, None, 0.005), (True, 0.002, 0.002)],
)
def test_phase_two_learning_rate_is_a_tenth_unless_given(
    images, instance, fine_tune_learning_rate, expected
):
    X, y = images
    optimizer = keras.optimizers.SGD(0.05) if instance else "sgd"
    clf = TransferCNN(
        **{**TINY, "head_epochs": 1, "epochs": 1, "optimizer": optimizer},
        fine_tune_learning_rate=fine_tune_learning_rate,
    ).fit(X, y)
    rate = keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate)
    assert float(rate) == pytest.approx(expected)
    if instance:  # the user's optimizer is left as it was
        own = keras.ops.convert_to_numpy(optimizer.learning_rate)
        assert float(own) == pytest.approx(0.05)


def test_grey_images_of_another_size_and_string_labels(images):
    X, y = images
    settings = {**TINY, "head_epochs": 10, "epochs": 10}
    clf = TransferCNN(**settings, image_size=(12, 10)).fit(X[..., 0], y)  # (n, 8, 8)
    names = [layer.name for layer in clf.model_.layers]
    assert names[2:4] == ["resize", "grey_to_rgb"]  # after the normalisation
    assert clf.image_size_ == (12, 10)
    assert clf.model_.get_layer("backbone").input_shape == (None, 12, 10, 3)
    assert clf.predict(X[:5, ..., 0]).dtype == y.dtype
    assert clf.score(X[..., 0], y) > 0.9  # the tiny backbone learns the thirds


def test_rgb_images_of_the_right_size_are_passed_as_they_are(images):
    X, y = images
    X_rgb = np.repeat(X, 3, axis=-1)
    clf = TransferCNN(**TINY).fit(X_rgb, y)
    names = [layer.name for layer in clf.model_.layers]
    assert "resize" not in names and "grey_to_rgb" not in names
    assert clf.image_size_ == (8, 8)
    assert set(clf.predict(X_rgb)) <= set(y)


def test_the_input_is_not_modified(images):
    X, y = images
    X_copy, y_copy = X.copy(), y.copy()
    TransferCNN(**TINY, fine_tune_layers=0).fit(X, y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def save_tiny_weights(path, input_shape=(8, 8, 3)):
    """A tiny backbone with weights unlike any random initialisation."""
    backbone = tiny_backbone(input_shape)
    rng = np.random.default_rng(1)
    backbone.set_weights(
        [rng.normal(0, 0.3, w.shape).astype("float32") for w in backbone.weights]
    )
    backbone.set_weights(  # keep the batch-norm variance positive
        [
            np.abs(w) + 0.5 if "variance" in v.path else w
            for w, v in zip(backbone.get_weights(), backbone.weights, strict=True)
        ]
    )
    backbone.save_weights(path)
    return {w.path: keras.ops.convert_to_numpy(w) for w in backbone.weights}


def test_weights_file_is_loaded_and_not_needed_after_fit(images, tmp_path):
    X, y = images
    X_rgb = np.repeat(X, 3, axis=-1)
    path = tmp_path / "backbone.weights.h5"
    saved = save_tiny_weights(path)
    clf = TransferCNN(**{**TINY, "weights": str(path)}, fine_tune_layers=0).fit(
        X_rgb, y
    )
    loaded = clf.model_.get_layer("backbone")
    # Frozen throughout, so the backbone still holds exactly the file's weights.
    for weight, (name, value) in zip(loaded.weights, saved.items(), strict=True):
        assert weight.path.endswith(name)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), value)
    scratch = TransferCNN(**TINY, fine_tune_layers=0).fit(X_rgb, y)
    assert not np.allclose(scratch.predict_proba(X_rgb), clf.predict_proba(X_rgb))

    expected = clf.predict_proba(X_rgb)
    with pytest.warns(UserWarning, match=r"\['backbone'\]"):  # a callable
        clf.save(tmp_path / "clf.keras")
    pickled = pickle.dumps(clf)
    path.unlink()  # neither copy needs the weights file
    np.testing.assert_array_equal(
        cnnfix.load(tmp_path / "clf.keras").predict_proba(X_rgb), expected
    )
    np.testing.assert_array_equal(pickle.loads(pickled).predict_proba(X_rgb), expected)


def test_caffe_preprocessing_is_keras_resnet_preprocess_input():
    X = np.random.default_rng(0).uniform(0, 255, size=(4, 5, 5, 3)).astype("float32")
    layer = caffe_preprocessing(keras)
    np.testing.assert_allclose(
        np.array(layer(X)),
        keras.applications.resnet.preprocess_input(X.copy()),
        atol=1e-4,
    )
    assert not layer.trainable


# -- errors ------------------------------------------------------------------


def test_unknown_backbone_names_the_supported_ones_and_the_callable(images):
    X, y = images
    with pytest.raises(ValueError, match="backbone") as error:
        TransferCNN(backbone="VGG99").fit(X, y)
    message = str(error.value)
    assert "VGG99" in message and "callable" in message
    for name in BACKBONES:
        assert name in message


def test_imagenet_offline_names_the_file_and_weights_path(
    images, monkeypatch, tmp_path
):
    def no_network(fname, origin, **kwargs):
        raise Exception(  # what keras.utils.get_file raises offline
            f"URL fetch failure on {origin}: None -- [Errno -3] Temporary "
            "failure in name resolution"
        )

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)
    X, y = images
    with pytest.raises(FileNotFoundError) as error:
        TransferCNN(weights="imagenet").fit(X * 1.0, y)
    message = str(error.value)
    file = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    assert file in message
    assert str(tmp_path / "models") in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/" in message
    assert "weights=<path" in message
    assert "URL fetch failure" in message  # Keras's own reason


def test_image_size_below_the_backbone_minimum(images):
    X, y = images
    with pytest.raises(ValueError, match=r"image_size=16 is below .*32x32.*=32"):
        TransferCNN(image_size=16).fit(X, y)
    with pytest.raises(ValueError, match=r"image_size must be .*\(height, width\)"):
        TransferCNN(image_size=(32, 32, 3)).fit(X, y)


def test_a_weights_file_that_does_not_exist(images, tmp_path):
    X, y = images
    missing = tmp_path / "nowhere.weights.h5"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.weights\.h5.*no such file"):
        TransferCNN(weights=missing).fit(X, y)


def test_a_weights_file_of_another_network(images, tmp_path):
    X, y = images
    path = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(path)
    with pytest.raises(ValueError, match="Could not load the weights file"):
        TransferCNN(**{**TINY, "weights": path}).fit(X, y)


def test_settings_that_contradict_each_other(images):
    X, y = images
    with pytest.raises(ValueError, match="leave nothing to train"):
        TransferCNN(**{**TINY, "head_epochs": 0}, fine_tune_layers=0).fit(X, y)
    with pytest.raises(ValueError, match="normalize=True standardises"):
        TransferCNN(normalize=True).fit(X, y)
    with pytest.raises(ValueError, match='weights="imagenet" needs a named'):
        TransferCNN(backbone=tiny_backbone).fit(X, y)


def test_pixels_in_0_1_get_a_warning_for_a_named_backbone(images):
    X, y = images
    # The warning comes before anything is built; the image_size error stops
    # the fit there.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="image_size"):
            TransferCNN(weights=None, image_size=8).fit(X / 255, y)
    warned = [w for w in caught if "Multiply the images by 255" in str(w.message)]
    # One UserWarning, shown at this line of the caller, not inside cnnfix.
    assert [(w.category, w.filename) for w in warned] == [(UserWarning, __file__)]


def test_the_working_side_is_the_backbone_native_side_capped():
    cap = INPUT_POLICY.working_side
    assert TransferCNN()._working_side() == min(224, cap)
    assert TransferCNN(backbone=tiny_backbone)._working_side() == cap


def test_a_callable_must_return_a_feature_map(images):
    X, y = images

    def pooled(input_shape):
        inputs = keras.Input(shape=input_shape)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))

    with pytest.raises(ValueError, match=r"one output of shape .*feature map"):
        TransferCNN(**{**TINY, "backbone": pooled}).fit(X, y)


def test_rgba_images_with_a_named_backbone(images):
    X, y = images
    with pytest.raises(
        ValueError, match=r"got images with 4 channels.*X\[\.\.\., :3\]"
    ):
        TransferCNN(weights=None).fit(np.repeat(X, 4, axis=-1), y)


# -- keras.applications backbones (slow) -------------------------------------


@pytest.mark.integration
def test_mobilenet_weights_file_survive_save_load_and_pickle(images, tmp_path):
    X, y = images
    X = np.repeat(X, 3, axis=-1)  # 8x8 RGB: resized to 32x32 inside the model
    path = tmp_path / "mobilenet.weights.h5"
    keras.utils.set_random_seed(1)
    pretrained = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), include_top=False, weights=None
    )
    pretrained.set_weights(  # not what a fresh initialisation gives
        [
            w * 1.5 if "kernel" in v.path else w
            for w, v in zip(pretrained.get_weights(), pretrained.weights, strict=True)
        ]
    )
    pretrained.save_weights(path)
    settings = dict(
        head_epochs=1,
        epochs=1,
        fine_tune_layers=0,
        early_stopping=False,
        random_state=0,
    )
    clf = TransferCNN(weights=str(path), **settings).fit(X, y)
    scratch = TransferCNN(weights=None, **settings).fit(X, y)
    assert clf.image_size_ == (32, 32)
    np.testing.assert_array_equal(
        clf.model_.get_layer("backbone").get_weights()[0],
        pretrained.get_weights()[0],
    )
    assert not np.array_equal(
        scratch.model_.get_layer("backbone").get_weights()[0],
        pretrained.get_weights()[0],
    )
    expected = clf.predict_proba(X)
    assert scratch.phase_epochs_ == (0, 1)
    assert not np.array_equal(scratch.predict_proba(X), expected)

    clf.save(tmp_path / "clf.keras")  # every parameter is stored: no warning
    pickled = pickle.dumps(clf)
    path.unlink()
    loaded = cnnfix.load(tmp_path / "clf.keras")
    assert isinstance(loaded, TransferCNN) and loaded.phase_epochs_ == (1, 0)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickled).predict_proba(X), expected)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["EfficientNetB0", "ResNet50", "MobileNetV3Large"])
def test_every_named_backbone_fits_grey_images(images, name):
    X, y = images
    clf = TransferCNN(
        backbone=name,
        weights=None,
        head_epochs=1,
        epochs=1,
        fine_tune_layers=2,
        early_stopping=False,
        random_state=0,
    ).fit(X[..., 0], y)
    assert clf.phase_epochs_ == (0, 1)  # random weights: one phase, every layer
    assert set(clf.predict(X[..., 0])) <= set(y)


def test_fits_and_predicts_on_image_files(images, tmp_path):
    from PIL import Image

    X, y = images
    paths = []
    for i, (image, label) in enumerate(zip(X, y, strict=True)):
        path = tmp_path / label / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(image[..., 0].astype(np.uint8)).save(path)
        paths.append(path)
    settings = {**TINY, "head_epochs": 10, "epochs": 10}
    clf = TransferCNN(**settings, image_size=(12, 12)).fit(paths, y)
    assert clf.image_shape_ == (12, 12, 1)
    assert clf.score(paths, y) > 0.9
    # Predicting on the decoded files gives the same probabilities.
    from cnnfix.datasets import read_images

    decoded = read_images(paths, image_size=(12, 12))
    np.testing.assert_allclose(
        clf.predict_proba(paths), clf.predict_proba(decoded), atol=1e-6
    )


def test_build_transfer_cnn_trains_the_top_layers_from_the_start():
    from cnnfix._backbones import build_transfer_cnn

    def trainable(model):
        return {w.path.split("/")[0] for w in model.trainable_weights}

    head_only = build_transfer_cnn((8, 8, 1), 3, backbone=tiny_backbone)
    assert trainable(head_only) == {"probabilities"}
    top = build_transfer_cnn((8, 8, 1), 3, backbone=tiny_backbone, fine_tune_layers=1)
    assert trainable(top) == {"top", "probabilities"}
    every = build_transfer_cnn(
        (8, 8, 1), 3, backbone=tiny_backbone, fine_tune_layers="all"
    )
    assert trainable(every) == {"low", "top", "probabilities"}  # not "bn"


def test_a_named_backbone_with_random_weights_trains_whole_in_training_mode():
    from cnnfix._backbones import build_transfer_cnn
    from cnnfix.architectures import BATCH_NORM_MOMENTUM

    model = build_transfer_cnn((32, 32, 3), 3, weights=None, fine_tune_layers=0)
    backbone = model.get_layer("backbone")
    norms = [
        layer
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and all(layer.trainable for layer in backbone.layers)
    assert {layer.momentum for layer in norms} == {BATCH_NORM_MOMENTUM}
    # Training mode updates the moving statistics; inference mode does not.
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3))
    before = keras.ops.convert_to_numpy(norms[0].moving_mean)
    model(images, training=False)
    np.testing.assert_array_equal(norms[0].moving_mean, before)
    model(images, training=True)
    assert not np.allclose(keras.ops.convert_to_numpy(norms[0].moving_mean), before)
    # A callable backbone (maybe pretrained) keeps the rule of the phases.
    own = build_transfer_cnn((8, 8, 1), 3, backbone=tiny_backbone, weights=None)
    assert not own.get_layer("backbone").trainable


def test_auto_patience_waits_longer_for_a_backbone_from_scratch():
    # Unsettled moving statistics make the first epochs' validation loss
    # erratic: a network from scratch waits as long as DropoutCNN does.
    assert TransferCNN(weights=None)._patience() == 10
    assert TransferCNN(weights="imagenet")._patience() == 5
    assert TransferCNN(backbone=tiny_backbone, weights=None)._patience() == 5
    assert TransferCNN(weights=None, patience=3)._patience() == 3
    with pytest.raises(ValueError, match="'patience' parameter of TransferCNN"):
        TransferCNN(patience="long").fit(np.zeros((4, 8, 8, 3)), [0, 1, 0, 1])


@pytest.mark.slow
def test_mobilenet_from_random_weights_learns_far_above_chance():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    keep = y < 4
    big = np.kron(X[keep].reshape(-1, 8, 8), np.ones((4, 4)))  # 32x32
    X = np.repeat(big[..., None] * 15, 3, axis=-1).astype(np.float32)  # 0-240
    labels = np.array(["zero", "one", "two", "three"])[y[keep]]
    X_train, X_test, y_train, y_test = train_test_split(
        X, labels, test_size=0.3, stratify=labels, random_state=0
    )
    clf = TransferCNN(weights=None, epochs=15, random_state=0).fit(X_train, y_train)
    assert clf.phase_epochs_[0] == 0
    assert clf.score(X_test, y_test) > 0.8  # chance is 0.25


def test_mixed_precision_keeps_the_probabilities_in_float32(images):
    X, y = images
    clf = TransferCNN(**TINY, precision="mixed").fit(X, y)
    backbone = clf.model_.get_layer("backbone")
    assert backbone.get_layer("top").compute_dtype == "float16"
    assert clf.model_.get_layer("probabilities").compute_dtype == "float32"
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    import keras as k

    assert k.config.dtype_policy().name == "float32"  # the policy is restored


# -- TunedCNNClassifier searching TransferCNN's network -------------------


def backbone_search(weights, fine_tune_layers):
    """A quick random search over ``fine_tune_layers`` of the tiny backbone."""
    return cnnfix.TunedCNNClassifier(
        tuner="random",
        max_trials=2,
        max_epochs=2,
        epochs=3,
        n_finalists=1,
        search_space={
            "backbone": tiny_backbone,
            "weights": weights,
            "fine_tune_layers": fine_tune_layers,
            "learning_rate": 0.01,
        },
        random_state=0,
        verbose=0,
    )


def test_tuned_searches_fine_tuning_depth_of_a_backbone(images, tmp_path):
    X, y = images
    path = tmp_path / "backbone.weights.h5"
    saved = save_tiny_weights(path)
    clf = backbone_search(str(path), [0, "all"]).fit(X, y)

    # Mixed choices come back as given, and the first trial is the default:
    # the head only, TransferCNN's phase one.
    assert clf.search_results_["param_fine_tune_layers"][0] == 0
    assert set(clf.search_results_["param_fine_tune_layers"]) == {0, "all"}
    assert clf.best_params_["fine_tune_layers"] in (0, "all")
    backbone = clf.model_.get_layer("backbone")
    kept = [keras.ops.convert_to_numpy(w) for w in backbone.weights]
    unchanged = all(
        np.array_equal(weight, value)
        for weight, value in zip(kept, saved.values(), strict=True)
    )
    # The kept model's backbone holds the file's weights exactly when the
    # search kept the head-only configuration (frozen), and not when it kept
    # the fine-tuned one.
    assert unchanged == (clf.best_params_["fine_tune_layers"] == 0)
    assert set(clf.predict(X)) <= set(y)


def test_tuned_backbone_space_with_the_head_only_keeps_the_weights_file(
    images, tmp_path
):
    X, y = images
    path = tmp_path / "backbone.weights.h5"
    saved = save_tiny_weights(path)
    clf = backbone_search(str(path), 0).fit(X, y)
    backbone = clf.model_.get_layer("backbone")
    for weight, value in zip(backbone.weights, saved.values(), strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), value)
    assert clf.model_.get_layer("probabilities").output.shape[-1] == 3
    assert clf.best_params_ == {}  # nothing was searched


@pytest.mark.parametrize(
    "choices, default, first, values",
    [
        ([0, 20, "all"], 0, 0, {0, 20, "all"}),  # mixed: searched as strings
        ([None, 64, 96], None, None, {None, 64, 96}),
        ([0, 0.25, 0.5], 0.5, 0.5, {0.0, 0.25, 0.5}),  # int and float: floats
    ],
)
def test_choices_keras_tuner_cannot_take_come_back_as_written(
    choices, default, first, values
):
    import keras_tuner as kt

    from cnnfix.tuning.space import plain_values, sample

    hp = kt.HyperParameters()
    assert sample(hp, "fine_tune_layers", choices, default) == first
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        drawn = {hp.name: hp.random_sample(int(rng.integers(1e6))) for hp in hp.space}
        seen.add(plain_values(drawn)["fine_tune_layers"])
    assert seen == values


@pytest.mark.parametrize(
    "space, match",
    [
        ({"backbone": "MobileNetV3Small", "filters": [8]}, r"\['filters'\].*Valid"),
        ({"backbone": [tiny_backbone]}, "one\\s+fixed value"),
        ({"backbone": ["NoSuchNet"]}, "MobileNetV3Small"),
        ({"fine_tune_layers": [0, 2]}, "Name 'backbone'"),
        ({"backbone": "MobileNetV3Small", "dropout": [None, 0.2]}, "one type"),
    ],
)
def test_tuned_backbone_space_errors(images, space, match):
    X, y = images
    clf = cnnfix.TunedCNNClassifier(search_space=space, max_trials=1)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


@pytest.mark.parametrize("schedule", ["plateau", "cooldown"])
def test_both_phases_train_by_the_shared_lr_schedule(images, schedule):
    # One training loop: TransferCNN takes every estimator's lr_schedule.
    # "cooldown" lowers each phase's rate to 0 over its last fifth (one of
    # 5 epochs); "plateau" with patience 0 drops it after any epoch that
    # does not improve, so it never rises.
    X, y = images
    settings = {**TINY, "head_epochs": 5, "epochs": 5, "patience": 0}
    clf = TransferCNN(**settings, lr_schedule=schedule).fit(X, y)
    rates = clf.history_["learning_rate"]
    head, tuned = rates[:5], rates[5:]
    assert clf.phase_epochs_ == (5, 5)
    if schedule == "cooldown":
        assert head[:4] == pytest.approx([0.01] * 4) and 0 < head[4] < 0.01
        assert tuned[:4] == pytest.approx([0.001] * 4) and 0 < tuned[4] < 0.001
    else:
        assert all(b <= a for a, b in itertools.pairwise(rates[:5]))
