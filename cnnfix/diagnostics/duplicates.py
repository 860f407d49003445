"""Duplicates: exact copies, conflicting labels, near copies, and test
images leaked into the training data.

Exact copies are found by the digests of the images' bytes; near copies by
their thumbnails (:func:`~cnnfix.diagnostics.summary.thumbnails`), reduced to
16 principal components and searched with a KD-tree (n log n, not
quadratic), then confirmed on the full thumbnails. "Near" is relative: a
share of the dataset's median nearest-neighbour distance.
"""

from collections import defaultdict

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.decomposition import PCA
from sklearn.neighbors import KDTree, NearestNeighbors

from .report import Finding, counted
from .summary import summarized
from .thresholds import DATA_THRESHOLDS


def _near_threshold(nearest, ratio):
    """``ratio`` of the median positive nearest-neighbour distance (0 when
    every image has an exact copy)."""
    positive = nearest[nearest > 1e-6]
    return ratio * float(np.median(positive)) if len(positive) else 0.0


def _near_pairs(thumbs, exact_of, ratio):
    """Pairs (i, j) of near-duplicate images, plus the distance threshold:
    ``ratio`` of the median nearest-neighbour distance (see the module)."""
    n_components = min(16, thumbs.shape[1], len(thumbs))
    reduced = PCA(n_components, random_state=0).fit_transform(thumbs)
    tree = KDTree(reduced)
    neighbour = tree.query(reduced, k=2, return_distance=False)[:, 1]
    # Distances on the full thumbnails (reduced ones are never larger, so
    # the radius search below misses no pair).
    distances = np.linalg.norm(thumbs - thumbs[neighbour], axis=1)
    threshold = _near_threshold(distances, ratio)
    if not threshold:
        return [], 0.0
    candidates = np.flatnonzero(
        np.linalg.norm(reduced - reduced[neighbour], axis=1) < threshold
    )
    blank = ~thumbs.any(axis=1)  # flat images: low_information_images
    pairs = set()
    for i in candidates[~blank[candidates]]:
        for j in tree.query_radius(reduced[i : i + 1], threshold)[0]:
            skip = j == i or blank[j] or exact_of[i] == exact_of[j]
            if not skip and np.linalg.norm(thumbs[i] - thumbs[j]) < threshold:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs), threshold


def check_duplicates(X, y, *, thresholds=DATA_THRESHOLDS):
    """Exact duplicates, conflicting labels and near duplicates (``X``:
    images or their :class:`ImageSummary`; the rules' numbers:
    ``thresholds``)."""
    summary = summarized(X)
    findings = _exact_findings(summary.hashes, np.asarray(y), thresholds)
    if len(summary) >= 3:
        findings += _near_findings(summary.thumbs, summary.hashes, thresholds)
    return findings


def _exact_findings(hashes, y, thresholds):
    """exact_duplicates for the copies among images of equal ``hashes``
    (all but the first of each group), conflicting_labels for the groups
    whose labels differ."""
    by_digest = defaultdict(list)
    for i, digest in enumerate(hashes):
        by_digest[digest].append(i)
    groups = [g for g in by_digest.values() if len(g) > 1]
    if not groups:
        return []
    extra, n = [i for g in groups for i in g[1:]], len(hashes)
    findings = [
        Finding(
            "exact_duplicates",
            "warning" if len(extra) / n >= thresholds.warn_fraction else "info",
            counted(
                len(extra),
                "image is an exact copy of another",
                "images are exact copies of others",
            )
            + f" ({counted(len(groups), 'group')}).",
            {
                "n_duplicates": len(extra),
                "n_groups": len(groups),
                "fraction": len(extra) / n,
                "groups": groups,
            },
            "Drop the copies so they do not weigh twice or leak across "
            "splits: _, keep = np.unique(X.reshape(len(X), -1), axis=0, "
            "return_index=True); X, y = X[np.sort(keep)], y[np.sort(keep)]",
            extra,
        )
    ]
    conflicts = [g for g in groups if len(set(y[g].tolist())) > 1]
    if conflicts:
        rows = [i for g in conflicts for i in g]
        findings.append(
            Finding(
                "conflicting_labels",
                "error",
                f"{counted(len(conflicts), 'group')} of identical "
                f"images {'carries' if len(conflicts) == 1 else 'carry'} "
                f"different labels ({counted(len(rows), 'sample')}).",
                {
                    "n_groups": len(conflicts),
                    "n_samples": len(rows),
                    "examples": [
                        {"indices": g, "labels": [str(v) for v in y[g]]}
                        for g in conflicts[:5]
                    ],
                },
                "Fix or drop these labels: a model cannot be right on both. "
                "X, y = np.delete(X, idx, 0), np.delete(y, idx)",
                rows,
            )
        )
    return findings


