"""ClassBalancer: resampling for imbalanced image arrays, inside pipelines.

imbalanced-learn's samplers reject arrays of more than two dimensions. The
ClassBalancer works on any X with a leading sample axis: it decides *which*
rows to keep or repeat from the labels alone, then gathers them with one
``take`` (one allocation, the output), so image shape and dtype are kept and
the input is never copied twice. SMOTE interpolates same-class neighbours on
the flattened images and reshapes back.

For data that would not fit in memory twice, the CNN estimators draw
class-balanced mini-batches by index every epoch instead (``stream=True``;
see :mod:`cnnfix._input.batches`).
"""

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from imblearn.base import BaseSampler
from imblearn.pipeline import make_pipeline
from imblearn.utils import check_target_type
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._convert import to_python
from ._validation import as_paths, check_labels, refuse_single_path

__all__ = ["ClassBalancer", "gather", "make_pipeline"]

_SAMPLING_TYPE = {
    "oversample": "over-sampling",
    "smote": "over-sampling",
    "undersample": "under-sampling",
    "hybrid": "bypass",  # targets computed here: see _hybrid_targets
}


#: imbalanced-learn's messages say what is wrong; these say what to do.
_HINTS = {
    "greater or equal to the original number": (
        "Oversampling only adds samples: to shrink a class, use "
        "strategy='undersample' or 'hybrid'."
    ),
    "less or equal to the original number": (
        "Undersampling only removes samples: to grow a class, use "
        "strategy='oversample' or 'hybrid'."
    ),
    "not present in the data": "Use labels that occur in y as the dict keys.",
    "needs to have more than 1 class": (
        "Balancing needs samples of at least 2 classes: check y."
    ),
    "can be a float only when the type of target is binary": (
        "Pass a dict of class -> number of samples, or a string strategy."
    ),
}


@contextmanager
def _hints():
    """Append what to do to imbalanced-learn's known ValueErrors."""
    try:
        yield
    except ValueError as error:
        text = str(error).rstrip()
        hint = next((h for key, h in _HINTS.items() if key in text), None)
        if hint is None:
            raise
        end = "" if text.endswith((".", "!", "?")) else "."
        raise ValueError(f"{text}{end} {hint}") from error


