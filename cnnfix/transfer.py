"""TransferCNN: a pretrained backbone with a new head, fine-tuned inside fit.

The Keras model is ``images -> [augmentation] -> [normalisation] ->
[resizing] -> [grey to RGB] -> [the backbone's preprocessing] -> backbone
(inference mode) -> global average pooling -> dropout -> softmax``, built of
Keras's own layers only, so it saves, loads and pickles without the weights
file, a download or any registered custom object.
"""

import os
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._docs import fill_doc
from ._keras import import_keras
from ._validation import is_path_array
from .architectures import compile_cnn, input_stem
from .base import BaseCNNClassifier

__all__ = ["BACKBONES", "TransferCNN", "build_transfer_cnn"]

#: Where Keras downloads ImageNet weights from (the applications' own URLs).
_KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: ImageNet's mean pixel in BGR order: the "caffe" preprocessing of ResNet50
#: (``keras.applications.resnet.preprocess_input``) subtracts it after
#: swapping RGB to BGR.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Backbone:
    """What TransferCNN needs to know of one ``keras.applications`` network.

    Attributes
    ----------
    constructor : str
        The function's name in ``keras.applications``.
    min_side : int
        Smallest height and width the network accepts.
    default_side : int
        The side its ImageNet weights were trained at.
    preprocessing : {"inside", "caffe"}
        "inside": the network rescales 0-255 pixels itself (built with
        ``include_preprocessing=True`` where Keras offers the switch);
        "caffe": RGB to BGR and ImageNet's mean pixel subtracted, done by a
        fixed 1x1 convolution in front of it.
    imagenet_file : str
        The file ``weights="imagenet"`` makes Keras download (without the top).
    imagenet_url : str
        Where Keras downloads it from.
    """

    constructor: str
    min_side: int
    default_side: int
    preprocessing: str
    imagenet_file: str
    imagenet_url: str


def _backbone(constructor, preprocessing, imagenet_file, folder):
    return Backbone(constructor, 32, 224, preprocessing, imagenet_file, folder)


#: Backbones by name: the ``keras.applications`` networks TransferCNN knows.
BACKBONES = {
    "MobileNetV3Small": _backbone(
        "MobileNetV3Small",
        "inside",
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        _KERAS_APPLICATIONS + "mobilenet_v3/",
    ),
    "MobileNetV3Large": _backbone(
        "MobileNetV3Large",
        "inside",
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        _KERAS_APPLICATIONS + "mobilenet_v3/",
    ),
    "EfficientNetB0": _backbone(
        "EfficientNetB0",
        "inside",
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/",
    ),
    "ResNet50": _backbone(
        "ResNet50",
        "caffe",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_APPLICATIONS + "resnet/",
    ),
}

#: The name of the backbone inside ``model_`` (``model_.get_layer("backbone")``).
BACKBONE_NAME = "backbone"