def _near_findings(thumbs, hashes, thresholds):
    """near_duplicates: groups of images that differ only slightly (copies
    of one another, equal ``hashes``, are not counted again): the connected
    pairs of near copies. All but the first of each group are flagged."""
    n = len(thumbs)
    exact_of = np.unique(np.array(hashes, dtype=object), return_inverse=True)[1]
    pairs, threshold = _near_pairs(thumbs, exact_of, thresholds.near_duplicate_ratio)
    if not pairs:
        return []
    # The groups the pairs link, directly or through other members (sorted
    # lists of indices, by their first).
    nodes, ends = np.unique(pairs, return_inverse=True)
    i, j = ends.reshape(-1, 2).T
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(nodes),) * 2)
    labels = connected_components(graph, directed=False)[1]
    groups = sorted(nodes[labels == label].tolist() for label in np.unique(labels))
    involved = sorted(i for g in groups for i in g[1:])
    return [
        Finding(
            "near_duplicates",
            "warning" if len(involved) / n >= thresholds.warn_fraction else "info",
            f"{counted(len(pairs), 'pair')} of images "
            f"{'is a near copy' if len(pairs) == 1 else 'are near copies'}, in "
            f"{counted(len(groups), 'group')} (differing only in noise, "
            "brightness or contrast).",
            {
                "n_pairs": len(pairs),
                "n_groups": len(groups),
                "fraction": len(involved) / n,
                "threshold": threshold,
                "examples": [list(p) for p in pairs[:10]],
                "groups": groups,
            },
            "Keep one image of each pair, and split by group so copies "
            "never straddle train and test: GroupKFold(groups=...)",
            involved,
        )
    ]


def check_leakage(X, X_test, *, thresholds=DATA_THRESHOLDS):
    """Test images found (exactly or nearly) in the training images (each
    of ``X`` and ``X_test``: images or their :class:`ImageSummary`).

    Near copies: a test thumbnail closer to a training one than the training
    set's own near-duplicate threshold, measured on a sample of
    ``thresholds.leakage_sample`` training images."""
    train, test = summarized(X), summarized(X_test)
    exact = np.isin(test.hashes, train.hashes)
    index = NearestNeighbors(n_neighbors=2).fit(train.thumbs)
    order = np.random.default_rng(0).permutation(len(train))
    sample = train.thumbs[order[: thresholds.leakage_sample]]
    threshold = _near_threshold(
        index.kneighbors(sample)[0][:, 1], thresholds.near_duplicate_ratio
    )
    nearest = index.kneighbors(test.thumbs, n_neighbors=1)[0][:, 0]
    rows = np.flatnonzero(exact | (nearest < threshold))
    if not len(rows):
        return []
    return [
        Finding(
            "train_test_leakage",
            "error",
            f"{counted(len(rows), 'test image')} ({len(rows) / len(test):.1%}) "
            f"also {'appears' if len(rows) == 1 else 'appear'} in the training "
            "data, so test accuracy overstates real accuracy.",
            {
                "n_leaked": len(rows),
                "n_exact": int(exact.sum()),
                "fraction": len(rows) / len(test),
            },
            "Remove them from the test set: X_test = np.delete(X_test, idx, 0)",
            rows,
        )
    ]
