"""The one CNN builder that every cnnfix estimator and search space uses.

:func:`build_cnn` returns an uncompiled :class:`keras.Model`;
:func:`compile_cnn` attaches the optimizer and loss. ``DropoutCNN`` calls both
with its parameters and ``TunedCNNClassifier`` calls them with values drawn by
keras-tuner, so a fix to the architecture lands everywhere.
"""

from collections.abc import Sequence
from contextlib import contextmanager
from numbers import Integral

from ._keras import import_keras

__all__ = [
    "AUGMENTATION_PRESETS",
    "HEADS",
    "PRECISIONS",
    "average_models",
    "build_cnn",
    "compile_cnn",
    "ensemble_members",
    "input_stem",
    "make_augmentation",
    "precision_policy",
]

#: Batch-norm momentum of every network cnnfix builds from random weights
#: (PyTorch's default; Keras's is 0.99): the moving statistics that
#: inference and early stopping see settle within a few dozen steps, where
#: a few hundred images make only a few steps an epoch
#: (``benchmarks/run_all.py --only photos``).
BATCH_NORM_MOMENTUM = 0.9

#: Accepted values of ``build_cnn(head=...)``.
HEADS = ("auto", "flatten", "global_average")

#: ``head="auto"`` flattens a last feature map of at most this many positions
#: (8x8: 32x32 inputs after two poolings, Fashion-MNIST's 7x7, the digits'
#: 2x2) and averages larger ones. See build_cnn.
MAX_FLATTEN_POSITIONS = 64

#: Named augmentation presets: layer class names with their arguments. None
#: of them flips, so they are safe for digits and text; add
#: ``keras.layers.RandomFlip`` yourself for natural images.
AUGMENTATION_PRESETS = {
    "light": [("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1})],
    "standard": [
        ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.1}),
        ("RandomRotation", {"factor": 0.05}),
        ("RandomZoom", {"height_factor": 0.1}),
    ],
}

#: Accepted values of the estimators' ``precision``, with the Keras dtype
#: policy each builds its model under (see precision_policy).
PRECISIONS = {"float32": "float32", "mixed": "mixed_float16"}

#: Accepted optimizer names (the Keras optimizers that take a learning rate).
OPTIMIZERS = frozenset(
    "adam adamw sgd rmsprop nadam adamax adagrad adadelta lion ftrl lamb".split()
)


