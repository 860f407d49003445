"""The search space of TunedCNNClassifier: what it samples from build_cnn.

A dict space maps :func:`cnnfix.build_cnn` arguments to choices (a list), a
range (a ``(low, high)`` tuple, log scale for the learning rate) or a fixed
value; :func:`make_hypermodel` turns it into a keras-tuner HyperModel. One
architecture definition serves DropoutCNN and the search.

Each sampled name's keras-tuner default is DropoutCNN's value where the
choices or the range include it; the oracle of :mod:`cnnfix._oracle` makes
those defaults the first trial.
"""

from numbers import Integral, Real

from .architectures import build_cnn, compile_cnn

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "FIXED_VALUES",
    "NO_AUGMENTATION",
    "build_from_values",
    "check_search_space",
    "make_hypermodel",
    "plain_values",
]

#: What a search samples when ``search_space=None``. A list is a choice; a
#: (low, high) pair a range (log scale for the learning rate).
#: DropoutCNN's defaults are inside it (they are the first trial); it adds
#: the levers that move accuracy most on real images: augmentation, batch
#: norm, width, depth, dropout, learning rate and weight decay.
DEFAULT_SEARCH_SPACE = {
    "n_blocks": [1, 2, 3],
    "filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.6),
    "weight_decay": [0.0, 1e-4, 1e-3],
    "augmentation": [None, "light", "standard"],
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
    "augmentation": None,
}

LOG_SCALE = {"learning_rate"}

#: How a choice of no augmentation (None) is named to keras-tuner, whose
#: choices are numbers, strings or booleans.
NO_AUGMENTATION = "none"


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


def _allowed(value, spec):
    """``value`` where ``spec`` (a list or a range) can take it, else None."""
    if isinstance(spec, list):
        # Compared with its type: True == 1, but True is no filter count.
        same = [v for v in spec if type(v) is type(value) and v == value]
        return same[0] if same else None
    low, high = spec
    is_number = isinstance(value, Real) and not isinstance(value, bool)
    return value if is_number and low <= value <= high else None


def sample(hp, name, spec, default=None):
    """One builder argument drawn from keras-tuner's ``hp`` by ``spec``.

    ``default`` is the hyperparameter's default (the first trial's value)
    when ``spec`` includes it; otherwise keras-tuner's own default: the
    first choice, the low end of a range.
    """
    if isinstance(spec, list) and any(v is None for v in spec):
        names = [NO_AUGMENTATION if v is None else v for v in spec]
        default = _allowed(NO_AUGMENTATION if default is None else default, names)
        value = hp.Choice(name, names, default=default)
        return None if value == NO_AUGMENTATION else value
    if isinstance(spec, list):
        default = _allowed(default, spec)
        if all(isinstance(v, bool) for v in spec):  # hp.Choice would give 0/1
            if len(set(spec)) == 2:
                return hp.Boolean(name, default=bool(default))
            return spec[0]
        return hp.Choice(name, spec, default=default)
    if isinstance(spec, tuple):
        low, high = spec
        default = _allowed(default, spec)
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in spec):
            return hp.Int(name, low, high, default=default)
        scale = "log" if name in LOG_SCALE else "linear"
        default = None if default is None else float(default)
        return hp.Float(name, float(low), float(high), sampling=scale, default=default)
    return spec  # a fixed value


def plain_values(values):
    """A trial's values as the builder takes them: keras-tuner's name of
    "no augmentation" back to None."""
    return {
        name: None if name == "augmentation" and v == NO_AUGMENTATION else v
        for name, v in values.items()
    }


def build_from_values(values, input_shape, n_classes, normalization):
    """Compile the CNN for one set of search-space values."""
    params = {**FIXED_VALUES, **plain_values(values)}
    filters, n_blocks = int(params.pop("filters")), int(params.pop("n_blocks"))
    learning_rate, optimizer = params.pop("learning_rate"), params.pop("optimizer")
    model = build_cnn(
        input_shape,
        n_classes,
        conv_filters=tuple(filters * 2**i for i in range(n_blocks)),
        normalization=normalization,
        name="tuned_cnn",
        **params,
    )
    return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)


def make_hypermodel(space, input_shape, n_classes, normalization, defaults=None):
    """A keras-tuner HyperModel sampling ``space`` (a dict) into build_cnn.

    ``defaults`` (default :data:`FIXED_VALUES`) gives each sampled name its
    default, which the first trial of the search takes (see
    :mod:`cnnfix._oracle`), and fixes the names ``space`` does not sample.
    """
    import keras_tuner as kt

    defaults = {**FIXED_VALUES, **(defaults or {})}

    class CNNHyperModel(kt.HyperModel):
        def build(self, hp):
            values = {
                name: sample(hp, name, spec, defaults.get(name))
                for name, spec in space.items()
            }
            return build_from_values(
                {**defaults, **values}, input_shape, n_classes, normalization
            )

    return CNNHyperModel(name="cnnfix_cnn")
