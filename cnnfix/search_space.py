"""The search space of TunedCNNClassifier: what it samples from build_cnn.

A dict space maps :func:`cnnfix.build_cnn` arguments to choices (a list), a
range (a ``(low, high)`` tuple, log scale for the learning rate) or a fixed
value; :func:`make_hypermodel` turns it into a keras-tuner HyperModel. One
architecture definition serves DropoutCNN and the search.
"""

import math
from numbers import Integral, Real

from .architectures import build_cnn, compile_cnn

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "FIXED_VALUES",
    "build_from_values",
    "check_search_space",
    "hyperband_trials",
    "make_hypermodel",
]

#: What a search samples when ``search_space=None``. A list is a choice; a
#: (low, high) pair a range (log scale for the learning rate).
DEFAULT_SEARCH_SPACE = {
    "n_blocks": [1, 2, 3],
    "filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.5),
    "learning_rate": (1e-4, 1e-2),
}

#: Values of the names a search space does not mention: DropoutCNN's defaults.
#: ``n_blocks`` blocks get ``filters``, ``2 * filters``, ``4 * filters``, ...
FIXED_VALUES = {
    "n_blocks": 2,
    "filters": 32,
    "kernel_size": 3,
    "pool_size": 2,
    "batch_norm": True,
    "conv_dropout": 0.0,
    "dense_units": 128,
    "dropout": 0.5,
    "weight_decay": 0.0,
    "learning_rate": 1e-3,
    "optimizer": "adam",
}

LOG_SCALE = {"learning_rate"}


def check_search_space(space):
    """Raise a clear error for names or values a dict space cannot use."""
    unknown = sorted(set(space) - set(FIXED_VALUES))
    if unknown:
        raise ValueError(
            f"search_space names {unknown}, which the CNN builder does not take. "
            f"Valid names: {sorted(FIXED_VALUES)}."
        )
    for name, spec in space.items():
        if isinstance(spec, list) and not spec:
            raise ValueError(f"search_space[{name!r}] is an empty list of choices.")
        if isinstance(spec, tuple) and (
            len(spec) != 2
            or not all(isinstance(v, Real) for v in spec)
            or spec[0] > spec[1]
        ):
            raise ValueError(
                f"search_space[{name!r}] = {spec!r}: a tuple must be a (low, high) "
                "range of numbers with low <= high; use a list for choices."
            )


def sample(hp, name, spec):
    """One builder argument drawn from keras-tuner's ``hp`` by ``spec``."""
    if isinstance(spec, list):
        if all(isinstance(v, bool) for v in spec):  # hp.Choice would give 0/1
            return hp.Boolean(name) if len(set(spec)) == 2 else spec[0]
        return hp.Choice(name, spec)
    if isinstance(spec, tuple):
        low, high = spec
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in spec):
            return hp.Int(name, low, high)
        scale = "log" if name in LOG_SCALE else "linear"
        return hp.Float(name, float(low), float(high), sampling=scale)
    return spec  # a fixed value


def build_from_values(values, input_shape, n_classes, normalization, augmentation):
    """Compile the CNN for one set of search-space values."""
    params = {**FIXED_VALUES, **values}
    filters, n_blocks = int(params.pop("filters")), int(params.pop("n_blocks"))
    learning_rate, optimizer = params.pop("learning_rate"), params.pop("optimizer")
    model = build_cnn(
        input_shape,
        n_classes,
        conv_filters=tuple(filters * 2**i for i in range(n_blocks)),
        normalization=normalization,
        augmentation=augmentation,
        name="tuned_cnn",
        **params,
    )
    return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)


def make_hypermodel(space, input_shape, n_classes, normalization, augmentation):
    """A keras-tuner HyperModel sampling ``space`` (a dict) into build_cnn."""
    import keras_tuner as kt

    class CNNHyperModel(kt.HyperModel):
        def build(self, hp):
            values = {name: sample(hp, name, spec) for name, spec in space.items()}
            return build_from_values(
                values, input_shape, n_classes, normalization, augmentation
            )

    return CNNHyperModel(name="cnnfix_cnn")


def hyperband_trials(max_epochs, factor):
    """How many trials keras-tuner's Hyperband runs (one iteration).

    The same bracket sizes as ``keras_tuner.oracles.HyperbandOracle``; fewer
    trials run when a small space makes samples collide.
    """
    n_brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs /= factor
        n_brackets += 1
    last_round_size = math.ceil(1 + math.log(max_epochs, factor))
    return sum(
        math.ceil(last_round_size / (bracket + 1) * factor ** (bracket - round_))
        for bracket in range(n_brackets)
        for round_ in range(bracket + 1)
    )
