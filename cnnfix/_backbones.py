"""The transfer network: a backbone (a ``keras.applications`` network or
the user's), a new head, and everything in between that the backbone needs.

The model is ``images -> [augmentation] -> [normalisation] -> [resizing] ->
[grey to RGB] -> [the backbone's preprocessing] -> backbone -> global average
pooling -> dropout -> softmax``, built of Keras's own layers only, so it
saves, loads and pickles without the weights file, a download or any
registered custom object. :class:`cnnfix.TransferCNN` trains it;
TunedCNNClassifier's search space builds it for trials that name a
``backbone``.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._input import check_image_size
from ._keras import import_keras
from .architectures import BATCH_NORM_MOMENTUM, input_stem

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
    preprocessing : {"inside", "caffe"}
        "inside": the network rescales 0-255 pixels itself (built with
        ``include_preprocessing=True`` where Keras offers the switch);
        "caffe": RGB to BGR and ImageNet's mean pixel subtracted, done by a
        fixed 1x1 convolution in front of it.
    imagenet_file : str
        The file ``weights="imagenet"`` makes Keras download (without the top).
    imagenet_url : str
        Where Keras downloads it from.
    min_side : int, default=32
        Smallest height and width the network accepts.
    default_side : int, default=224
        The side its ImageNet weights were trained at.
    """

    constructor: str
    preprocessing: str
    imagenet_file: str
    imagenet_url: str
    min_side: int = 32
    default_side: int = 224


#: Backbones by name: the ``keras.applications`` networks TransferCNN knows.
BACKBONES = {
    "MobileNetV3Small": Backbone(
        "MobileNetV3Small",
        "inside",
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        _KERAS_APPLICATIONS + "mobilenet_v3/",
    ),
    "MobileNetV3Large": Backbone(
        "MobileNetV3Large",
        "inside",
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        _KERAS_APPLICATIONS + "mobilenet_v3/",
    ),
    "EfficientNetB0": Backbone(
        "EfficientNetB0",
        "inside",
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/",
    ),
    "ResNet50": Backbone(
        "ResNet50",
        "caffe",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        _KERAS_APPLICATIONS + "resnet/",
    ),
}

#: The name of the backbone inside the model (``model.get_layer("backbone")``).
BACKBONE_NAME = "backbone"


def build_transfer_cnn(
    input_shape,
    n_classes,
    *,
    backbone="MobileNetV3Small",
    weights=None,
    image_size=None,
    fine_tune_layers=0,
    dropout=0.2,
    normalization=None,
    augmentation=None,
):
    """The transfer network for images of ``input_shape`` (uncompiled).

    Parameters
    ----------
    input_shape : tuple of int
        (height, width, channels) of the images given to the model.
    n_classes : int
        Units of the softmax output.
    backbone : str or callable, default="MobileNetV3Small"
        A name of :data:`BACKBONES` or a callable ``backbone(input_shape) ->
        keras.Model`` (see :class:`cnnfix.TransferCNN`).
    weights : "imagenet", str, path-like or None, default=None
        The backbone's weights: ImageNet's, a weights file, or random.
    image_size : int, (int, int) or None, default=None
        (height, width) the backbone sees: images are resized to it inside
        the model. None keeps their size, each side raised to the
        backbone's minimum (see :func:`resized_size`).
    fine_tune_layers : int or "all", default=0
        Backbone layers (with weights, counted from the top, batch
        normalisation not counted) that train from the start: 0 the head
        only (what a one-phase search trial and TransferCNN's phase one
        train), "all" every one.
        Ignored for a named backbone with ``weights=None``: random weights
        have nothing to protect, so every layer trains, batch normalisation
        in training mode, with :data:`cnnfix.architectures.BATCH_NORM_MOMENTUM`.
    dropout : float, default=0.2
        Dropout rate before the output layer.
    normalization : tuple or None, default=None
        Per-channel ``(mean, variance)`` to standardise inputs with (for a
        callable backbone without preprocessing of its own).
    augmentation : None, str or list, default=None
        As :func:`cnnfix.build_cnn`'s.

    Returns
    -------
    keras.Model
        Its backbone is the layer named :data:`BACKBONE_NAME`.
    """
    keras = import_keras()
    layers = keras.layers
    height, width, channels = input_shape
    named = BACKBONES.get(backbone) if isinstance(backbone, str) else None
    size = resized_size(image_size, (height, width), backbone)
    out_channels = 3 if channels == 1 else channels
    if named is not None and out_channels != 3:
        raise ValueError(
            f"backbone={backbone!r} takes grey (1-channel) or RGB (3-channel) "
            f"images; got images with {channels} channels. Drop an alpha "
            "channel with X[..., :3], or pass a callable backbone."
        )
    inputs, x = input_stem(input_shape, normalization, augmentation)
    if size != (height, width):
        x = layers.Resizing(*size, name="resize")(x)
    if channels == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if named is not None and named.preprocessing == "caffe":
        x = caffe_preprocessing(keras)(x)
    network = make_backbone(backbone, weights, (*size, out_channels))
    scratch = named is not None and weights is None
    # Pretrained batch norm runs in inference mode, frozen or not, so that a
    # few small batches never overwrite its statistics.
    x = network(x) if scratch else network(x, training=False)
    x = layers.GlobalAveragePooling2D(name="global_average")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    # float32 under any precision: probabilities keep their resolution.
    outputs = layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    model = keras.Model(inputs, outputs, name="transfer_cnn")
    if scratch:  # its moving statistics must settle within a short fit
        for layer in backbone_layers(network):
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = BATCH_NORM_MOMENTUM
    elif fine_tune_layers == 0:
        network.trainable = False
    else:
        unfreeze_top(network, fine_tune_layers)
    return model


