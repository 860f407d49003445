"""The search space of TunedCNNClassifier: what it samples from the builders.

A dict space maps builder arguments to choices (a list), a range (a
``(low, high)`` tuple, log scale for the learning rate) or a fixed value;
:func:`make_hypermodel` turns it into a keras-tuner HyperModel. A space
without ``backbone`` samples :func:`cnnfix.build_cnn` (the network of
DropoutCNN); a space naming ``backbone`` samples
:func:`cnnfix._backbones.build_transfer_cnn` (the network of TransferCNN). One
architecture definition serves each estimator and the search.

Each sampled name's keras-tuner default is the estimator's value where the
choices or the range include it; the oracle of :mod:`cnnfix._oracle` makes
those defaults a trial (the first for random and Bayesian search, the first
of Hyperband's last bracket) and the first finalist.
"""

from numbers import Integral, Real

from ._backbones import BACKBONES, build_transfer_cnn
from .architectures import build_cnn, compile_cnn

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "FIXED_VALUES",
    "NO_AUGMENTATION",
    "TRANSFER_VALUES",
    "build_from_values",
    "check_search_space",
    "make_hypermodel",
    "plain_values",
]

#: What a search samples when ``search_space=None``. A list is a choice; a
#: (low, high) pair a range (log scale for the learning rate).
#: DropoutCNN's defaults are inside it (a trial and the first finalist); it adds
#: the levers that move accuracy most on real images: augmentation, batch
#: norm, width, depth (blocks, and convolutions in each), dropout, learning
#: rate and weight decay. The learning rate spans one decade around Adam's
#: 1e-3: the finalists' plateau schedule (``lr_schedule="auto"``) lowers it
#: themselves, and a trial of a few epochs on a sample cannot see that a low
#: starting rate converges too slowly for the finalists' time (measured on
#: 60,000 Fashion-MNIST images with (1e-4, 1e-2): the challenger sampled at
#: 1.7e-4 reached 0.9287 after 17 epochs; the same blocks with DropoutCNN's
#: head at 1e-3, trained outside cnnfix, 0.9315 after 9). Starting the range
#: at 1e-3 did not help within the hour on 2 slow cores: with (1e-3, 3e-3)
#: the same challenger, sampled at 1.1e-3, reached 0.9080 after 6 epochs
#: (0.9153 after 7 at 3.9e-4 from this range), and the fit 0.9261 on test
#: (0.9266 from this range; both before the finalists' cooldown).
DEFAULT_SEARCH_SPACE = {
    "n_blocks": [1, 2, 3],
    "convs_per_block": [1, 2],
    "filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.6),
    "weight_decay": [0.0, 1e-4, 1e-3],
    "augmentation": [None, "light", "standard"],
    "learning_rate": (3e-4, 3e-3),
}

