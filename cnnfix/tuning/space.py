"""The search space of TunedCNNClassifier: what it samples from the builders.

A dict space maps builder arguments to choices (a list), a range (a
``(low, high)`` tuple, log scale for the learning rate) or a fixed value;
:func:`build_sampled` builds its samples. A space
without ``backbone`` samples :func:`cnnfix.build_cnn` (the network of
DropoutCNN) by its own argument names; a space naming ``backbone`` samples
:func:`cnnfix._backbones.build_transfer_cnn` (the network of TransferCNN).
One architecture definition serves each estimator and the search.

``conv_filters`` takes a tuple of ints (one per block) as its value, so
for it a tuple is one fixed value, never a range, and a list is choices of
such tuples.

Each sampled name's keras-tuner default is the estimator's value where the
choices or the range include it; the oracle of
:mod:`cnnfix.tuning.adapter` makes those defaults a trial and the first
finalist.
"""

from inspect import signature
from numbers import Integral, Real

from .._backbones import BACKBONES, build_transfer_cnn
from ..architectures import build_cnn, compile_cnn
from ..dropout import DropoutCNN

#: What a search samples when ``search_space=None``. A list is a choice; a
#: (low, high) pair a range (log scale for the learning rate). DropoutCNN's
#: defaults are inside it; it adds the levers that move accuracy most on
#: real images: residual blocks, batch norm, width and depth (one, two or
#: three blocks of 16 to 128 filters, doubling at each block, and one or two
#: convolutions in each), dropout, learning rate, weight decay and
#: augmentation (searched only under a long ``time_budget``, see
#: ``BudgetPolicy.augmentation_budget``). The learning rate spans one decade
#: around Adam's 1e-3: the finalists' schedule lowers it themselves, and a
#: trial of a few epochs cannot see that a low starting rate converges too
#: slowly for the finalists' time (``benchmarks/bench_tuned_fashion.py``;
#: see the tuning guide).
DEFAULT_SEARCH_SPACE = {
    "conv_filters": [
        tuple(width * 2**block for block in range(depth))
        for depth in (1, 2, 3)
        for width in (16, 32, 64, 128)
    ],
    "convs_per_block": [1, 2],
    "residual": [False, True],
    "kernel_size": [3, 5],
    "batch_norm": [True, False],
    "dense_units": [64, 128, 256],
    "dropout": (0.0, 0.6),
    "weight_decay": [0.0, 1e-4, 1e-3],
    "augmentation": [None, "light", "standard"],
    "learning_rate": (3e-4, 3e-3),
}


def _dropout_defaults():
    """The defaults of the arguments of build_cnn and compile_cnn that a
    space may name: DropoutCNN's where it takes them (one definition of the
    defaults), the builder's own for the others (``residual``, ``head``)."""
    builders = {**signature(build_cnn).parameters, **signature(compile_cnn).parameters}
    own = signature(DropoutCNN).parameters
    return {
        name: (own[name] if name in own else parameter).default
        for name, parameter in builders.items()
        if parameter.kind is parameter.KEYWORD_ONLY
        and name not in ("normalization", "name")
    }


#: Values of the names a search space does not mention: DropoutCNN's
#: defaults, read from its signature, and build_cnn's for the arguments
#: DropoutCNN does not take.
FIXED_VALUES = _dropout_defaults()

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

