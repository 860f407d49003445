"""The learning-rate range test (Smith 2017; fastai's ``lr_find``)."""

import math
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from .._keras import import_keras
from ..dropout import DropoutCNN
from .figures import plot_lr_find


@dataclass
class LRFinderResult:
    """Losses of a learning-rate range test.

    Attributes
    ----------
    learning_rates : ndarray
        The learning rate of each training step (growing exponentially).
    losses : ndarray
        The training loss at each step, smoothed (exponential moving average).
    suggestion : float
        A learning rate to train with: where the smoothed loss falls fastest
        (NaN when too few steps ran to tell).
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    suggestion: float

    def plot(self, ax=None):
        """Loss against learning rate (log scale), the suggestion marked;
        see :func:`cnnfix.plotting.plot_lr_find`. Returns the axes."""
        return plot_lr_find(self, ax=ax)


def lr_find(
    estimator,
    X,
    y,
    *,
    start_lr=1e-7,
    end_lr=10.0,
    num_steps=100,
    smoothing=0.98,
    diverge=4.0,
):
    """Train briefly while the learning rate grows from ``start_lr`` to
    ``end_lr``; return the losses and a suggested learning rate.

    The estimator (a cnnfix CNN) is cloned; each of ``num_steps`` batches
    uses a learning rate ``(end_lr / start_lr) ** (1 / num_steps)`` times
    the previous one. The test stops early once the smoothed loss exceeds
    ``diverge`` times its minimum. The suggestion is the learning rate where
    the smoothed loss falls fastest (steepest negative slope against log
    learning rate) before its minimum, after the first tenth of the steps.

    Parameters
    ----------
    estimator : DropoutCNN
        Its architecture, optimizer and preprocessing are used; not modified.
    X, y : array-like
        Training images and labels.
    start_lr, end_lr : float, default=1e-7, 10.0
        The range of learning rates.
    num_steps : int, default=100
        Training steps (batches) of the test.
    smoothing : float, default=0.98
        Weight of the exponential moving average of the loss.
    diverge : float, default=4.0
        Stop when the smoothed loss exceeds this multiple of its minimum.

    Returns
    -------
    LRFinderResult

    Examples
    --------
    >>> from cnnfix import DropoutCNN, lr_find
    >>> from cnnfix.datasets import load_digit_images
    >>> X, y = load_digit_images()
    >>> result = lr_find(DropoutCNN(random_state=0), X, y, num_steps=60)
    >>> 1e-5 < result.suggestion < 1.0
    True
    """
    if not isinstance(estimator, DropoutCNN):
        raise TypeError(
            "lr_find tests one architecture, so it needs a DropoutCNN (tune "
            "TunedCNNClassifier's learning rate with its search space); got "
            f"{type(estimator).__name__}."
        )
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"Expected 0 < start_lr < end_lr; got start_lr={start_lr}, end_lr={end_lr}."
        )
    record = {"lr": [], "loss": []}
    factor = (end_lr / start_lr) ** (1 / num_steps)
    callback = _range_test(record, start_lr, factor, num_steps, smoothing, diverge)
    # A clone that trains on all of X for at least num_steps batches, its
    # learning rate set by the range test alone (no schedule).
    probe = clone(estimator)
    probe.set_params(
        epochs=math.ceil(num_steps / max(1, math.ceil(len(X) / probe.batch_size))),
        validation_split=0.0,
        early_stopping=False,
        lr_schedule=None,
        callbacks=[*(probe.callbacks or []), callback],
        verbose=0,
    ).fit(X, y)
    learning_rates, losses = np.asarray(record["lr"]), np.asarray(record["loss"])
    return LRFinderResult(learning_rates, losses, _suggest(learning_rates, losses))


def _range_test(record, start_lr, factor, num_steps, smoothing, diverge):
    """A Keras callback that sets the learning rate of step i to
    ``start_lr * factor**i``, appends the learning rate and the smoothed
    (bias-corrected moving average) loss of each step to ``record``, and
    stops training after ``num_steps`` steps or once the loss diverges."""

    class RangeTest(import_keras().callbacks.Callback):
        step, average, best = 0, 0.0, math.inf  # per instance once assigned

        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(start_lr * factor**self.step)

        def on_train_batch_end(self, batch, logs=None):
            loss = float(logs["loss"])
            self.step += 1
            self.average = smoothing * self.average + (1 - smoothing) * loss
            smoothed = self.average / (1 - smoothing**self.step)
            record["lr"].append(start_lr * factor ** (self.step - 1))
            record["loss"].append(smoothed)
            self.best = min(self.best, smoothed)
            if (
                self.step >= num_steps
                or not math.isfinite(smoothed)
                or smoothed > diverge * self.best
            ):
                self.model.stop_training = True

    return RangeTest()


def _suggest(learning_rates, losses):
    """The learning rate of the steepest fall of the loss before its minimum,
    skipping the first tenth of the steps (the moving average settling)."""
    finite = np.isfinite(losses)
    skip = finite.sum() // 10
    lr, loss = learning_rates[finite][skip:], losses[finite][skip:]
    end = int(np.argmin(loss)) + 1 if len(loss) else 0
    if end < 3:
        return float(lr[0]) if len(lr) else float("nan")
    return float(lr[int(np.argmin(np.gradient(loss[:end], np.log(lr[:end]))))])