#: Values of the names a search space does not mention: DropoutCNN's defaults.
#: ``n_blocks`` blocks get ``filters``, ``2 * filters``, ``4 * filters``, ...
FIXED_VALUES = {
    "n_blocks": 2,
    "convs_per_block": 1,
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

#: Values of the names a space with ``backbone`` does not mention. A trial
#: trains in one phase, so the default is the head only
#: (``fine_tune_layers=0``: TransferCNN's phase one); searching
#: ``fine_tune_layers`` trains the top of the backbone from the start.
TRANSFER_VALUES = {
    "backbone": "MobileNetV3Small",
    "weights": "imagenet",
    "image_size": None,
    "fine_tune_layers": 0,
    "dropout": 0.2,
    "learning_rate": 1e-3,
    "optimizer": "adam",
    "augmentation": None,
}

LOG_SCALE = {"learning_rate"}

#: How None is named to keras-tuner, whose choices are numbers, strings or
#: booleans of one type: a list of choices that mixes None or types (for
#: example ``[None, "light"]`` or ``[0, 20, "all"]``) is searched as strings.
NO_AUGMENTATION = "none"

#: Names whose choices may mix None or types (searched as strings, see
#: :func:`plain_values`).
MIXED_NAMES = {"augmentation", "image_size", "fine_tune_layers", "weights"}


def fixed_values(space):
    """The values of the names ``space`` does not sample: TransferCNN's
    network when it names ``backbone``, else DropoutCNN's."""
    return TRANSFER_VALUES if "backbone" in space else FIXED_VALUES


def check_search_space(space):
    """Raise a clear error for names or values a dict space cannot use."""
    valid = fixed_values(space)
    unknown = sorted(set(space) - set(valid))
    if unknown:
        builder = "build_transfer_cnn" if "backbone" in space else "build_cnn"
        raise ValueError(
            f"search_space names {unknown}, which {builder} does not take. "
            f"Valid names: {sorted(valid)}."
            + (
                ""
                if "backbone" in space
                else f" Name 'backbone' to search TransferCNN's network, with "
                f"{sorted(set(TRANSFER_VALUES) - set(FIXED_VALUES))}."
            )
        )
    backbones = space.get("backbone")
    if isinstance(backbones, list) and not all(
        isinstance(b, str) and b in BACKBONES for b in backbones
    ):
        raise ValueError(
            f"search_space['backbone'] = {backbones!r}: choices must be names "
            f"of {sorted(BACKBONES)}. A callable backbone of your own is one "
            "fixed value, not a choice: search_space={'backbone': my_backbone, "
            "...}."
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
        numbers = isinstance(spec, list) and all(_is_number(v) for v in spec)
        if isinstance(spec, list) and not numbers and _mixed(spec):
            if name not in MIXED_NAMES:  # plain_values would not decode them
                raise ValueError(
                    f"search_space[{name!r}] = {spec!r} mixes None or types; "
                    "keras-tuner takes choices of one type. Only "
                    f"{sorted(MIXED_NAMES)} may mix them; give {name!r} choices "
                    "of one type."
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

    ``default`` is the hyperparameter's default (the defaults trial's value)
    when ``spec`` includes it; otherwise keras-tuner's own default: the
    first choice, the low end of a range.
    """
    if isinstance(spec, list) and all(_is_number(v) for v in spec):
        if len({type(v) for v in spec}) > 1:  # [0, 0.25, 0.5]: floats
            spec = [float(v) for v in spec]
    if isinstance(spec, list) and _mixed(spec):
        names = [_label(v) for v in spec]
        default = _label(default) if _label(default) in names else None
        return _unlabel(hp.Choice(name, names, default=default))
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


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _mixed(choices):
    """Whether keras-tuner cannot take ``choices`` as they are: None among
    them, or more than one type."""
    return any(v is None for v in choices) or len({type(v) for v in choices}) > 1


def _label(value):
    """A choice as keras-tuner's string: None as "none", 20 as "20"."""
    return NO_AUGMENTATION if value is None else str(value)


def _unlabel(label):
    """A string choice back to its value (the inverse of :func:`_label`)."""
    if not isinstance(label, str):
        return label
    if label == NO_AUGMENTATION:
        return None
    return int(label) if label.isdigit() else label


def plain_values(values):
    """A trial's values as the builder takes them: choices searched as
    strings (None, or mixed types) back to their values."""
    return {
        name: _unlabel(v) if name in MIXED_NAMES else v for name, v in values.items()
    }


def build_from_values(values, input_shape, n_classes, normalization):
    """Compile the network for one set of search-space values: TransferCNN's
    when they name ``backbone``, else DropoutCNN's CNN."""
    if "backbone" in values:
        return _build_transfer(values, input_shape, n_classes, normalization)
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


def _build_transfer(values, input_shape, n_classes, normalization):
    """Compile TransferCNN's network for one set of values. A named backbone
    applies its own preprocessing to 0-255 pixels, so ``normalization`` is
    used only with a callable one."""
    params = {**TRANSFER_VALUES, **plain_values(values)}
    learning_rate, optimizer = params.pop("learning_rate"), params.pop("optimizer")
    if isinstance(params["backbone"], str):
        normalization = None
    model = build_transfer_cnn(
        input_shape, n_classes, normalization=normalization, **params
    )
    return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)


def make_hypermodel(space, input_shape, n_classes, normalization, defaults=None):
    """A keras-tuner HyperModel sampling ``space`` (a dict) into build_cnn
    (or build_transfer_cnn, when ``space`` names ``backbone``).

    ``defaults`` (default :data:`FIXED_VALUES`, or :data:`TRANSFER_VALUES`
    for a space with ``backbone``) gives each sampled name its default,
    which the defaults trial and finalist take (see :mod:`cnnfix._oracle`),
    and fixes the names ``space`` does not sample.
    """
    import keras_tuner as kt

    defaults = {**fixed_values(space), **(defaults or {})}

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