class ClassBalancer(BaseSampler):
    """Resample imbalanced image arrays so that every class counts.

    An imbalanced-learn sampler: ``fit_resample(X, y)`` returns the resampled
    ``(X, y)``. As a step of :func:`cnnfix.make_pipeline` (imbalanced-learn's
    pipeline) it runs only during ``fit``, never at predict time. The CNN
    estimators also take it as their ``balancer`` parameter, which works in a
    plain scikit-learn Pipeline and balances only the training part of their
    validation split.

    Parameters
    ----------
    strategy : {"oversample", "undersample", "smote", "hybrid"}, \
default="oversample"
        "oversample" repeats random samples of the smaller classes (with
        replacement); "undersample" drops random samples of the larger
        classes; "smote" adds new images interpolated between a sample and
        one of its ``k_neighbors`` nearest same-class neighbours (on the
        flattened pixels); "hybrid" undersamples the classes above the median
        class size and oversamples those below it, so all meet in the middle.
    sampling_strategy : float, str, dict or callable, default="auto"
        Which classes to resample and to what size, with imbalanced-learn's
        meanings: "auto" (every class but the majority when oversampling,
        but the minority when undersampling), "minority", "majority"
        (undersampling only), "not minority",
        "not majority", "all"; a float is the desired ratio of the minority
        to the majority class; a dict maps a class to its desired number of
        samples; a callable ``f(y) -> dict``. With "hybrid", "auto" and "all"
        meet at the median class size and a dict (or callable) gives the
        final size of each class it names.
    k_neighbors : int, default=5
        Nearest same-class neighbours considered by SMOTE.
    shuffle : bool, default=True
        Shuffle the output; otherwise it is grouped by class.
    stream : bool, default=False
        Only for the CNN estimators' ``balancer`` parameter: instead of
        materialising the resampled array, draw class-balanced mini-batches
        by index every epoch. Not for "smote",
        which creates new images.
    random_state : int, RandomState instance or None, default=None
        Seeds the resampling.

    Attributes
    ----------
    sampling_strategy_ : dict
        For "oversample" and "smote", the number of samples added to each
        class; for "undersample" and "hybrid", the final number of samples of
        each class it resamples (imbalanced-learn's convention).
    sample_indices_ : ndarray of shape (n_new_samples,)
        Row of the input behind each output row ("oversample", "undersample"
        and "hybrid"; SMOTE creates new rows, so it has none).
    n_features_in_ : int
        Number of values per sample (height * width * channels for images).

    See Also
    --------
    imblearn.over_sampling.RandomOverSampler : the flat-array equivalent of
        "oversample".
    imblearn.over_sampling.SMOTE : the flat-array equivalent of "smote".

    Examples
    --------
    >>> import numpy as np
    >>> from cnnfix import ClassBalancer
    >>> X = np.zeros((12, 8, 8, 1), dtype=np.float32)
    >>> y = np.array([0] * 10 + [1] * 2)
    >>> X_res, y_res = ClassBalancer(random_state=0).fit_resample(X, y)
    >>> X_res.shape, np.bincount(y_res).tolist()
    ((20, 8, 8, 1), [10, 10])
    """

    _parameter_constraints: dict = {
        "strategy": [StrOptions(set(_SAMPLING_TYPE))],
        "sampling_strategy": [
            Interval(Real, 0, 1, closed="right"),
            StrOptions(
                {"auto", "minority", "majority", "not minority", "not majority", "all"}
            ),
            Mapping,
            callable,
        ],
        "k_neighbors": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "stream": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        strategy="oversample",
        *,
        sampling_strategy="auto",
        k_neighbors=5,
        shuffle=True,
        stream=False,
        random_state=None,
    ):
        self.strategy = strategy
        self.sampling_strategy = sampling_strategy
        self.k_neighbors = k_neighbors
        self.shuffle = shuffle
        self.stream = stream
        self.random_state = random_state

    @property
    def _sampling_type(self):
        return _SAMPLING_TYPE.get(self.strategy, "over-sampling")

    def _check_X_y(self, X, y, accept_sparse=None):
        """Validate X of any number of dimensions on a flat view of it.

        Like imbalanced-learn's random samplers, NaN is allowed: rows are
        only copied. SMOTE, which does arithmetic on pixels, checks it.
        """
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        refuse_single_path(X)  # a folder or file name, not rows
        try:
            paths = as_paths(X)
        except (TypeError, ValueError):
            # Strings in a shape the CNNs refuse as paths (a 2-D array of
            # categories, say) are still rows to repeat or drop.
            paths = None
        smote = self.strategy == "smote"
        if paths is not None and smote:
            raise ValueError(
                "strategy='smote' interpolates pixel values and cannot resample "
                "file paths. Use strategy='oversample' (or 'undersample', "
                "'hybrid'), which repeats or drops paths, or decode the files "
                "first with cnnfix.datasets.read_images(paths, image_size=64)."
            )
        if paths is not None:  # rows to repeat or drop, like any other
            column, _ = validate_data(
                self, paths[:, None], y, reset=True, dtype=None, ensure_all_finite=False
            )
            return column[:, 0], y, binarize_y
        if not hasattr(X, "shape"):
            X = np.asarray(X)
        sample_shape = tuple(X.shape[1:])
        if X.ndim > 2:
            X = np.reshape(X, (X.shape[0], int(np.prod(sample_shape))))
        X, y = validate_data(
            self,
            X,
            y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype="numeric" if smote else None,
            ensure_all_finite=False,
        )
        if smote and not np.isfinite(X.data if sparse.issparse(X) else X).all():
            raise ValueError(
                "strategy='smote' interpolates pixel values and cannot use "
                "images with NaN or infinite values. Impute or drop them first, "
                "or use strategy='oversample', which only repeats rows."
            )
        if len(sample_shape) > 1:
            X = X.reshape((X.shape[0], *sample_shape))
        return X, y, binarize_y

    def fit_resample(self, X, y):
        """Resample X and y.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or (n_samples,)
            Images (n, h, w, c), or any array with a leading sample axis;
            sparse matrices and DataFrames are accepted too. Image file
            paths (a 1-D array, list or Series of str or ``pathlib.Path``, or
            a one-column DataFrame) are resampled as rows, never opened.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        X_resampled : ndarray of shape (n_resampled, ...)
            Same per-sample shape and dtype as X (paths: a 1-D object array
            of str; a Series or DataFrame for those inputs).
        y_resampled : ndarray of shape (n_resampled,)
            Labels of the resampled rows.
        """
        check_labels(y)
        with _hints():
            return super().fit_resample(X, y)

    def _fit_resample(self, X, y):
        if self.strategy == "hybrid":
            self.sampling_strategy_ = self._hybrid_targets(y)
        if self.strategy == "smote":
            return self._smote(X, y)
        self.sample_indices_ = self._source_indices = self.resample_indices(y)
        return gather(X, self.sample_indices_), y[self.sample_indices_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.strategy != "smote"
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = True
        tags.input_tags.string = self.strategy != "smote"  # rows are only copied
        tags.sampler_tags.sample_indices = self.strategy != "smote"
        return tags

    # -- targets and indices ---------------------------------------------------

    def fit(self, X, y):
        """Validate X and y and set ``sampling_strategy_``, without resampling.

        ``fit_resample`` does this too; ``fit`` alone serves streaming
        (``stream=True``), which draws indices every epoch.
        """
        check_labels(y)
        with _hints():
            super().fit(X, y)
        if self.strategy == "hybrid":
            self.sampling_strategy_ = self._hybrid_targets(np.asarray(y))
        return self

    def _targets(self, y):
        """Final number of samples of every class, from ``sampling_strategy_``."""
        labels, counts = np.unique(y, return_counts=True)
        current = dict(zip(labels.tolist(), counts.tolist(), strict=True))
        if self._sampling_type == "over-sampling":
            return {
                c: n + self.sampling_strategy_.get(c, 0) for c, n in current.items()
            }
        return {**current, **self.sampling_strategy_}

    def _hybrid_targets(self, y):
        """Final sizes for "hybrid": the median class size, or what the user names."""
        labels, counts = np.unique(y, return_counts=True)
        strategy = self.sampling_strategy
        if callable(strategy):
            strategy = strategy(y)
        if isinstance(strategy, Mapping):
            unknown = sorted(set(strategy) - set(labels.tolist()), key=str)
            if unknown:
                raise ValueError(
                    f"sampling_strategy names classes {unknown} that are not in y; "
                    f"the classes are {labels.tolist()}."
                )
            return {c: int(n) for c, n in strategy.items()}
        if strategy not in ("auto", "all"):
            raise ValueError(
                "strategy='hybrid' takes sampling_strategy 'auto', 'all', a dict "
                f"or a callable; got {strategy!r}. Use strategy='oversample' or "
                "'undersample' for the other forms."
            )
        return dict.fromkeys(labels.tolist(), int(np.median(counts)))

    def resample_indices(self, y, random_state=None):
        """Row indices of a resampled ``y`` (index-based strategies).

        Classes that grow keep every sample once and draw the rest with
        replacement; classes that shrink draw without replacement. Needs a
        fitted balancer (``fit`` or ``fit_resample`` sets the targets).
        ``random_state`` overrides the balancer's own.
        """
        check_is_fitted(self, "sampling_strategy_")
        rng = check_random_state(
            self.random_state if random_state is None else random_state
        )
        parts = []
        for label, target in self._targets(y).items():
            idx = np.flatnonzero(y == label)
            if target < len(idx):
                parts.append(rng.choice(idx, size=target, replace=False))
            else:  # every sample once, the rest drawn with replacement
                parts += [idx, rng.choice(idx, size=target - len(idx))]
        indices = np.concatenate(parts)
        return rng.permutation(indices) if self.shuffle else indices

    # -- SMOTE -----------------------------------------------------------------

    def _smote(self, X, y):
        # A refit after set_params(strategy="smote") must not keep old indices.
        self.__dict__.pop("sample_indices_", None)
        flat = X if sparse.issparse(X) else X.reshape(len(X), -1)
        rng = check_random_state(self.random_state)
        sources, new_rows = [np.arange(len(y))], []
        for label, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            idx = np.flatnonzero(y == label)
            if len(idx) <= self.k_neighbors:
                raise ValueError(
                    f"strategy='smote' needs more than k_neighbors="
                    f"{self.k_neighbors} samples in each class it oversamples; "
                    f"class {to_python(label)!r} has {len(idx)}. Lower k_neighbors "
                    f"(to at most {len(idx) - 1}) or use strategy='oversample'."
                )
            nn = NearestNeighbors(n_neighbors=self.k_neighbors + 1).fit(flat[idx])
            neighbours = nn.kneighbors(flat[idx], return_distance=False)[:, 1:]
            base = rng.randint(len(idx), size=n_new)
            partner = neighbours[base, rng.randint(self.k_neighbors, size=n_new)]
            step = rng.uniform(size=n_new)
            new_rows.append(_interpolate(flat[idx[base]], flat[idx[partner]], step))
            sources.append(idx[base])
        sources = np.concatenate(sources)
        order = rng.permutation(len(sources)) if self.shuffle else slice(None)
        if sparse.issparse(flat):
            X_res = sparse.vstack([flat, *new_rows], format=flat.format)
        else:
            X_res = np.concatenate([flat, *new_rows]).reshape(-1, *X.shape[1:])
        self._source_indices = sources[order]
        # A synthetic row has its base's label.
        return X_res[order], y[self._source_indices]

    def source_indices(self):
        """Input row behind each output row of the last ``fit_resample``.

        For SMOTE, the sample each synthetic image was interpolated from.
        Used by the CNN estimators to carry sample weights through.
        """
        check_is_fitted(self, "_source_indices")
        return self._source_indices


#: Outputs larger than this are gathered by several threads (NumPy's take
#: releases the GIL); smaller ones are not worth the threads' start-up.
PARALLEL_GATHER_BYTES = 64 * 2**20


def gather(X, indices, *, parallel_bytes=PARALLEL_GATHER_BYTES, workers=None):
    """``X[indices]`` along the first axis into one new array (the output).

    Dense gathers of ``parallel_bytes`` or more are split into blocks taken
    by ``workers`` threads (None: one per CPU, at most 4), which roughly
    halves the time on two cores (``benchmarks/bench_balance.py``). Sparse
    matrices and DataFrames fall back to plain indexing.
    """
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    dense = isinstance(X, np.ndarray)
    if not dense or workers == 1 or X[:1].nbytes * len(indices) < parallel_bytes:
        return X[indices]
    out = np.empty((len(indices), *X.shape[1:]), dtype=X.dtype)
    block = -(-len(indices) // (4 * workers))

    def take(start):
        stop = start + block
        # mode="clip": valid indices either way, and "raise" would buffer out.
        np.take(X, indices[start:stop], axis=0, out=out[start:stop], mode="clip")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(take, range(0, len(indices), block)))
    return out


def _interpolate(a, b, step):
    """Rows ``a + step * (b - a)``, in the dtype of ``a`` (rounded for ints)."""
    if sparse.issparse(a):
        return a + sparse.diags(step) @ (b - a)
    out = a + step[:, None] * (b.astype(np.float64) - a)
    if np.issubdtype(a.dtype, np.integer):
        out = np.rint(out)
    return out.astype(a.dtype, copy=False)