def make_backbone(backbone, weights, input_shape):
    """The backbone network for ``input_shape``, its ``weights`` loaded,
    named :data:`BACKBONE_NAME`: the callable's network, or the
    ``keras.applications`` one without its top.

    Raises
    ------
    FileNotFoundError
        When the ImageNet weights are not cached and cannot be downloaded;
        the message names the file, the cache and the URL.
    """
    weights = None if weights is None else str(weights)
    named = BACKBONES.get(backbone) if isinstance(backbone, str) else None
    if named is None:
        network = backbone(tuple(input_shape))
        if not isinstance(network, import_keras().Model):
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
        constructor = getattr(import_keras().applications, named.constructor)
        kwargs = dict(
            input_shape=tuple(input_shape),
            include_top=False,
            weights="imagenet" if weights == "imagenet" else None,
            name=BACKBONE_NAME,
        )
        if named.constructor.startswith("MobileNetV3"):
            kwargs["include_preprocessing"] = True
        try:
            with warnings.catch_warnings():
                # MobileNetV3 notes that weights trained at 224 pixels are
                # loaded at another size: expected, and input_size documents it.
                warnings.filterwarnings("ignore", message=".*Weights for input shape")
                network = constructor(**kwargs)
        except Exception as exc:
            # Keras's cache of downloaded weights: $KERAS_HOME/models.
            home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
            cached = Path(home).expanduser() / "models" / named.imagenet_file
            if weights != "imagenet" or cached.is_file():
                raise
            raise FileNotFoundError(
                f'weights="imagenet": Keras could not download the ImageNet '
                f"weights of {named.constructor} ({exc}). Expected the file "
                f"{named.imagenet_file} in {cached.parent} or at "
                f"{named.imagenet_url}{named.imagenet_file}. Download it on a "
                "machine with a connection and pass weights=<path to the file>, "
                f"copy it to {cached}, or use weights=None for random weights."
            ) from exc
    if weights not in (None, "imagenet"):
        try:
            network.load_weights(weights)
        except Exception as exc:
            raise ValueError(
                f"Could not load the weights file {weights!r} into backbone "
                f"{backbone!r} with input shape {tuple(input_shape)}: {exc} "
                "The file must hold the weights of the same backbone without "
                "its top; write one with "
                "model_.get_layer('backbone').save_weights(path)."
            ) from exc
    return network


def caffe_preprocessing(keras):
    """ResNet50's preprocessing (RGB to BGR, ImageNet's mean subtracted) as a
    frozen 1x1 convolution: a built-in layer, so the model loads anywhere."""
    swap = np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3)
    layer = keras.layers.Conv2D(3, 1, name="caffe_preprocessing", trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([swap, -np.asarray(_CAFFE_MEAN_BGR, dtype=np.float32)])
    return layer


def resized_size(image_size, own_size, backbone):
    """(height, width) the backbone sees.

    None keeps ``own_size`` (the images') with each side raised to the
    minimum of a named ``backbone``; an explicit ``image_size`` must be at
    least that minimum on both sides.
    """
    named = BACKBONES.get(backbone) if isinstance(backbone, str) else None
    min_side = 1 if named is None else named.min_side
    if image_size is None:
        return tuple(max(int(s), min_side) for s in own_size)
    size = check_image_size(image_size)
    if min(size) < min_side:
        raise ValueError(
            f"image_size={image_size!r} is below the smallest size "
            f"{backbone} accepts, {min_side}x{min_side}. Use "
            f"image_size={max(min_side, max(size))} or larger, or None to resize "
            f"small images to {min_side}x{min_side}."
        )
    return size


def backbone_layers(network):
    """The layers of ``network`` with their own weights, in order, nested
    models opened up."""
    return [
        inner
        for layer in network.layers
        for inner in (backbone_layers(layer) if hasattr(layer, "layers") else [layer])
        if inner.weights
    ]


def unfreeze_top(network, n_layers):
    """Make the top ``n_layers`` weighted layers of ``network`` trainable (all
    of them for "all"); every other layer and every BatchNormalization layer
    stay frozen."""
    norm = import_keras().layers.BatchNormalization
    network.trainable = True
    layers = backbone_layers(network)
    tunable = [layer for layer in layers if not isinstance(layer, norm)]
    top = set(map(id, tunable if n_layers == "all" else tunable[-n_layers:]))
    for layer in layers:
        layer.trainable = id(layer) in top
