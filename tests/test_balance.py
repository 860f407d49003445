"""ClassBalancer behaviour: counts, rows, seeds, SMOTE, streaming, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from cnnfix import ClassBalancer
from cnnfix._input.batches import balanced_batches
from cnnfix.balance import gather


def imbalanced(counts, shape=(4, 4, 1), dtype=np.float32, seed=0):
    """Images whose first pixel encodes the row number, labels by ``counts``."""
    rng = np.random.default_rng(seed)
    n = sum(counts)
    X = rng.random((n, *shape)).astype(dtype)
    X.reshape(n, -1)[:, 0] = np.arange(n)
    y = np.repeat(np.arange(len(counts)), counts)
    return X, y


class_counts = st.lists(st.integers(2, 30), min_size=2, max_size=5)


@settings(max_examples=40, deadline=None)
@given(
    counts=class_counts,
    strategy=st.sampled_from(["oversample", "undersample", "hybrid"]),
    seed=st.integers(0, 2**16),
)
def test_counts_rows_and_seed(counts, strategy, seed):
    X, y = imbalanced(counts)
    X_copy = X.copy()
    balancer = ClassBalancer(strategy, random_state=seed)
    X_res, y_res = balancer.fit_resample(X, y)
    expected = {
        "oversample": max(counts),
        "undersample": min(counts),
        "hybrid": int(np.median(counts)),
    }[strategy]
    assert np.bincount(y_res).tolist() == [expected] * len(counts)
    # Every output row is the input row named by sample_indices_, label included.
    np.testing.assert_array_equal(X_res, X[balancer.sample_indices_])
    np.testing.assert_array_equal(y_res, y[balancer.sample_indices_])
    assert X_res.dtype == X.dtype and X_res.shape[1:] == X.shape[1:]
    np.testing.assert_array_equal(X, X_copy)
    X_again, y_again = ClassBalancer(strategy, random_state=seed).fit_resample(X, y)
    np.testing.assert_array_equal(X_again, X_res)
    np.testing.assert_array_equal(y_again, y_res)


@settings(max_examples=25, deadline=None)
@given(counts=class_counts, seed=st.integers(0, 2**16))
def test_oversampling_keeps_every_original_row(counts, seed):
    X, y = imbalanced(counts)
    balancer = ClassBalancer(random_state=seed).fit(X, y)
    balancer.fit_resample(X, y)
    assert set(balancer.sample_indices_) == set(range(len(y)))


@pytest.mark.parametrize(
    "strategy, sampler, sampling_strategy",
    [
        ("oversample", RandomOverSampler, "minority"),
        ("oversample", RandomOverSampler, "not majority"),
        ("oversample", RandomOverSampler, 0.5),
        ("oversample", RandomOverSampler, {0: 40, 2: 45}),
        ("oversample", RandomOverSampler, lambda y: {1: 50}),
        ("undersample", RandomUnderSampler, "majority"),
        ("undersample", RandomUnderSampler, "not minority"),
        ("undersample", RandomUnderSampler, 0.5),
        ("undersample", RandomUnderSampler, {0: 5, 1: 3}),
        ("undersample", RandomUnderSampler, "all"),
    ],
)
def test_sampling_strategy_means_what_it_means_in_imblearn(
    strategy, sampler, sampling_strategy
):
    X, y = imbalanced([40, 10] if isinstance(sampling_strategy, float) else [40, 10, 4])
    _, y_ours = ClassBalancer(
        strategy, sampling_strategy=sampling_strategy
    ).fit_resample(X, y)
    _, y_imblearn = sampler(sampling_strategy=sampling_strategy).fit_resample(
        X.reshape(len(X), -1), y
    )
    assert np.bincount(y_ours).tolist() == np.bincount(y_imblearn).tolist()


def test_hybrid_with_a_dict_sets_final_sizes():
    X, y = imbalanced([40, 10, 4])
    _, y_res = ClassBalancer("hybrid", sampling_strategy={0: 20, 2: 20}).fit_resample(
        X, y
    )
    assert np.bincount(y_res).tolist() == [20, 10, 20]


def test_shuffle():
    X, y = imbalanced([50, 5])
    _, y_shuffled = ClassBalancer(random_state=0).fit_resample(X, y)
    assert np.any(np.diff(y_shuffled) < 0)  # not sorted by class
    _, y_grouped = ClassBalancer(shuffle=False, random_state=0).fit_resample(X, y)
    assert np.all(np.diff(y_grouped) >= 0)


def test_string_labels_and_any_rank():
    X = np.arange(24 * 2 * 3 * 2 * 1).reshape(24, 2, 3, 2, 1)  # 5-D
    y = np.array(["cat"] * 20 + ["dog"] * 4)
    X_res, y_res = ClassBalancer(random_state=0).fit_resample(X, y)
    assert X_res.shape == (40, 2, 3, 2, 1) and X_res.dtype == X.dtype
    assert sorted(set(y_res)) == ["cat", "dog"] and (y_res == "dog").sum() == 20


def test_smote_interpolates_within_each_class():
    X, y = imbalanced([30, 8], dtype=np.float64)
    X[y == 1] += 10  # class 1 lives in [10, 11) apart from the row-number pixel
    balancer = ClassBalancer("smote", k_neighbors=3, random_state=0)
    X_res, y_res = balancer.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [30, 30]
    assert not hasattr(balancer, "sample_indices_")
    np.testing.assert_array_equal(y_res, y[balancer.source_indices()])
    originals = {row.tobytes() for row in X}
    synthetic = np.array([row for row in X_res if row.tobytes() not in originals])
    assert len(synthetic) == 22  # the output is shuffled: found by content
    flat = synthetic.reshape(len(synthetic), -1)[:, 1:]
    assert np.all((flat >= 10) & (flat < 11))  # between class-1 images only


def test_smote_keeps_integer_dtype():
    X, y = imbalanced([30, 8], dtype=np.float64)
    X = (X * 255).astype(np.uint8)
    X_res, _ = ClassBalancer("smote", k_neighbors=3, random_state=0).fit_resample(X, y)
    assert X_res.dtype == np.uint8 and X_res.shape[1:] == X.shape[1:]


@pytest.mark.parametrize(
    "balancer, make_bad, message",
    [
        (
            ClassBalancer(),
            lambda X, y: (X, np.zeros_like(y)),
            r"more than 1 class\. Got 1 class instead\. Balancing needs",
        ),
        (ClassBalancer(), lambda X, y: (X[:0], y[:0]), r"0 sample\(s\)"),
        (ClassBalancer(), lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
        (
            ClassBalancer(sampling_strategy={7: 50}),
            lambda X, y: (X, y),
            r"The \{7\} target class is/are not present.*Use labels that occur in y",
        ),
        (
            ClassBalancer(sampling_strategy={0: 10}),
            lambda X, y: (X, y),
            "should be greater or equal.*use strategy='undersample' or 'hybrid'",
        ),
        (
            ClassBalancer("hybrid", sampling_strategy={9: 5}),
            lambda X, y: (X, y),
            r"names classes \[9\] that are not in y",
        ),
        (
            ClassBalancer("hybrid", sampling_strategy="minority"),
            lambda X, y: (X, y),
            "strategy='hybrid' takes sampling_strategy 'auto', 'all'",
        ),
        (
            ClassBalancer("smote"),
            lambda X, y: (X, y),
            r"more than k_neighbors=5 samples.*class 1 has 4.*Lower k_neighbors",
        ),
        (
            ClassBalancer("smote", k_neighbors=2),
            lambda X, y: (np.where(X > 0.9, np.nan, X), y),
            "cannot use images with NaN",
        ),
        (
            ClassBalancer("sideways"),
            lambda X, y: (X, y),
            "'strategy' parameter of ClassBalancer",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(balancer, make_bad, message):
    X, y = make_bad(*imbalanced([30, 4]))
    X_copy, y_copy = X.copy(), y.copy()
    with pytest.raises(ValueError, match=message):
        balancer.fit_resample(X, y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_nan_is_fine_when_rows_are_only_copied():
    X, y = imbalanced([30, 4])
    X[0, 0, 0, 0] = np.nan
    X_res, _ = ClassBalancer(random_state=0).fit_resample(X, y)
    assert np.isnan(X_res).sum() >= 1


def test_balanced_batches_draw_balanced_epochs_by_index():
    X, y = imbalanced([60, 6, 3])
    weights = np.arange(len(y), dtype=np.float32)
    balancer = ClassBalancer(random_state=0).fit(X, y)
    batches = balanced_batches(X, y, balancer, batch_size=16, sample_weight=weights)
    assert len(batches) == -(-180 // 16)

    def one_epoch():
        parts = [batches[i] for i in range(len(batches))]
        return [np.concatenate(p) for p in zip(*parts, strict=True)]

    X_epoch, y_epoch, w_epoch = one_epoch()
    assert np.bincount(y_epoch).tolist() == [60, 60, 60]
    rows = X_epoch.reshape(len(X_epoch), -1)[:, 0].astype(int)  # row numbers
    np.testing.assert_array_equal(y_epoch, y[rows])
    np.testing.assert_array_equal(w_epoch, weights[rows])
    batches.on_epoch_end()
    _, y_next, _ = one_epoch()
    assert np.bincount(y_next).tolist() == [60, 60, 60]
    assert not np.array_equal(batches.indices, np.sort(batches.indices))


def test_streaming_refuses_smote():
    X, y = imbalanced([30, 8])
    balancer = ClassBalancer("smote", random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="cannot create SMOTE images"):
        balanced_batches(X, y, balancer)


def test_threaded_gather_equals_fancy_indexing():
    X, y = imbalanced([300, 7], shape=(5, 3, 2))
    threads = {"parallel_bytes": 0, "workers": 2}  # force threads
    idx = np.random.default_rng(0).integers(0, len(X), 1001)
    np.testing.assert_array_equal(gather(X, idx, **threads), X[idx])
    # The balancer's own rows, gathered by threads, are its output.
    balancer = ClassBalancer(random_state=0)
    X_res, _ = balancer.fit_resample(X, y)
    np.testing.assert_array_equal(gather(X, balancer.sample_indices_, **threads), X_res)


def test_switching_to_smote_drops_stale_sample_indices():
    X, y = imbalanced([30, 8])
    balancer = ClassBalancer(random_state=0)
    balancer.fit_resample(X, y)
    balancer.set_params(strategy="smote", k_neighbors=3).fit_resample(X, y)
    assert not hasattr(balancer, "sample_indices_")
    assert len(balancer.source_indices()) == 60
