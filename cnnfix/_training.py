"""The one training loop: every cnnfix model is trained by :func:`train`.

DropoutCNN, both phases of TransferCNN, and TunedCNNClassifier's trials and
finalists describe a run as a :class:`Plan` and hand it here with the model
(built and compiled) and the data (from :mod:`cnnfix._input`). This module
owns what ``model.fit`` gets besides the data: early stopping, the
learning-rate schedules, deadlines and the progress output. The rules that
steer it are the fields of one :class:`TrainingPolicy`.

The ``lr_schedule`` values every CNN estimator takes:

- None keeps the learning rate;
- "plateau" multiplies it by ``plateau_factor`` each time the monitored
  loss has not improved for ``max(1, patience // plateau_wait)`` epochs;
- "cooldown" does the same, and in the last ``cooldown_share`` of the
  planned epochs (``epochs``, or fewer where a deadline predicts fewer) the
  rate falls linearly, batch by batch, to 0, and training stops there.
"""

import math
import time
from dataclasses import dataclass, field
from statistics import median_high as median  # always a measured value

from ._keras import import_keras

#: The values of every CNN estimator's ``lr_schedule`` parameter.
LR_SCHEDULES = ("plateau", "cooldown")


@dataclass(frozen=True)
class TrainingPolicy:
    """The constants of the training loop, each with its rule.

    Attributes
    ----------
    plateau_factor : float, default=0.2
        A plateau multiplies the learning rate by this (scikit-learn's MLP
        ``learning_rate="adaptive"`` divides by 5 too).
    plateau_wait : int, default=3
        A plateau is ``max(1, patience // plateau_wait)`` epochs without a
        better loss, so early stopping sees a few smaller steps first.
    cooldown_share : float, default=0.2
        The cooldown spans this share of the planned epochs (at least one):
        the last fifth, as warmup-stable-decay schedules end a run of any
        length (Hägele et al., 2024). Chosen by ``benchmarks/run_all.py
        --only tuned_fashion``.
    planned_steps : int, default=6000
        ``epochs="auto"`` plans the epochs that make about this many
        gradient steps (see :func:`planned_epochs`): a length in steps
        suits data sets of any size, where a length in epochs starves
        small ones (batch normalisation's moving averages need a few
        hundred steps to settle). Chosen on a validation part by
        ``benchmarks/bench_defaults.py --explore``.
    max_planned_epochs : int, default=30
        The most epochs ``epochs="auto"`` plans: small data sets train
        longer in steps than large ones, within a bounded time.
    """

    plateau_factor: float = 0.2
    plateau_wait: int = 3
    cooldown_share: float = 0.2
    planned_steps: int = 6000
    max_planned_epochs: int = 30


@dataclass(frozen=True)
class Plan:
    """How one model trains: everything :func:`train` needs besides the data.

    Attributes
    ----------
    epochs : int
        Most epochs.
    early_stopping : bool, default=True
        Stop after ``patience`` epochs without a better monitored value and
        restore the best epoch's weights.
    patience : int, default=10
        Epochs without improvement before early stopping (and, divided by
        ``policy.plateau_wait``, before a plateau drop).
    lr_schedule : None, "plateau" or "cooldown", default=None
        See the module's docstring.
    objective : (str, str) or None, default=None
        ``(metric, direction)`` that early stopping watches, ``direction``
        "min" or "max", a tie going to the lower loss of the same data.
        None (or a loss) stops on the loss, as Keras's ``EarlyStopping``.
        Names are of the validation data ("val_accuracy"); without
        validation data the training metric is watched instead.
    deadline : float or None, default=None
        A time (of ``clock``) by which training ends: it stops when its
        next epoch, as long as the longest so far, would end later.
    callbacks : tuple of keras.callbacks.Callback, default=()
        The user's callbacks, run first, as given.
    verbose : int, default=0
        Keras's ``verbose``: 0 silent, 1 a progress bar, 2 a line an epoch.
    policy : TrainingPolicy, default=TrainingPolicy()
        The loop's constants.
    """

    epochs: int
    early_stopping: bool = True
    patience: int = 10
    lr_schedule: str | None = None
    objective: tuple | None = None
    deadline: float | None = None
    callbacks: tuple = ()
    verbose: int = 0
    policy: TrainingPolicy = field(default_factory=TrainingPolicy)


