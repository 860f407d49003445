"""The one training loop, cnnfix._training: early stopping on an objective,
the deadline and the cooldown, on stand-in models and on a fake clock."""

from dataclasses import replace

import keras
import numpy as np
import pytest

from cnnfix._training import (
    Plan,
    TrainingPolicy,
    best_epoch,
    callbacks,
    deadline_callback,
    objective_callback,
    planned_epochs,
)


class _Weights:
    """A stand-in for a Keras model whose weights are the epoch's number."""

    def __init__(self):
        self.epoch, self.restored, self.stop_training = 0, None, False

    def get_weights(self):
        return self.epoch

    def set_weights(self, weights):
        self.restored = weights


#: (val_accuracy, val_loss) per epoch: accuracy ties at 0.95 (epochs 1, 2,
#: 4); the loss is lowest at epoch 3, after the accuracy peaked.
EPOCHS = [(0.90, 0.30), (0.95, 0.25), (0.95, 0.20), (0.94, 0.10)]
EPOCHS += [(0.95, 0.22), (0.93, 0.15), (0.99, 0.01)]


@pytest.mark.parametrize(
    "objective, direction, best, stopped",
    [("val_accuracy", "max", 2, 4), ("val_loss", "min", 3, 5)],
)
def test_stopping_on_the_objective_a_tie_going_to_the_lower_loss(
    objective, direction, best, stopped
):
    stopper = objective_callback(objective, direction, patience=2)
    model = _Weights()
    stopper.set_model(model)
    stopper.on_train_begin()
    for epoch, (accuracy, loss) in enumerate(EPOCHS):
        model.epoch = epoch
        stopper.on_epoch_end(epoch, {"val_accuracy": accuracy, "val_loss": loss})
        if model.stop_training:
            break
    stopper.on_train_end()
    assert (stopper.best_epoch, model.restored, epoch) == (best, best, stopped)


def test_best_epoch_is_the_one_early_stopping_keeps():
    history = {
        "val_accuracy": [a for a, _ in EPOCHS[:5]],
        "val_loss": [loss for _, loss in EPOCHS[:5]],
    }
    assert best_epoch(history, ("val_accuracy", "max")) == 2  # the tie's lower loss
    assert best_epoch(history) == 3  # the lowest loss
    assert best_epoch({"loss": [1.0, 0.5]}, ("val_accuracy", "max")) == 1