@contextmanager
def precision_policy(precision):
    """Build Keras models under ``precision``'s dtype policy in this block.

    ``"float32"`` computes in float32; ``"mixed"`` uses Keras's
    ``"mixed_float16"`` policy: layers built in the block keep float32
    weights but compute in float16, which halves activation memory and runs
    on the tensor cores of recent GPUs (on CPUs it is usually slower). A
    model built in the block records the policy of each layer in its config
    and compiles with a loss-scaling optimizer, so it trains, predicts, saves
    and loads the same way outside the block. :func:`build_cnn` keeps its
    input layers (augmentation, normalisation) and its softmax output in
    float32, as Keras recommends for numerical stability.

    Keras's default policy is global to the thread; the block restores the
    previous one when it ends, even on error.

    Parameters
    ----------
    precision : {"float32", "mixed"}
        The estimators' ``precision`` parameter.

    Examples
    --------
    >>> from cnnfix.architectures import build_cnn, precision_policy
    >>> with precision_policy("mixed"):
    ...     model = build_cnn((28, 28, 1), 10)
    >>> model.get_layer("conv0").compute_dtype, model.output.dtype
    ('float16', 'float32')
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {sorted(PRECISIONS)}; got {precision!r}. "
            'Use "mixed" for mixed float16 on a GPU, "float32" otherwise.'
        )
    keras = import_keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_augmentation(augmentation) -> list:
    """Fresh Keras layers for ``augmentation`` (None, a preset name or layers).

    User-supplied layers are copied through their config so that every fit
    gets layers of its own and the estimator's parameter is never touched.
    """
    keras = import_keras()
    if augmentation is None:
        return []
    if isinstance(augmentation, str):
        if augmentation not in AUGMENTATION_PRESETS:
            raise ValueError(
                f"Unknown augmentation preset {augmentation!r}; expected one of "
                f"{sorted(AUGMENTATION_PRESETS)}, None, or a list of Keras layers."
            )
        # float32 under any dtype policy: raw pixels of any range fit.
        return [
            getattr(keras.layers, name)(**kwargs, dtype="float32")
            for name, kwargs in AUGMENTATION_PRESETS[augmentation]
        ]
    for layer in augmentation:
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "augmentation must be None, a preset name or a list of Keras "
                f"layers; got an item of type {type(layer).__name__}. Use for "
                "example [keras.layers.RandomTranslation(0.1, 0.1)]."
            )
    return [type(layer).from_config(layer.get_config()) for layer in augmentation]


def input_stem(input_shape, normalization=None, augmentation=None):
    """The layers every cnnfix network starts with: the image input, then
    ``augmentation`` (see :func:`make_augmentation`) and per-channel
    standardisation by ``normalization`` = ``(mean, variance)``, both in
    float32 under any dtype policy. Returns ``(inputs, x)``: the Keras input
    and the tensor after them."""
    keras = import_keras()
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = inputs
    for layer in make_augmentation(augmentation):
        x = layer(x)
    if normalization is not None:
        mean, variance = normalization
        x = keras.layers.Normalization(
            axis=-1, mean=mean, variance=variance, dtype="float32"
        )(x)
    return inputs, x


def build_cnn(
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    conv_filters: Sequence[int] = (32, 64),
    convs_per_block: int = 1,
    kernel_size: int = 3,
    pool_size: int = 2,
    batch_norm: bool = True,
    residual: bool = False,
    conv_dropout: float = 0.0,
    dense_units: int | None = 128,
    dropout: float = 0.5,
    weight_decay: float | None = None,
    normalization: tuple | None = None,
    augmentation=None,
    head: str = "auto",
    name: str = "cnn",
):
    """Build a regularised CNN classifier (uncompiled).

    Each block is ``convs_per_block`` times Conv2D ("same" padding) ->
    [BatchNormalization] -> ReLU, then MaxPooling2D ("same" padding, so tiny
    and 1-pixel-wide images work) -> [SpatialDropout2D]. With ``residual``
    the block's input is added to its last convolution's output before that
    ReLU (ResNet's basic block): as it is where its channels are the
    block's filters, else through a 1x1 convolution [and batch norm] (the
    projection shortcut). The head is Flatten or GlobalAveragePooling2D ->
    [Dense(dense_units, relu)] -> Dropout(dropout) -> Dense(n_classes,
    softmax).

    The layers follow Keras's dtype policy in effect (see
    :func:`precision_policy`), except the augmentation and normalisation
    layers and the softmax output, which are always float32: raw pixels of
    any range normalise exactly and the probabilities keep float32
    precision under ``"mixed_float16"``.

    Flatten keeps where each feature is, but gives the dense layer
    ``positions x channels x dense_units`` weights: with the default blocks,
    0.5 M at 32x32 pixels and 25.7 M at 224x224, which dominate the model,
    its memory and its overfitting. GlobalAveragePooling2D averages each
    channel over the positions, so the head has ``channels x dense_units``
    weights at any size. ``head="auto"`` flattens a last feature map of at
    most 64 positions (8x8: inputs up to 32x32 with the default two blocks,
    so the digits, Fashion-MNIST and CIFAR-sized models are unchanged) and
    averages larger ones (``benchmarks/bench_architecture.py`` measures both
    at 32 to 224 pixels).

    Parameters
    ----------
    input_shape : tuple of int
        (height, width, channels) of one image.
    n_classes : int
        Number of output units.
    conv_filters : sequence of int, default=(32, 64)
        Filters of each convolutional block; its length is the depth.
    convs_per_block : int, default=1
        Convolutions in each block before its pooling. Two (VGG's pattern)
        see a wider neighbourhood at full resolution, at about twice the
        compute; the second and later convolutions of block ``i`` are named
        ``conv{i}_{j}`` (with ``bn{i}_{j}``, ``relu{i}_{j}``).
    kernel_size : int, default=3
        Side of the square convolution kernels.
    pool_size : int, default=2
        Side of the max-pooling window after each block.
    batch_norm : bool, default=True
        Batch normalisation after each convolution, with momentum
        ``BATCH_NORM_MOMENTUM`` (0.9).
    residual : bool, default=False
        A shortcut around each block's convolutions (see above), named
        ``add{i}``, with ``shortcut{i}`` (and ``shortcut_bn{i}``) where it
        projects. Deeper networks train as easily as shallow ones; the
        shortcuts add ``in_channels x filters`` weights to each block whose
        channels change.
    conv_dropout : float, default=0.0
        Spatial dropout rate after each block (0 for none).
    dense_units : int or None, default=128
        Units of the hidden dense layer; None for no hidden layer.
    dropout : float, default=0.5
        Dropout rate before the output layer.
    weight_decay : float or None, default=None
        L2 penalty on convolution and dense kernels.
    normalization : (mean, variance) or None, default=None
        Per-channel statistics for a leading ``keras.layers.Normalization``.
    augmentation : None, str or list of keras layers, default=None
        See :func:`make_augmentation`; active only while training.
    head : {"auto", "flatten", "global_average"}, default="auto"
        How the last feature map becomes a vector: "flatten"
        (``keras.layers.Flatten``), "global_average"
        (``keras.layers.GlobalAveragePooling2D``), or "auto": flatten when the
        last feature map has at most 64 positions, else average.
    name : str, default="cnn"
        Name of the Keras model.

    Returns
    -------
    model : keras.Model
        The uncompiled model; compile it with :func:`compile_cnn`.
    """
    if not (isinstance(head, str) and head in HEADS):
        raise ValueError(
            f"head must be one of {list(HEADS)}; got {head!r}. Use "
            '"global_average" for large images, "flatten" to keep positions.'
        )
    if not (isinstance(convs_per_block, Integral) and convs_per_block >= 1):
        raise ValueError(
            "convs_per_block must be a positive int (convolutions in each block "
            f"before its pooling); got {convs_per_block!r}. Use 1 or 2."
        )
    keras = import_keras()
    layers = keras.layers
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None

    def convolution(x, filters, size, name, bn_name):
        """A Conv2D ("same" padding, no bias before batch norm) of ``x``, then
        its BatchNormalization with ``batch_norm``."""
        x = layers.Conv2D(
            int(filters),
            size,
            padding="same",
            use_bias=not batch_norm,
            kernel_regularizer=regularizer,
            name=name,
        )(x)
        if not batch_norm:
            return x
        return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=bn_name)(x)

    inputs, x = input_stem(input_shape, normalization, augmentation)
    for i, filters in enumerate(conv_filters):
        block_input = x
        for j in range(int(convs_per_block)):
            suffix = f"{i}_{j}" if j else f"{i}"
            x = convolution(x, filters, kernel_size, f"conv{suffix}", f"bn{suffix}")
            if residual and j == convs_per_block - 1:
                shortcut = block_input
                if shortcut.shape[-1] != filters:  # the projection
                    shortcut = convolution(
                        shortcut, filters, 1, f"shortcut{i}", f"shortcut_bn{i}"
                    )
                x = layers.Add(name=f"add{i}")([x, shortcut])
            x = layers.ReLU(name=f"relu{suffix}")(x)
        x = layers.MaxPooling2D(pool_size, padding="same", name=f"pool{i}")(x)
        if conv_dropout:
            x = layers.SpatialDropout2D(conv_dropout, name=f"conv_dropout{i}")(x)
    if head == "auto":
        height, width = x.shape[1:3]
        large = None in (height, width) or height * width > MAX_FLATTEN_POSITIONS
        head = "global_average" if large else "flatten"
    pooling = layers.Flatten if head == "flatten" else layers.GlobalAveragePooling2D
    x = pooling(name=head)(x)
    if dense_units:
        x = layers.Dense(
            int(dense_units),
            activation="relu",
            kernel_regularizer=regularizer,
            name="dense",
        )(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def compile_cnn(model, *, optimizer="adam", learning_rate=1e-3):
    """Compile ``model`` for integer labels with a fresh optimizer.

    ``optimizer`` is a Keras optimizer name or instance; an instance is copied
    through its config (with ``learning_rate`` left as configured), so refits
    never share optimizer state.
    """
    keras = import_keras()
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}; expected one of "
                f"{sorted(OPTIMIZERS)} or a keras.optimizers.Optimizer instance."
            )
        optimizer = keras.optimizers.get(
            {"class_name": optimizer, "config": {"learning_rate": learning_rate}}
        )
    else:
        optimizer = type(optimizer).from_config(optimizer.get_config())
    if model.dtype_policy.name == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        # What Keras's compile would do, made explicit so that the saved
        # compile config names it and a loaded model gets it back.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def average_models(models, weights, name="ensemble"):
    """One Keras model whose output is the weighted average of ``models``'
    outputs (class probabilities) on the same input.

    ``weights`` (non-negative, summing to 1) pair with ``models``; members
    of weight 0 are left out, and a single remaining member is returned
    as it is. Each member enters as a model named ``member0``,
    ``member1``, ... heaviest first (so :func:`ensemble_members` finds
    them) that shares the given model's layers and weights; the given
    models themselves are not changed. The weighting and the sum are
    float32 layers (``Rescaling``, ``Add``), so the model saves and loads
    as a plain ``.keras`` file, under any dtype policy.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix.architectures import average_models, build_cnn
    >>> a, b = build_cnn((8, 8, 1), 3), build_cnn((8, 8, 1), 3, conv_filters=(8,))
    >>> both = average_models([a, b], [0.75, 0.25])
    >>> x = np.ones((2, 8, 8, 1), "float32")
    >>> expected = 0.75 * a.predict_on_batch(x) + 0.25 * b.predict_on_batch(x)
    >>> bool(np.allclose(both.predict_on_batch(x), expected))
    True
    >>> [m.name for m in ensemble_members(both)]
    ['member0', 'member1']
    """
    if len(models) != len(weights) or min(weights, default=-1) < 0:
        raise ValueError(
            f"average_models needs one non-negative weight per model; got "
            f"{len(models)} models and weights {list(weights)}."
        )
    ranked = sorted(
        (pair for pair in zip(weights, models, strict=True) if pair[0] > 0),
        key=lambda pair: -pair[0],
    )
    if len(ranked) == 1:
        return ranked[0][1]
    keras = import_keras()
    first = ranked[0][1].inputs[0]
    inputs = keras.Input(shape=first.shape[1:], dtype=first.dtype, name="images")
    # Each member is a new name on the same layers: the caller's model keeps
    # its own.
    outputs = [
        keras.layers.Rescaling(float(weight), dtype="float32", name=f"weight{i}")(
            keras.Model(model.inputs[0], model.outputs[0], name=f"member{i}")(inputs)
        )
        for i, (weight, model) in enumerate(ranked)
    ]
    total = keras.layers.Add(dtype="float32", name="average")(outputs)
    return keras.Model(inputs, total, name=name)


def ensemble_members(model):
    """The models :func:`average_models` averaged in ``model``, heaviest
    first; ``[model]`` for any other model. Tools that explain one network
    (feature maps, Grad-CAM) explain the first."""
    keras = import_keras()
    members = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.name.startswith("member")
    ]
    return members or [model]