@fill_doc(
    epochs="""\
    Maximum number of epochs of the fine-tuning phase (phase two); the
    head-only phase has ``head_epochs``. With ``early_stopping=True`` each
    phase usually stops sooner.""",
    learning_rate="""\
    Learning rate of a named optimizer while the head is trained (phase
    one). Phase two uses ``fine_tune_learning_rate``.""",
    normalize="""\
    Learn per-channel mean and variance of the training images in ``fit``
    and standardise inputs inside the model. Only for a callable
    ``backbone`` without preprocessing of its own: a named backbone
    applies its own preprocessing to 0-255 pixels, and ``normalize=True``
    with one is an error.""",
)
class TransferCNN(BaseCNNClassifier):
    """A pretrained network with a new head, fine-tuned on your images.

    The backbone (a ``keras.applications`` network or your own) is followed
    by global average pooling, dropout and a softmax layer. ``fit`` trains in
    two phases, as in Keras's transfer-learning guide:

    1. the backbone is frozen and the new head is trained for up to
       ``head_epochs`` epochs with ``learning_rate``;
    2. the top ``fine_tune_layers`` layers of the backbone are unfrozen
       (batch normalisation layers stay frozen) and the whole model is
       trained for up to ``epochs`` epochs with the lower
       ``fine_tune_learning_rate``.

    The backbone always runs in inference mode (``training=False``), so its
    batch normalisation statistics are never overwritten by a few small
    batches. Everything the backbone needs is inside the model: images are
    resized to ``input_size``, grey images are repeated to three channels and
    the backbone's own preprocessing is applied, so ``predict`` takes the same
    raw images as ``fit``. Named backbones expect pixels in 0-255 (what
    :func:`cnnfix.datasets.load_image_folder` returns).

    Read more in the :doc:`user guide </guide/transfer>`.

    Parameters
    ----------
    backbone : str or callable, default="MobileNetV3Small"
        "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0" or
        "ResNet50" (``keras.applications`` networks without their top), or a
        callable ``backbone(input_shape) -> keras.Model`` that returns a new
        network without a top on each call (your own, pretrained or not). A
        callable receives ``(height, width, channels)`` after resizing and
        grey-to-RGB, and sees the pixels as given (standardised with
        ``normalize=True``): put its preprocessing inside it.
    weights : "imagenet", str, path-like or None, default="imagenet"
        "imagenet": Keras downloads the backbone's ImageNet weights the first
        time and caches them in ``~/.keras/models/`` (``$KERAS_HOME/models``);
        without a network connection ``fit`` raises a FileNotFoundError that
        names the file and where to get it. A path: a weights file of the same
        backbone without its top (``keras.Model.save_weights`` writes one;
        the downloaded ``.h5`` files work too). None: random initialisation.
        A callable backbone takes a path or None.
    input_size : int, (int, int) or None, default=None
        (height, width) the images are resized to inside the model (one int
        for squares). None keeps the images' own size, raising a side below
        the backbone's minimum (32 pixels for the named ones) to that
        minimum. Larger sizes cost more time: ImageNet weights work best near
        the size they were trained at (224).
    fine_tune_layers : int or "all", default="all"
        How many layers of the backbone phase two trains, counted from the
        top among the layers with weights, batch normalisation layers not
        counted (they stay frozen). "all" unfreezes every one; 0 skips phase
        two (only the head is trained).
    head_epochs : int, default=50
        Maximum number of epochs of phase one (0 skips it: all at once).
        With early stopping (the default) each phase stops once the
        validation loss has not improved for ``patience`` epochs; on a few
        images an epoch is a few steps, so the caps are high (with 10 and
        20, the benchmark's fits on 100 images mostly ran into the caps,
        and 50 and 50 raised the test accuracy on most seeds; see the user
        guide).
    fine_tune_learning_rate : float or None, default=None
        Learning rate of phase two. None uses ``learning_rate / 10`` (the
        optimizer instance's own learning rate / 10 when ``optimizer`` is an
        instance).
    dropout : float, default=0.2
        Dropout rate before the output layer.
    %(training_parameters)s

    Attributes
    ----------
    %(fitted_attributes)s
    phase_epochs_ : tuple of int
        Epochs run in (phase one, phase two); ``history_`` holds phase one's
        epochs first.
    input_size_ : tuple of int
        (height, width) the images are resized to inside the model.

    See Also
    --------
    DropoutCNN : A small CNN trained from scratch.

    Examples
    --------
    ``TransferCNN()`` fine-tunes MobileNetV3Small with ImageNet weights
    (downloaded once). Offline, and small enough for a doctest, the same with
    a network of your own:

    >>> import keras
    >>> import numpy as np
    >>> from cnnfix.transfer import TransferCNN
    >>> def small_backbone(input_shape):
    ...     inputs = keras.Input(shape=input_shape)
    ...     x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    ...     return keras.Model(inputs, x)
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 255, size=(40, 12, 12))  # grey: repeated to RGB
    >>> y = np.repeat(["bolt", "nut"], 20)
    >>> clf = TransferCNN(
    ...     backbone=small_backbone, weights=None, input_size=16, head_epochs=2,
    ...     epochs=2, early_stopping=False, random_state=0,
    ... ).fit(X, y)
    >>> clf.phase_epochs_, clf.input_size_
    ((2, 2), (16, 16))
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseCNNClassifier._parameter_constraints,
        "backbone": [StrOptions(set(BACKBONES)), callable],
        "weights": [None, str, os.PathLike],
        "input_size": [None, Interval(Integral, 1, None, closed="left"), tuple, list],
        "fine_tune_layers": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"all"}),
        ],
        "head_epochs": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [None, Interval(Real, 0, None, closed="neither")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        *,
        backbone="MobileNetV3Small",
        weights="imagenet",
        input_size=None,
        fine_tune_layers="all",
        head_epochs=50,
        fine_tune_learning_rate=None,
        dropout=0.2,
        epochs=50,
        batch_size=32,
        optimizer="adam",
        learning_rate=1e-3,
        validation_split=0.1,
        early_stopping=True,
        patience=5,
        normalize=False,
        augmentation=None,
        class_weight=None,
        image_shape=None,
        image_size=None,
        cache=False,
        precision="float32",
        random_state=None,
        verbose=0,
        callbacks=None,
        balancer=None,
    ):
        self.backbone = backbone
        self.weights = weights
        self.input_size = input_size
        self.fine_tune_layers = fine_tune_layers
        self.head_epochs = head_epochs
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.normalize = normalize
        self.augmentation = augmentation
        self.class_weight = class_weight
        self.image_shape = image_shape
        self.image_size = image_size
        self.cache = cache
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.balancer = balancer

    # -- fit ---------------------------------------------------------------

    def _fit_keras(self, run):
        self._check_settings(run.train[0])
        model = self._build_model(self.image_shape_, self.n_classes_, run.normalization)
        backbone = model.get_layer(BACKBONE_NAME)
        histories, best = [], None

        if self.head_epochs > 0:  # phase one: the head only
            backbone.trainable = False
            self._compile(model, fine_tune=False)
            histories.append(self._train(model, run, epochs=self.head_epochs))
            best = (self._best(histories[-1], run), model.get_weights())

        if self.fine_tune_layers != 0:  # phase two: the top of the backbone too
            unfreeze_top(backbone, self.fine_tune_layers)
            self._compile(model, fine_tune=True)
            histories.append(self._train(model, run, epochs=self.epochs))
            # Early stopping restores each phase's best epoch; keep phase
            # one's weights when fine-tuning never did better.
            if best is not None and self._best(histories[-1], run) > best[0]:
                model.set_weights(best[1])

        phases = [len(next(iter(h.values()), [])) for h in histories]
        if self.head_epochs == 0:
            phases.insert(0, 0)
        self.phase_epochs_ = (*phases, 0)[:2]
        history = {
            key: [value for h in histories for value in h.get(key, [])]
            for key in histories[0]
        }
        return model, history

    def _best(self, history, run):
        """The monitored loss of the weights early stopping left; -inf
        without early stopping, so that the last weights are kept."""
        if not self.early_stopping:
            return -np.inf
        key = "val_loss" if run.validation is not None else "loss"
        return float(np.min(history[key]))

    def _check_settings(self, X):
        """Errors and warnings about parameters that depend on each other or
        on the data, before anything is built."""
        if self.head_epochs == 0 and self.fine_tune_layers == 0:
            raise ValueError(
                "head_epochs=0 and fine_tune_layers=0 leave nothing to train. "
                "Use head_epochs >= 1 to train the head, fine_tune_layers >= 1 "
                'or "all" to fine-tune the backbone, or both.'
            )
        if isinstance(self.backbone, str):
            if self.normalize:
                raise ValueError(
                    f"normalize=True standardises the images, but backbone="
                    f"{self.backbone!r} applies its own preprocessing to 0-255 "
                    "pixels. Use normalize=False (the default) with a named "
                    "backbone, and pass pixels in 0-255."
                )
            # (Files decode to 0-255 pixels: only arrays can be in [0, 1].)
            if not is_path_array(X) and X.size and float(np.max(X)) <= 1.0:
                warnings.warn(
                    f"The training images' pixels are all in [0, 1], but "
                    f"backbone={self.backbone!r} expects 0-255 pixels (it "
                    "rescales them itself). Multiply the images by 255.",
                    UserWarning,
                    stacklevel=5,
                )
        elif self.weights is not None and str(self.weights) == "imagenet":
            raise ValueError(
                'weights="imagenet" needs a named backbone (one of '
                f"{sorted(BACKBONES)}); got a callable backbone. Pass "
                "weights=<path to a weights file> or weights=None."
            )
        if self.weights is not None and str(self.weights) != "imagenet":
            if not Path(self.weights).is_file():
                raise FileNotFoundError(
                    f"weights={str(self.weights)!r}: no such file. Expected "
                    '"imagenet", None or the path of a weights file of the '
                    "backbone without its top (keras.Model.save_weights "
                    "writes one)."
                )

    def _compile(self, model, *, fine_tune):
        """Compile for one phase with a fresh optimizer (a changed
        ``trainable`` takes effect only when the model is compiled)."""
        optimizer, learning_rate = self.optimizer, self.learning_rate
        if not fine_tune:
            return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)
        rate = self.fine_tune_learning_rate
        if isinstance(optimizer, str):
            rate = learning_rate / 10 if rate is None else rate
        else:
            config = optimizer.get_config()
            own = config.get("learning_rate")
            if rate is None and isinstance(own, Real):
                rate = own / 10
            if rate is not None:  # else a schedule, kept as configured
                config["learning_rate"] = rate
            optimizer = type(optimizer).from_config(config)
        return compile_cnn(model, optimizer=optimizer, learning_rate=rate)

    # -- the model ---------------------------------------------------------

    def _build_model(self, input_shape, n_classes, normalization):
        keras = import_keras()
        layers = keras.layers
        height, width, channels = input_shape
        named = BACKBONES.get(self.backbone) if isinstance(self.backbone, str) else None
        self.input_size_ = resized_size(
            self.input_size,
            (height, width),
            1 if named is None else named.min_side,
            self.backbone if named is not None else "the callable backbone",
        )
        out_channels = 3 if channels == 1 else channels
        if named is not None and out_channels != 3:
            raise ValueError(
                f"backbone={self.backbone!r} takes grey (1-channel) or RGB "
                f"(3-channel) images; got images with {channels} channels. Drop "
                "an alpha channel with X[..., :3], or pass a callable backbone."
            )

        inputs, x = input_stem(input_shape, normalization, self.augmentation)
        if self.input_size_ != (height, width):
            x = layers.Resizing(*self.input_size_, name="resize")(x)
        if channels == 1:
            x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
        if named is not None and named.preprocessing == "caffe":
            x = caffe_preprocessing(keras)(x)
        network = self._make_backbone((*self.input_size_, out_channels), named)
        x = network(x, training=False)  # inference mode, frozen or not
        x = layers.GlobalAveragePooling2D(name="global_average")(x)
        if self.dropout:
            x = layers.Dropout(self.dropout, name="dropout")(x)
        # float32 under any precision: probabilities keep their resolution.
        outputs = layers.Dense(
            n_classes, activation="softmax", dtype="float32", name="probabilities"
        )(x)
        return keras.Model(inputs, outputs, name="transfer_cnn")

    def _make_backbone(self, input_shape, named):
        """The backbone network, its weights loaded, named "backbone"."""
        keras = import_keras()
        weights = None if self.weights is None else str(self.weights)
        if named is None:
            network = self.backbone(tuple(input_shape))
            if not isinstance(network, keras.Model):
                raise TypeError(
                    "A callable backbone must return a keras.Model (without a "
                    f"top); got {type(network).__name__}. Return for example "
                    "keras.Model(inputs, feature_map)."
                )
            if len(network.outputs) != 1 or len(network.outputs[0].shape) != 4:
                raise ValueError(
                    "A callable backbone must return a model with one output "
                    "of shape (batch, height, width, channels), a feature map; "
                    f"got outputs of shapes {[o.shape for o in network.outputs]}."
                    " Remove its pooling and classification layers."
                )
            network.name = BACKBONE_NAME
        else:
            network = imagenet_backbone(named, input_shape, weights == "imagenet")
        if weights not in (None, "imagenet"):
            try:
                network.load_weights(weights)
            except Exception as exc:
                raise ValueError(
                    f"Could not load the weights file {weights!r} into backbone "
                    f"{self.backbone!r} with input shape {tuple(input_shape)}: "
                    f"{exc} The file must hold the weights of the same backbone "
                    "without its top; write one with "
                    "model_.get_layer('backbone').save_weights(path)."
                ) from exc
        return network


def build_transfer_cnn(
    input_shape,
    n_classes,
    *,
    backbone="MobileNetV3Small",
    weights=None,
    input_size=None,
    fine_tune_layers=0,
    dropout=0.2,
    normalization=None,
    augmentation=None,
):
    """TransferCNN's network for training in one phase (uncompiled).

    The same network :class:`TransferCNN` builds, with the top
    ``fine_tune_layers`` layers of the backbone trainable from the start (0:
    the head only; "all": every layer but batch normalisation). This is what
    a search trial trains (:class:`~cnnfix.TunedCNNClassifier` with a
    ``backbone`` in its search space); :class:`TransferCNN` itself trains
    the head first, then fine-tunes.

    Parameters
    ----------
    input_shape : tuple of int
        (height, width, channels) of the images.
    n_classes : int
        Units of the softmax output.
    backbone, weights, input_size, dropout, augmentation
        As in :class:`TransferCNN`.
    fine_tune_layers : int or "all", default=0
        Backbone layers (with weights, counted from the top) that train.
    normalization : tuple or None, default=None
        Per-channel ``(mean, variance)`` to standardise inputs with (only
        for a callable backbone without preprocessing of its own).

    Returns
    -------
    keras.Model
    """
    estimator = TransferCNN(
        backbone=backbone,
        weights=weights,
        input_size=input_size,
        dropout=dropout,
        augmentation=augmentation,
    )
    model = estimator._build_model(tuple(input_shape), n_classes, normalization)
    network = model.get_layer(BACKBONE_NAME)
    if fine_tune_layers == 0:
        network.trainable = False
    else:
        unfreeze_top(network, fine_tune_layers)
    return model


def imagenet_backbone(backbone, input_shape, imagenet):
    """A ``keras.applications`` network without its top, named "backbone",
    with ImageNet weights when ``imagenet``.

    Raises
    ------
    FileNotFoundError
        When the ImageNet weights are not cached and cannot be downloaded;
        the message names the file, the cache and the URL.
    """
    keras = import_keras()
    constructor = getattr(keras.applications, backbone.constructor)
    kwargs = dict(
        input_shape=tuple(input_shape),
        include_top=False,
        weights="imagenet" if imagenet else None,
        name=BACKBONE_NAME,
    )
    if backbone.constructor.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = True
    try:
        with warnings.catch_warnings():
            # MobileNetV3 notes that weights trained at 224 pixels are loaded
            # at another size: expected, and input_size documents it.
            warnings.filterwarnings("ignore", message=".*Weights for input shape")
            return constructor(**kwargs)
    except Exception as exc:
        cached = imagenet_cache() / backbone.imagenet_file
        if not imagenet or cached.is_file():
            raise
        raise FileNotFoundError(
            f'weights="imagenet": Keras could not download the ImageNet weights '
            f"of {backbone.constructor} ({exc}). Expected the file "
            f"{backbone.imagenet_file} in {cached.parent} or at "
            f"{backbone.imagenet_url}{backbone.imagenet_file}. Download it on a "
            f"machine with a connection and pass weights=<path to the file>, "
            f"copy it to {cached}, or use weights=None for random weights."
        ) from exc


def imagenet_cache():
    """Keras's cache folder of downloaded weights: ``$KERAS_HOME/models``,
    by default ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(home).expanduser() / "models"


