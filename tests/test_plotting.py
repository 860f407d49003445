"""lr_find and the plots: they run on a fitted CNN and draw what they say."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from cnnfix import (
    DropoutCNN,
    diagnose,
    lr_find,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_history,
)
from cnnfix.diagnostics import LRFinderResult
from cnnfix.plotting import plot_lr_find

from .conftest import TINY


@pytest.fixture(scope="module")
def fitted(small_digits):
    return DropoutCNN(**TINY, validation_split=0.2).fit(*small_digits)


def test_lr_find_sweeps_and_suggests(small_digits):
    X, y = small_digits
    estimator = DropoutCNN(**TINY)
    result = lr_find(estimator, X, y, num_steps=40, end_lr=1.0)
    lrs = result.learning_rates
    assert np.all(np.diff(lrs) > 0) and lrs[0] == pytest.approx(1e-7)
    assert len(result.losses) == len(lrs) <= 40
    assert lrs[0] <= result.suggestion <= lrs[-1]
    assert estimator.callbacks is None  # the estimator passed in is untouched
    assert result.plot().get_xscale() == "log"


def test_lr_find_alone_sets_the_learning_rate_under_a_schedule(small_digits):
    # The estimator's cooldown would lower the rate in the last epochs.
    import keras

    used = []

    class Used(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            used.append(float(self.model.optimizer.learning_rate.numpy()))

    estimator = DropoutCNN(**TINY, lr_schedule="cooldown", callbacks=[Used()])
    result = lr_find(estimator, *small_digits, num_steps=40, end_lr=1.0)
    np.testing.assert_allclose(used, result.learning_rates, rtol=1e-5)


def test_plot_lr_find_draws_the_curve_and_the_suggestion():
    import matplotlib.pyplot as plt

    lrs = np.geomspace(1e-4, 1.0, 20)
    result = LRFinderResult(lrs, np.linspace(2.3, 0.5, 20), suggestion=1e-2)
    ax = plt.subplots()[1]
    assert plot_lr_find(result, ax=ax) is ax
    curve, mark = ax.lines
    np.testing.assert_allclose(curve.get_xdata(), lrs)
    assert list(mark.get_xdata()) == [1e-2, 1e-2]
    assert ax.get_legend().get_texts()[0].get_text() == "suggestion 0.01"


def test_lr_find_stops_when_the_loss_diverges(small_digits):
    X, y = small_digits
    result = lr_find(DropoutCNN(**TINY), X, y, num_steps=300, end_lr=1e4)
    assert len(result.losses) < 300  # stopped early
    assert result.suggestion < 10


def test_lr_find_needs_a_dropout_cnn(small_digits):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="needs a DropoutCNN"):
        lr_find(LogisticRegression(), *small_digits)


def test_plot_history(fitted):
    loss_ax, accuracy_ax = plot_history(fitted)
    assert accuracy_ax.get_title() == "accuracy"
    assert len(loss_ax.lines) == 2  # training and validation
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), fitted.history_["loss"])


def test_plot_confusion_matrix(fitted, small_digits):
    display = plot_confusion_matrix(fitted, *small_digits)
    assert display.confusion_matrix.shape == (3, 3)
    np.testing.assert_allclose(display.confusion_matrix.sum(axis=1), 1.0)


def test_plot_feature_maps(fitted, small_digits):
    X, _ = small_digits
    fig = plot_feature_maps(fitted, X[0], max_channels=4)
    # One row per convolution (two in the one block): the input and 4 channels.
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert rows == ["conv0", "conv0_1"]
    assert len(fig.axes) == len(rows) * 5


def test_plot_diagnosis(digits):
    X, y = digits
    X = X.copy()
    X[:30] *= 0.25
    fig = diagnose(X, y, checks="data").plot(X)
    titles = [sub.get_suptitle() for sub in fig.subfigs]
    assert any(t.startswith("dark_images") for t in titles)


def test_plots_refuse_unfitted_estimators():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_history(DropoutCNN())


@pytest.fixture(scope="module")
def named(small_digits):
    """A tiny CNN fitted on digits 0-2 labelled "zero", "one", "two"."""
    X, y = small_digits
    labels = np.array(["zero", "one", "two"])[y]
    return DropoutCNN(**TINY).fit(X, labels), X, labels


def test_plot_gradcam_overlays_heat_maps(named):
    from cnnfix.plotting import plot_gradcam

    cnn, X, y = named
    fig = plot_gradcam(cnn, X[:20], y[:20], max_images=6, ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert all(len(ax.images) == 2 for ax in shown)  # image, heat map
    predicted = cnn.predict(X[:6])
    assert [ax.get_title() for ax in shown] == [
        f"{t} / {p}" for t, p in zip(y[:6], predicted, strict=True)
    ]
    heat = shown[0].images[1].get_array()
    assert heat.shape == (8, 8) and 0 <= heat.min() and heat.max() <= 1


def test_plot_top_losses_shows_the_worst_with_labels_and_loss(named):
    from cnnfix.diagnostics import top_losses
    from cnnfix.plotting import plot_top_losses

    cnn, X, y = named
    worst = top_losses(cnn, X, y, k=4)
    fig = plot_top_losses(cnn, X, y, k=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == [
        f"{t} / {p}\nloss {loss:.2f}"
        for t, p, loss in zip(worst.true, worst.predicted, worst.losses, strict=True)
    ]
    np.testing.assert_array_equal(
        shown[0].images[0].get_array(), X[worst.indices[0], ..., 0]
    )


def test_plot_reliability_diagram_draws_accuracy_per_bin():
    import matplotlib.pyplot as plt

    from cnnfix.plotting import plot_reliability_diagram

    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.4, 0.6]])
    y = np.array(["cat", "dog", "dog", "dog"])
    ax = plot_reliability_diagram(y, proba, n_bins=5, ax=plt.subplots()[1])
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [1.0, 1.0, 0.5]  # bins 0.6-0.8 twice, 0.8-1.0
    assert ax.get_title() == "Reliability (ECE 0.375)"
    with pytest.raises(ValueError, match=r"Expected proba of shape .* \(4, 2\)"):
        plot_reliability_diagram(y, proba[:, :1])
    with pytest.raises(ValueError, match="not among classes"):
        plot_reliability_diagram(y, proba, classes=["cat", "eel"])


def test_plot_diagnosis_shows_the_reliability_of_out_of_fold_probabilities():
    from cnnfix.diagnostics import Diagnosis

    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], 60)
    details = {"class_counts": {"a": 30, "b": 30}, "proba": proba}
    details["y_encoded"] = rng.integers(0, 3, 60)
    fig = Diagnosis([], ["training"], details).plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("Out-of-fold reliability (ECE") for t in titles)
    assert not any(
        "reliability" in ax.get_title() for ax in Diagnosis([], []).plot().axes
    )