#: Names whose value is a tuple of ints (searched as strings such as
#: "32-64", see :func:`plain_values`): a tuple is their fixed value.
SEQUENCE_NAMES = {"conv_filters"}


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
        renamed = (
            " Depth and width are one name, as in build_cnn: conv_filters, "
            "for example [(16,), (32, 64)] for choices."
            if {"filters", "n_blocks"} & set(unknown)
            else ""
        )
        raise ValueError(
            f"search_space names {unknown}, which {builder} does not take. "
            f"Valid names: {sorted(valid)}."
            + (
                ""
                if "backbone" in space
                else f" Name 'backbone' to search TransferCNN's network, with "
                f"{sorted(set(TRANSFER_VALUES) - set(FIXED_VALUES))}."
            )
            + renamed
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
        if name in SEQUENCE_NAMES:  # a tuple of positive ints, or a list of them
            for choice in spec if isinstance(spec, list) else [spec]:
                if not (
                    isinstance(choice, tuple | list)
                    and choice
                    and all(_is_integer(v) and v >= 1 for v in choice)
                ):
                    raise ValueError(
                        f"search_space[{name!r}] = {spec!r}: give a tuple of positive "
                        "ints, one per block, or a list of such tuples to choose "
                        f"from; for example [(16,), (32, 64)]. Got {choice!r}."
                    )
            continue
        if isinstance(spec, tuple) and (
            len(spec) != 2
            or not all(isinstance(v, Real) for v in spec)
            or spec[0] > spec[1]
        ):
            raise ValueError(
                f"search_space[{name!r}] = {spec!r}: a tuple must be a (low, high) "
                "range of numbers with low <= high; use a list for choices."
            )
        # plain_values decodes the mixed choices of MIXED_NAMES only.
        if isinstance(spec, list) and _mixed(spec) and name not in MIXED_NAMES:
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
        return next((v for v in spec if type(v) is type(value) and v == value), None)
    low, high = spec
    return value if _is_number(value) and low <= value <= high else None


def sample(hp, name, spec, default=None):
    """One builder argument drawn from keras-tuner's ``hp`` by ``spec``.

    ``default`` is the hyperparameter's default (the defaults trial's value)
    when ``spec`` includes it; otherwise keras-tuner's own default: the
    first choice, the low end of a range.
    """
    if name in SEQUENCE_NAMES and not isinstance(spec, list):
        return tuple(spec)  # a fixed value
    if isinstance(spec, tuple):
        low, high = spec
        default = _allowed(default, spec)
        if all(_is_integer(v) for v in spec):
            return hp.Int(name, low, high, default=default)
        scale = "log" if name in LOG_SCALE else "linear"
        default = None if default is None else float(default)
        return hp.Float(name, float(low), float(high), sampling=scale, default=default)
    if not isinstance(spec, list):
        return spec  # a fixed value
    if name in SEQUENCE_NAMES or _mixed(spec):  # searched as strings
        labels, label = [_label(name, v) for v in spec], _label(name, default)
        chosen = hp.Choice(name, labels, default=label if label in labels else None)
        return _plain(name, chosen)
    if len({type(v) for v in spec}) > 1:  # numbers of several types: floats
        spec = [float(v) for v in spec]
    default = _allowed(default, spec)
    if all(isinstance(v, bool) for v in spec):  # hp.Choice would give 0/1
        if len(set(spec)) == 2:
            return hp.Boolean(name, default=bool(default))
        return spec[0]
    return hp.Choice(name, spec, default=default)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_integer(value):
    return _is_number(value) and isinstance(value, Integral)


def _mixed(choices):
    """Whether keras-tuner cannot take ``choices`` as they are: None among
    them, or more than one type (numbers aside: they are searched as
    floats)."""
    if all(_is_number(v) for v in choices):
        return False
    return any(v is None for v in choices) or len({type(v) for v in choices}) > 1


def _label(name, value):
    """A choice as keras-tuner's string: None as "none", 20 as "20", a tuple
    of :data:`SEQUENCE_NAMES` as "32-64"."""
    if name in SEQUENCE_NAMES and value is not None:
        return "-".join(str(int(v)) for v in value)
    return NO_AUGMENTATION if value is None else str(value)


def plain_values(values):
    """A trial's values as the builder takes them: choices searched as
    strings (None, mixed types, tuples) back to their values."""
    return {name: _plain(name, value) for name, value in values.items()}


def _plain(name, value):
    """A value searched as a string back to its own (the inverse of
    :func:`_label`)."""
    if not isinstance(value, str) or name not in MIXED_NAMES | SEQUENCE_NAMES:
        return value
    if name in SEQUENCE_NAMES:
        return tuple(int(v) for v in value.split("-"))
    if value == NO_AUGMENTATION:
        return None
    return int(value) if value.isdigit() else value


def build_sampled(space, own, input_shape, n_classes, normalization, hp):
    """Compile the network of the values keras-tuner's ``hp`` draws from
    ``space`` (a dict): TransferCNN's when it names ``backbone``, else
    DropoutCNN's CNN; ``hp`` comes last, for ``functools.partial``.

    Each name's default is :data:`FIXED_VALUES` (or :data:`TRANSFER_VALUES`
    for a space with ``backbone``) updated with ``own`` (the estimator's
    ``learning_rate``, ``optimizer`` and ``augmentation``): sampled names
    take it as their keras-tuner default (the defaults' trial and
    finalist), the others are fixed at it. A named backbone applies its own
    preprocessing to 0-255 pixels, so ``normalization`` is used only with a
    callable one.
    """
    defaults = {**fixed_values(space), **own}
    values = {
        name: sample(hp, name, spec, defaults.get(name)) for name, spec in space.items()
    }
    params = plain_values({**defaults, **values})
    learning_rate, optimizer = params.pop("learning_rate"), params.pop("optimizer")
    if "backbone" not in params:
        build, params = build_cnn, {**params, "name": "tuned_cnn"}
    else:
        build = build_transfer_cnn
        if isinstance(params["backbone"], str):
            normalization = None
    model = build(input_shape, n_classes, normalization=normalization, **params)
    return compile_cnn(model, optimizer=optimizer, learning_rate=learning_rate)


def default_values(hyperparameters):
    """The default of every active hyperparameter of a keras-tuner space
    (conditional ones only where their condition holds)."""
    import keras_tuner as kt

    values = kt.HyperParameters()
    for hp in hyperparameters.space:
        values.merge([hp])
        if values.is_active(hp):
            values.values[hp.name] = hp.default
    return values.values