def caffe_preprocessing(keras):
    """ResNet50's preprocessing (RGB to BGR, ImageNet's mean subtracted) as a
    frozen 1x1 convolution: a built-in layer, so the model loads anywhere."""
    swap = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for i in range(3):
        swap[0, 0, i, 2 - i] = 1.0
    layer = keras.layers.Conv2D(3, 1, name="caffe_preprocessing", trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([swap, -np.asarray(_CAFFE_MEAN_BGR, dtype=np.float32)])
    return layer


def resized_size(input_size, image_size, min_side, backbone_name):
    """(height, width) the model resizes images to.

    None keeps ``image_size`` with each side raised to ``min_side``; an
    explicit size must be at least ``min_side`` on both sides.
    """
    if input_size is None:
        return tuple(max(int(s), min_side) for s in image_size)
    if isinstance(input_size, Integral):
        size = (int(input_size), int(input_size))
    else:
        size = tuple(input_size)
        if len(size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in size):
            raise ValueError(
                "input_size must be None, an int or (height, width) of positive "
                f"ints; got {input_size!r}. Use for example input_size=224."
            )
        size = tuple(int(s) for s in size)
    if min(size) < min_side:
        raise ValueError(
            f"input_size={input_size!r} is below the smallest size "
            f"{backbone_name} accepts, {min_side}x{min_side}. Use "
            f"input_size={max(min_side, max(size))} or larger, or None to resize "
            f"small images to {min_side}x{min_side}."
        )
    return size


def backbone_layers(network):
    """The layers of ``network`` with their own weights, in order, nested
    models opened up."""
    found = []
    for layer in network.layers:
        if hasattr(layer, "layers"):
            found.extend(backbone_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def unfreeze_top(network, n_layers):
    """Make the top ``n_layers`` weighted layers of ``network`` trainable (all
    of them for "all"); every other layer and every BatchNormalization layer
    stay frozen."""
    keras = import_keras()
    network.trainable = True
    tunable = [
        layer
        for layer in backbone_layers(network)
        if not isinstance(layer, keras.layers.BatchNormalization)
    ]
    top = set(map(id, tunable if n_layers == "all" else tunable[-n_layers:]))
    for layer in backbone_layers(network):
        layer.trainable = id(layer) in top