def planned_epochs(n_samples, batch_size, policy=TrainingPolicy()):
    """Epochs of ``epochs="auto"``: the fewest that make
    ``policy.planned_steps`` gradient steps of ``batch_size`` over
    ``n_samples`` images, at most ``policy.max_planned_epochs``.

    Examples
    --------
    >>> planned_epochs(54000, 64), planned_epochs(1212, 64)
    (8, 30)
    """
    steps_per_epoch = max(1, math.ceil(n_samples / batch_size))
    epochs = math.ceil(policy.planned_steps / steps_per_epoch)
    return max(1, min(policy.max_planned_epochs, epochs))


def train(model, data, validation_data, plan, *, clock=time.time):
    """Train a compiled ``model`` as ``plan`` says; return its history.

    Parameters
    ----------
    model : keras.Model
        Built and compiled.
    data : dict
        ``model.fit``'s data arguments (``x``, ``y``, ``sample_weight``,
        ``batch_size``, ``shuffle``...), as :mod:`cnnfix._input` makes them.
    validation_data : tuple, dataset or None
        ``model.fit``'s ``validation_data``.
    plan : Plan
        Epochs, stopping, schedule, deadline, callbacks and verbosity.
    clock : callable, default=time.time
        The clock that ``plan.deadline`` is a time of.

    Returns
    -------
    history : dict of str to list of float
        Keras's per-epoch logs.
    """
    return model.fit(
        **data,
        validation_data=validation_data,
        epochs=plan.epochs,
        callbacks=callbacks(plan, validation_data is not None, clock=clock),
        verbose=plan.verbose,
    ).history


def callbacks(plan, has_validation, *, clock=time.time):
    """The Keras callbacks of ``plan``: the user's, then the plateau
    schedule, early stopping and the deadline or cooldown, all watching the
    validation data's metrics when ``has_validation`` (else the training
    data's)."""
    keras = import_keras()
    monitor = "val_loss" if has_validation else "loss"
    found = list(plan.callbacks)
    if plan.lr_schedule in LR_SCHEDULES:
        found.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=plan.policy.plateau_factor,
                patience=max(1, plan.patience // plan.policy.plateau_wait),
            )
        )
    if plan.early_stopping:
        # The objective named for the data at hand; a loss stops as Keras does.
        metric, direction = plan.objective or ("loss", "min")
        metric = ("val_" if has_validation else "") + metric.removeprefix("val_")
        found.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=plan.patience, restore_best_weights=True
            )
            if metric.endswith("loss")
            else objective_callback(metric, direction, plan.patience)
        )
    if plan.lr_schedule == "cooldown" or plan.deadline is not None:
        found.append(
            deadline_callback(
                plan.deadline,
                cooldown=plan.lr_schedule == "cooldown",
                share=plan.policy.cooldown_share,
                clock=clock,
            )
        )
    return found


def best_epoch(history, objective=None):
    """The 0-based epoch early stopping keeps from ``history``: the best by
    ``objective`` (``(metric, direction)``, the lower loss of the same data
    breaking ties), or by the lowest loss when ``objective`` is None. The
    last epoch when the history lacks the metric."""
    metric, direction = objective or ("val_loss", "min")
    if metric not in history:
        metric = metric.removeprefix("val_")
    if metric not in history:
        return max(len(next(iter(history.values()), [])) - 1, 0)
    loss = "val_loss" if metric.startswith("val_") else "loss"
    sign = -1.0 if direction == "min" else 1.0
    losses = history.get(loss, [0.0] * len(history[metric]))
    pairs = zip(history[metric], losses, strict=True)
    keys = [(sign * float(value), -float(tie)) for value, tie in pairs]
    return keys.index(max(keys))  # the first of equal epochs