class _Clock:
    """A clock moved on by the test."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _clocked_fit(deadline, cooldown, epochs, seconds, rate=1e-3, drop=None, share=0.2):
    """Fit a tiny model (4 batches an epoch) with the deadline callback on a
    fake clock: batch n (from 1) takes ``seconds(n)``; ``drop`` = (epoch,
    factor) multiplies the rate at that epoch's end, as ReduceLROnPlateau
    would. Return the rate of every batch (a row per epoch) and the
    history."""
    clock = _Clock()
    rates = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))
            clock.now += seconds(len(rates))

        def on_epoch_end(self, epoch, logs=None):
            if drop is not None and epoch == drop[0]:
                self.model.optimizer.learning_rate = rates[-1] * drop[1]

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(rate), "mse")
    X, y = np.zeros((16, 3), "float32"), np.zeros((16, 2), "float32")
    deadline = deadline_callback(deadline, cooldown=cooldown, share=share, clock=clock)
    history = model.fit(
        X, y, batch_size=4, epochs=epochs, verbose=0, callbacks=[deadline, Record()]
    ).history
    return np.asarray(rates).reshape(-1, 4), history


@pytest.mark.parametrize(
    "epochs, budget, first, later, drop, cooled",
    [
        (10, 1e9, 1.0, 1.0, 1.0, range(8, 10)),
        (100, 10 * 4 + 0.5, 1.0, 1.0, 1.0, range(8, 10)),
        (100, 10 * 4 + 0.5, 1.0, 1.0, 0.2, range(8, 10)),
        (100, 10 * 4 + 0.5, 1.0, 0.5, 1.0, range(8, 10)),
        (100, 10 * 4 + 0.5, 2.0, 1.0, 1.0, range(7, 9)),
    ],
    ids=["epochs", "deadline", "plateau-drop", "faster-epochs", "slow-first-epoch"],
)
def test_a_run_cools_down_over_its_last_epochs(
    epochs, budget, first, later, drop, cooled
):
    def seconds(n):
        # 1 s a batch (4 an epoch); `first` in the first epoch (its graph
        # tracing), `later` once the cooldown has started.
        if n <= 4:
            return first
        return 1.0 if n <= 4 * cooled[0] else later

    # Ten epochs end by the budget (or the fit's epochs; nine when the
    # first, twice as long, takes the time of two: its tracing does not
    # recur, so the later epochs are not predicted as long); the last
    # fifth (two epochs) cools down, and training ends with it, even when
    # its epochs turn out faster than the deadline needs.
    rates, history = _clocked_fit(budget, True, epochs, seconds, drop=(cooled[0], drop))
    assert len(rates) == cooled[-1] + 1
    assert np.allclose(rates[: cooled[0]], 1e-3)
    # Linear, from the rate to 0 one step after the last batch.
    falling = 1e-3 * (1 - np.arange(1, 9) / 9)
    falling[4:] *= drop  # a drop scales the rest of the fall
    assert np.allclose(rates[cooled[0] :].ravel(), falling)
    assert np.allclose(history["learning_rate"], rates[cooled[0] :, -1])


def test_the_cooldown_spans_its_share_of_the_epochs():
    rates, _ = _clocked_fit(1e9, True, 10, lambda n: 1.0, share=0.4)
    assert len(rates) == 10
    assert np.allclose(rates[:6], 1e-3)  # the last 4 of 10 epochs fall
    assert np.allclose(rates[6:].ravel(), 1e-3 * (1 - np.arange(1, 17) / 17))


def test_the_deadline_keeps_kerass_asynchronous_batch_dispatch():
    # Keras waits for each batch's logs when a callback overrides a hook at
    # a batch's end; the deadline must not.
    callback = type(deadline_callback(0.0, cooldown=True))
    assert callback.on_train_batch_end is keras.callbacks.Callback.on_train_batch_end
    assert callback.on_batch_end is keras.callbacks.Callback.on_batch_end


def test_without_cooldown_the_deadline_keeps_the_rate():
    rates, _ = _clocked_fit(10 * 4 + 0.5, False, 100, lambda n: 1.0)
    assert len(rates) == 10  # the deadline alone stops it
    assert np.allclose(rates, 1e-3)


def test_a_scheduled_rate_is_not_cooled_down():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 4, 0.5)
    rates, history = _clocked_fit(float("inf"), True, 5, lambda n: 1.0, rate=schedule)
    assert len(rates) == 5  # trained to its epochs, the schedule kept
    assert "learning_rate" not in history
    assert np.allclose(rates.ravel(), 1e-3 * 0.5 ** (np.arange(1, 21) / 4))


def test_a_plan_makes_its_callbacks_by_its_policy():
    policy = TrainingPolicy(plateau_factor=0.5, plateau_wait=2)
    plan = Plan(epochs=5, patience=4, lr_schedule="plateau", policy=policy)
    plateau, stopping = callbacks(plan, has_validation=True)
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.5, 2)
    assert (stopping.monitor, stopping.patience) == ("val_loss", 4)
    # An objective without validation data watches the training metric; a
    # deadline or a cooldown adds the deadline callback last.
    plan = replace(plan, lr_schedule=None, objective=("val_accuracy", "max"))
    (stopper,) = callbacks(plan, has_validation=False)
    assert type(stopper).__name__ == "Converged"
    *_, deadline = callbacks(replace(plan, deadline=10.0), has_validation=False)
    assert type(deadline).__name__ == "Deadline"


def test_planned_epochs_make_the_policy_s_steps_within_its_ceiling():
    policy = TrainingPolicy(planned_steps=100, max_planned_epochs=7)
    assert planned_epochs(1000, 50, policy) == 5  # 20 steps an epoch
    assert planned_epochs(1001, 50, policy) == 5  # 21: 5 epochs pass 100
    assert planned_epochs(990, 100, policy) == 7  # 10 steps an epoch: 10 > 7
    assert planned_epochs(10**6, 32, policy) == 1  # one epoch is plenty
    assert planned_epochs(3, 64, policy) == 7  # smaller than a batch
