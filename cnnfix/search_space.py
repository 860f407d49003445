"""The search space of TunedCNNClassifier: what it samples from build_cnn.

A dict space maps :func:`cnnfix.build_cnn` arguments to choices (a list), a
range (a ``(low, high)`` tuple, log scale for the learning rate) or a fixed
value; :func:`make_hypermodel` turns it into a keras-tuner HyperModel. One
architecture definition serves DropoutCNN and the search.

Each sampled name's keras-tuner default is DropoutCNN's value where the
choices or the range include it, and :func:`defaults_first` makes an oracle
whose first trial takes every default, so a search starts from DropoutCNN
and only replaces it with something that scores better.
"""

import math
import time
from numbers import Integral, Real

from .architectures import build_cnn, compile_cnn

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "FIXED_VALUES",
    "build_from_values",
    "check_search_space",
    "default_values",
    "defaults_first",
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


def make_hypermodel(
    space, input_shape, n_classes, normalization, augmentation, defaults=None
):
    """A keras-tuner HyperModel sampling ``space`` (a dict) into build_cnn.

    ``defaults`` (default :data:`FIXED_VALUES`) gives each sampled name its
    default, which the first trial of a :func:`defaults_first` oracle takes.
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


def defaults_first(oracle_class):
    """A subclass of a keras-tuner oracle whose first trial takes every
    hyperparameter's default (see :func:`default_values`), which times its
    trials and which starts no trial past a deadline.

    The later trials are the oracle's own, and a sample equal to the
    defaults counts as a collision. A Hyperband oracle trains the defaults
    for its whole budget (``max_epochs``), outside its brackets, so they are
    compared with the configurations that survive to the last round. A
    resumed search (trials already there) does not add them again.

    The subclass takes two more keyword arguments. ``deadline`` (a
    ``time.time()`` value or None): once one trial has ended, no new trial
    starts when the mean trial duration plus ``refit_seconds`` (an
    attribute the tuner keeps up to date: what the work after the search
    will take) would end past it. ``durations`` maps trial ids to their
    seconds (kept in the oracle's saved state, so a resumed search has
    them too); ``stopped_by_deadline`` says whether the deadline ended it.
    """
    import keras_tuner as kt

    hyperband = issubclass(oracle_class, kt.oracles.HyperbandOracle)

    class DefaultsFirst(oracle_class):
        def __init__(self, *args, deadline=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.deadline, self.refit_seconds = deadline, 0.0
            self.durations, self.stopped_by_deadline = {}, False
            self._started = {}

        def populate_space(self, trial_id):
            if self.trials:
                if self._past_deadline():
                    self.stopped_by_deadline = True
                    return {"status": "STOPPED", "values": None}
                return super().populate_space(trial_id)
            values = default_values(self.hyperparameters)
            if hyperband:  # the whole budget, as the last round's trials
                values.update(
                    {"tuner/epochs": self.max_epochs, "tuner/initial_epoch": 0}
                )
            return {"status": "RUNNING", "values": values}

        def _past_deadline(self):
            if self.deadline is None or not self.durations:
                return False
            mean = sum(self.durations.values()) / len(self.durations)
            return time.time() + mean + self.refit_seconds > self.deadline

        @kt.synchronized
        def create_trial(self, tuner_id):
            trial = super().create_trial(tuner_id)
            if trial.status == "RUNNING":
                self._started.setdefault(trial.trial_id, time.time())
            return trial

        @kt.synchronized
        def end_trial(self, trial):
            started = self._started.pop(trial.trial_id, None)
            if started is not None:
                self.durations[trial.trial_id] = time.time() - started
            super().end_trial(trial)

        def get_state(self):
            return {**super().get_state(), "cnnfix_durations": self.durations}

        def set_state(self, state):
            super().set_state(state)
            self.durations = dict(state.get("cnnfix_durations", {}))

    DefaultsFirst.__name__ = DefaultsFirst.__qualname__ = (
        f"DefaultsFirst{oracle_class.__name__}"
    )
    return DefaultsFirst