def objective_callback(objective, direction, patience):
    """Early stopping on ``objective`` (a metric name, ``direction`` "min" or
    "max"), a tie going to the lower loss of the same data (``val_loss``, or
    ``loss``); training stops after ``patience`` epochs without a better
    epoch, whose weights are then restored. An accuracy moves in steps of
    one image, so epochs tie; the first of them is not the most trained,
    and the loss alone would keep weights from before a drop of the
    learning rate."""
    keras = import_keras()
    loss = "val_loss" if objective.startswith("val_") else "loss"
    sign = -1.0 if direction == "min" else 1.0

    class Converged(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.wait, self.best, self.best_epoch, self.best_weights = 0, None, 0, None

        def on_epoch_end(self, epoch, logs=None):
            key = (sign * float(logs[objective]), -float(logs[loss]))
            self.wait += 1  # counted as Keras's EarlyStopping counts
            if self.best is None or key > self.best:
                self.best, self.best_epoch, self.wait = key, epoch, 0
                self.best_weights = self.model.get_weights()
            elif self.wait >= patience and epoch > 0:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return Converged()


def deadline_callback(deadline=None, *, cooldown=False, share=0.2, clock=time.time):
    """A Keras callback for a deadline and the cooldown.

    With a ``deadline`` (a time of ``clock``), training stops when the next
    epoch, as long as the longest so far, would end past it; the first
    epoch, which traces the graph, counts only until there is another.

    With ``cooldown``, each epoch's start predicts how many epochs are left:
    the fit's ``epochs`` less those run, or fewer where the deadline allows
    fewer at the median epoch's length so far (the first, which traces the
    graph, left out; with a deadline, from the third epoch on, when one
    epoch without the tracing has been measured). Once they are at most
    ``share`` of all the epochs (at least one), the learning rate falls
    linearly, batch by batch, from its value to 0 just after the last of
    them, and training stops there. Each
    epoch's start predicts again and spreads the rest of the fall over what
    is left then. A drop made meanwhile by another callback
    (``ReduceLROnPlateau``) scales the rest of the fall. The cooled epochs'
    rates are logged as ``learning_rate``. An optimizer whose rate is a
    schedule keeps it.
    """
    keras = import_keras()
    end = math.inf if deadline is None else deadline

    class Deadline(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # `last`: the last epoch of a cooldown, once planned.
            self.durations, self.batches, self.last = [], 0, None
            # A schedule (or a callable) computes the rate: not settable.
            rate = self.model.optimizer.learning_rate
            self.cooling = cooldown and isinstance(rate, keras.Variable)

        def on_epoch_begin(self, epoch, logs=None):
            self.started = clock()
            measured = 2 if deadline is not None else 1  # past the tracing
            if not self.cooling or len(self.durations) < measured:
                return
            # Epochs from this one on that the plan and the deadline allow.
            left = self.params["epochs"] - epoch
            length = median(self.durations[1:] or self.durations)
            ahead = end - self._longest() - self.started
            if length > 0 and ahead < (left - 1) * length:  # the deadline first
                left = max(int(ahead // length) + 1, 1)
            if self.last is None:
                if left > max(1, math.ceil(share * (epoch + left))):
                    return
                self.factor = 1.0  # of `base`: the rate when it starts
            # The fall so far continues from `factor` to 0 one step after
            # the left epochs' batches; a drop since scales `base`.
            self.base = current_learning_rate(self.model) / self.factor
            self.last, self.top = epoch + left - 1, self.factor
            self.steps, self.step = left * self.batches, 0

        def _longest(self):
            """The longest epoch, the first (its tracing) only while alone."""
            return max(self.durations[1:] or self.durations)

        # Batch hooks only at a batch's start: one at its end would make
        # Keras wait for every batch's logs (no asynchronous dispatch).
        def on_train_batch_begin(self, batch, logs=None):
            if not self.durations:  # the first epoch counts its batches
                self.batches += 1
            if self.last is None:
                return
            self.step += 1
            self.factor = self.top * (1.0 - self.step / (self.steps + 1))
            self.model.optimizer.learning_rate = self.base * self.factor

        def on_epoch_end(self, epoch, logs=None):
            self.durations.append(clock() - self.started)
            if self.last is not None:
                if logs is not None:
                    logs["learning_rate"] = current_learning_rate(self.model)
                if epoch >= self.last:
                    self.model.stop_training = True
            if clock() + self._longest() > end:
                self.model.stop_training = True

    return Deadline()


def current_learning_rate(model):
    """The optimizer's current learning rate, as a Python float."""
    return float(import_keras().ops.convert_to_numpy(model.optimizer.learning_rate))
