"""ClassBalancer with the CNN estimators: pipelines, the balancer parameter,
streaming and grid search."""

import numpy as np
import pytest
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline

from cnnfix import ClassBalancer, DropoutCNN, make_pipeline
from cnnfix._input.pipeline import training_arguments

from .conftest import TINY


def fit_arguments(X, y, classes, *, sample_weight=None, balancer, random_state=None):
    """The training arguments of images with ``balancer``, as a fit makes them."""
    return training_arguments(
        X,
        y,
        sample_weight,
        classes=classes,
        balancer=balancer,
        batch_size=32,
        seed=random_state,
        image_shape=X.shape[1:],
        cache=False,
    )


@pytest.fixture(scope="module")
def skewed(small_digits):
    """Classes 0, 1, 2 in the ratio 100 : 20 : 10."""
    X, y = small_digits
    keep = np.concatenate(
        [
            np.flatnonzero(y == c)[:n]
            for c, n in zip(range(3), (100, 20, 10), strict=True)
        ]
    )
    return X[keep], y[keep]


def test_imblearn_pipeline_balances_fit_only(skewed):
    X, y = skewed
    pipe = make_pipeline(ClassBalancer(random_state=0), DropoutCNN(**TINY)).fit(X, y)
    balancer = pipe.named_steps["classbalancer"]
    n_max = np.bincount(y).max()
    assert np.bincount(y[balancer.sample_indices_]).tolist() == [n_max] * 3
    assert pipe.predict(X).shape == (len(X),)  # nothing resampled at predict


def test_balancer_parameter_balances_only_the_training_part(skewed):
    X, y = skewed
    balancer = ClassBalancer(random_state=0)
    clf = DropoutCNN(**TINY, balancer=balancer).fit(X, y)
    assert not hasattr(balancer, "sampling_strategy_")  # the parameter is untouched
    # 10% of each class went to validation first; the rest was balanced.
    counts = np.bincount(y)
    n_train = counts - np.floor(0.1 * counts + 0.5).astype(int)
    added = {c: n_train.max() - n_train[c] for c in (1, 2)}
    assert clf.balancer_.sampling_strategy_ == added
    assert len(clf.balancer_.sample_indices_) == 3 * n_train.max()


def test_balancer_is_tunable_in_a_plain_sklearn_pipeline(skewed):
    X, y = skewed
    pipe = sklearn_make_pipeline(DropoutCNN(**TINY, balancer=ClassBalancer()))
    assert pipe.get_params()["dropoutcnn__balancer__strategy"] == "oversample"
    search = GridSearchCV(
        pipe, {"dropoutcnn__balancer__strategy": ["oversample", "undersample"]}, cv=2
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 2
    # The grid's value reached the balancer inside the CNN: the refit model
    # trained on data resampled by the chosen strategy.
    chosen = search.best_params_["dropoutcnn__balancer__strategy"]
    fitted = search.best_estimator_[-1].balancer_
    assert fitted.strategy == chosen
    counts = np.bincount(y)
    n_train = counts - np.floor(0.1 * counts + 0.5).astype(int)
    size = n_train.max() if chosen == "oversample" else n_train.min()
    assert len(fitted.sample_indices_) == 3 * size


def test_balancer_seed_comes_from_the_estimator(skewed):
    X, y = skewed
    clf = DropoutCNN(**TINY, balancer=ClassBalancer())
    first = clone(clf).fit(X, y).balancer_.sample_indices_
    second = clone(clf).fit(X, y).balancer_.sample_indices_
    np.testing.assert_array_equal(first, second)


def test_dict_strategy_uses_the_original_labels(skewed):
    X, y = skewed
    names = np.array(["zero", "one", "two"])[y]
    balancer = ClassBalancer("undersample", sampling_strategy={"zero": 30})
    clf = DropoutCNN(**TINY, balancer=balancer).fit(X, names)
    assert clf.balancer_.sampling_strategy_ == {"zero": 30}
    assert set(clf.predict(X)) <= {"zero", "one", "two"}


@pytest.mark.parametrize("strategy", ["oversample", "smote"])
def test_weights_and_labels_follow_the_resampled_rows(skewed, strategy):
    X, y = skewed
    classes = np.array(["nut", "bolt", "washer"])  # not sorted: encode first
    classes, y = np.unique(classes[y], return_inverse=True)
    weights = np.arange(len(y), dtype=np.float32)
    data, balancer = fit_arguments(
        X, y, classes, sample_weight=weights, balancer=ClassBalancer(strategy)
    )
    rows = np.sort(balancer.source_indices())
    batches = [[np.asarray(column) for column in batch] for batch in data["x"]]
    _, labels, drawn = (np.concatenate(column) for column in zip(*batches, strict=True))
    order = np.argsort(drawn, kind="stable")  # the weights name the input rows
    np.testing.assert_array_equal(drawn[order], weights[rows])
    np.testing.assert_array_equal(labels[order], y[rows])
    # Balanced by the original labels: every class as large as the largest.
    assert np.bincount(labels).tolist() == [np.bincount(y).max()] * 3


def test_fit_arguments_seed_only_an_unseeded_balancer(skewed):
    X, y = skewed
    classes = np.unique(y)
    _, seeded = fit_arguments(X, y, classes, balancer=ClassBalancer(), random_state=7)
    assert seeded.random_state == 7
    _, own = fit_arguments(
        X, y, classes, balancer=ClassBalancer(random_state=1), random_state=7
    )
    assert own.random_state == 1


def test_imblearn_samplers_without_row_indices_cannot_carry_weights(skewed):
    from imblearn.over_sampling import SMOTE

    X, y = skewed
    with pytest.raises(ValueError, match="cannot follow them"):
        fit_arguments(
            X,
            y,
            np.unique(y),
            sample_weight=np.ones(len(y), dtype=np.float32),
            balancer=SMOTE(k_neighbors=3),
        )


def test_other_imblearn_samplers_get_flat_rows(skewed):
    X, y = skewed
    clf = DropoutCNN(**TINY, balancer=RandomUnderSampler(random_state=0)).fit(X, y)
    assert len(clf.balancer_.sample_indices_) == 3 * 9
    assert clf.predict_proba(X[:4]).shape == (4, 3)


def test_streaming_balancer_trains_without_materialising(skewed):
    X, y = skewed
    clf = DropoutCNN(**TINY, balancer=ClassBalancer(stream=True)).fit(X, y)
    assert not hasattr(clf.balancer_, "sample_indices_")
    assert clf.n_epochs_ == TINY["epochs"] and "val_loss" in clf.history_


@pytest.mark.slow
def test_balancing_beats_no_balancing_on_10_to_1_digits(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    keep = np.concatenate(
        [np.flatnonzero(y_train == c)[: 80 if c < 5 else 8] for c in range(10)]
    )
    X_train, y_train = X_train[keep], y_train[keep]  # 80 : 8 per class
    cnn = DropoutCNN(conv_filters=(8, 16), dense_units=32, epochs=20, random_state=0)
    plain = GridSearchCV(
        make_pipeline(cnn),
        {"dropoutcnn__dropout": [0.25, 0.5]},
        cv=2,
        scoring="balanced_accuracy",
    ).fit(X_train, y_train)
    balanced = GridSearchCV(
        make_pipeline(ClassBalancer(k_neighbors=3, random_state=0), cnn),
        {"classbalancer__strategy": ["oversample", "smote"]},
        cv=2,
        scoring="balanced_accuracy",
    ).fit(X_train, y_train)
    plain_score = balanced_accuracy_score(y_test, plain.predict(X_test))
    balanced_score = balanced_accuracy_score(y_test, balanced.predict(X_test))
    assert balanced_score > plain_score + 0.05


class RecordingBalancer(ClassBalancer):
    """A ClassBalancer that records the labels of every streamed epoch."""

    def resample_indices(self, y, random_state=None):
        indices = super().resample_indices(y, random_state)
        labels, counts = np.unique(y[indices], return_counts=True)
        self.__dict__.setdefault("epochs_drawn", []).append(
            (len(y), dict(zip(labels.tolist(), counts.tolist(), strict=True)))
        )
        return indices


def relabel(y, names):
    return np.asarray(names)[np.asarray(y)]


@pytest.mark.parametrize(
    "names",
    [["zero", "one", "two"], [9, 3, 7]],
    ids=["strings", "shuffled ints"],
)
def test_streaming_balances_labels_that_are_not_0_to_k(skewed, names):
    X, y = skewed
    y = relabel(y, names)
    clf = DropoutCNN(**TINY, balancer=RecordingBalancer(stream=True)).fit(X, y)
    for _, counts in clf.balancer_.epochs_drawn:
        assert set(counts) == set(names)
        assert len(set(counts.values())) == 1, counts  # every class equally


def test_streaming_follows_a_dict_strategy_keyed_by_labels(skewed):
    X, y = skewed
    y = relabel(y, ["zero", "one", "two"])
    balancer = RecordingBalancer(sampling_strategy={"one": 60, "two": 60}, stream=True)
    clf = DropoutCNN(**TINY, balancer=balancer).fit(X, y)
    n_train = np.unique(y, return_counts=True)[1] - np.round(
        0.1 * np.unique(y, return_counts=True)[1]
    )
    for _, counts in clf.balancer_.epochs_drawn:
        assert counts["one"] == counts["two"] == 60
        assert counts["zero"] == n_train[2]  # np.unique sorts: one, two, zero
