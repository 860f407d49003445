"""File-level checks: what only the image files, not the pixels, tell.

When :func:`cnnfix.diagnose` is given file paths, it reads every file's
header first (size and colour, no decoding), reports the files that cannot
be read and the ones that stand out from the rest, then streams the readable
files, decoded to one size chunk by chunk, through the pixel checks'
summary (:func:`cnnfix.diagnostics.summary.summarize_chunks`): memory holds
one chunk of pixels (:data:`CHUNK_BYTES`), whatever the number of files.
Findings then name the files (:attr:`Finding.paths`) as well as their
positions in the paths passed in.
"""

import numpy as np

from .._input import working_size
from ..datasets import read_headers, read_images
from ..exceptions import UnreadableImageError
from .report import Finding, counted
from .summary import summarize_chunks
from .thresholds import DATA_THRESHOLDS

#: The findings of :func:`check_files`, whose indices are into the paths.
FILE_CODES = frozenset({"unreadable_files", "odd_image_sizes", "grey_images"})

#: Errors quoted in a finding's evidence.
MAX_QUOTED = 5

#: The longer side, in pixels, of the size files are decoded to when no
#: ``image_size`` is given: small enough that the quick CNN of
#: :func:`cnnfix.diagnose` trains in minutes on a CPU, large enough for the
#: pixel checks.
WORKING_SIDE = 64

#: Decoded (uint8) bytes per chunk of files streamed through the pixel
#: checks: 32 MB is 42,000 28x28 grey images or 222 224x224 colour ones.
CHUNK_BYTES = 32 * 2**20


def summarize_files(paths, image_size=None, *, chunk_bytes=CHUNK_BYTES):
    """Stream the readable files through the pixel checks' summary; find the
    file findings.

    Parameters
    ----------
    paths : ndarray of shape (n_files,) of str
        The files, validated.
    image_size : None or (int, int), default=None
        Size to decode to; None: one working size for all the files, with
        the aspect of the bulk of them and the longer side at most
        :data:`WORKING_SIDE`.
    chunk_bytes : int, default=CHUNK_BYTES
        Decoded bytes per chunk: what memory holds of the pixels at once.

    Returns
    -------
    summary : ImageSummary
        What the pixel checks need of the readable files, in order
        (:func:`cnnfix.diagnostics.summary.summarize_chunks`).
    kept : ndarray of shape (n_kept,), dtype int
        The indices into ``paths`` of the files that could be read.
    findings : list of Finding
        ``unreadable_files``, ``odd_image_sizes`` and ``grey_images``, with
        indices into ``paths``.
    """
    sizes, grey, failed = read_headers(paths)
    readable = [i for i in range(len(paths)) if i not in failed]
    if not readable:
        read_images(paths)  # raises the error that names the files
    size = image_size or working_size(sizes[readable], max_side=WORKING_SIDE)
    # "auto" colour over the readable files, fixed for every chunk.
    mode = "grayscale" if grey[readable].all() else "rgb"
    per_image = size[0] * size[1] * (1 if mode == "grayscale" else 3)
    rows = max(1, chunk_bytes // per_image)
    kept = []

    def chunks():
        for start in range(0, len(readable), rows):
            block = readable[start : start + rows]
            images, read = _decode(paths, block, size, mode, failed)
            kept.extend(read)
            if len(read):
                yield images

    summary = summarize_chunks(chunks())
    if summary is None:  # every file failed to decode: name them
        read_images([paths[i] for i in readable])
    kept = np.asarray(kept, dtype=int)
    return summary, kept, check_files(paths, sizes, grey, failed, size)


def _decode(paths, indices, size, mode, failed):
    """Decode ``paths[i]`` for i in ``indices`` at ``size`` in ``mode``: the
    uint8 images and the indices read. A file whose header reads can still
    fail to decode (a truncated body): its error goes to ``failed`` (index
    -> exception) and the rest are decoded again."""
    while indices:
        try:
            images = read_images(
                [paths[i] for i in indices], image_size=size, color_mode=mode
            )
            return images, indices
        except UnreadableImageError as error:
            bad = set(error.paths)
            failed.update(
                {i: error.__cause__ or error for i in indices if paths[i] in bad}
            )
            indices = [i for i in indices if paths[i] not in bad]
    return None, []


def check_files(
    paths, sizes, grey, failed, decoded_size, *, thresholds=DATA_THRESHOLDS
):
    """Findings about the files themselves.

    Parameters
    ----------
    paths : sequence of str
        The files.
    sizes : ndarray of shape (n_files, 2)
        ``(height, width)`` of each file (ignored where it failed).
    grey : ndarray of shape (n_files,), dtype bool
        Whether each file is stored grey.
    failed : dict
        Index -> exception, for the files that could not be read.
    decoded_size : (int, int)
        The size the images are decoded to.
    thresholds : DataThresholds, default=DATA_THRESHOLDS
        ``size_outlier_z``, ``odd_aspect`` and ``small_area`` say which
        sizes are odd (see :func:`size_outliers`).

    Returns
    -------
    list of Finding
    """
    findings = []
    if failed:
        bad = sorted(failed)
        findings.append(
            Finding(
                "unreadable_files",
                "error",
                f"{len(bad)} of {len(paths)} files cannot be read as images.",
                {
                    "n_unreadable": len(bad),
                    "errors": {
                        str(paths[i]): f"{type(failed[i]).__name__}: {failed[i]}"
                        for i in bad[:MAX_QUOTED]
                    },
                },
                "Open them in an image viewer: replace or delete the corrupt "
                "ones. To train without them, load the folder with "
                'load_image_folder(path, on_error="warn"), which skips them.',
                bad,
            )
        )
    ok = np.setdiff1d(np.arange(len(paths)), list(failed))
    findings += _odd_sizes(sizes, ok, decoded_size, thresholds)
    return findings + _grey_images(grey, ok)


def _odd_sizes(sizes, ok, decoded, thresholds):
    """odd_image_sizes: the outliers of the files' size distribution, tiny
    images and extreme aspect ratios (see :func:`size_outliers`)."""
    small, elongated, excess = size_outliers(sizes[ok], thresholds)
    flagged = small | elongated
    if not flagged.any():
        return []
    odd = ok[flagged][np.argsort(-excess[flagged], kind="stable")]
    height, width = (int(v) for v in np.median(sizes[ok], axis=0))
    return [
        Finding(
            "odd_image_sizes",
            "warning",
            f"{counted(len(odd), 'image is', 'images are')} tiny or "
            "of an extreme aspect ratio compared with the rest of the files "
            f"(median size {height}x{width}); resizing them to "
            f"{decoded[0]}x{decoded[1]} blurs or stretches them.",
            {
                "median_size": [height, width],
                "decoded_size": [int(decoded[0]), int(decoded[1])],
                "n_odd_aspect": int(elongated.sum()),
                "n_small": int(small.sum()),
                "size_outlier_z": thresholds.size_outlier_z,
                "aspect_factor_threshold": thresholds.odd_aspect,
                "small_area_threshold": thresholds.small_area,
            },
            "Look at them: crop extreme aspect ratios, replace thumbnails with "
            "full-size files, or remove images that are not of the same kind "
            "as the rest.",
            odd,
        )
    ]


def size_outliers(sizes, thresholds=DATA_THRESHOLDS):
    """Which of ``sizes`` (n, 2) of (height, width) are outliers of their
    distribution, by robust statistics (median and median absolute
    deviation, so the outliers themselves do not move the rule).

    An image is small when its log area lies below the median by more than
    ``size_outlier_z`` robust standard deviations and by more than a factor
    ``1 / small_area``; elongated when its elongation ``|log(width /
    height)|`` lies above the median elongation by more than
    ``size_outlier_z`` robust standard deviations and by more than a factor
    ``odd_aspect``. Elongation is the same for a portrait and a landscape
    photo, so a folder of both is normal; a panorama or a strip stands out.

    Returns ``(small, elongated, excess)``: two boolean arrays, and how far
    beyond the median each image lies (log units; the larger of the two).
    """
    sizes = np.maximum(np.asarray(sizes, dtype=float), 1)
    log_area = np.log(sizes[:, 0] * sizes[:, 1])
    elongation = np.abs(np.log(sizes[:, 1] / sizes[:, 0]))
    below = np.median(log_area) - log_area
    above = elongation - np.median(elongation)
    z = thresholds.size_outlier_z
    small = below > max(z * _robust_std(log_area), -np.log(thresholds.small_area))
    elongated = above > max(z * _robust_std(elongation), np.log(thresholds.odd_aspect))
    return small, elongated, np.maximum(below, above)


def _robust_std(values):
    """The standard deviation a normal sample with this median absolute
    deviation would have (1.4826 * MAD)."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _grey_images(grey, ok):
    n_grey = int(grey[ok].sum())
    if n_grey == 0 or n_grey * 2 >= len(ok):
        return []  # all colour, or a grey dataset
    return [
        Finding(
            "grey_images",
            "warning",
            f"{n_grey} of {len(ok)} images {'is' if n_grey == 1 else 'are'} grey "
            "in a colour dataset.",
            {"n_grey": n_grey, "n_images": len(ok)},
            "They are repeated to 3 channels when read; check they belong. If "
            "they cluster in one class, the network can learn 'grey' instead "
            "of the object: add colour images of that class or convert all "
            'images to grey (load_image_folder(path, color_mode="grayscale")).',
            ok[grey[ok]],
        )
    ]


def name_files(findings, paths, kept):
    """Point the pixel checks' findings at the files: their indices (positions
    among the decoded images) become indices into ``paths``, and every
    finding gets ``paths``, the files it names, in the same order. The
    duplicate groups of the evidence get ``group_paths``, their files."""
    for finding in findings:
        if finding.code not in FILE_CODES:
            finding.indices = _to_files(finding.indices, kept)
            for key in ("examples", "groups"):  # groups or pairs of positions
                if key in finding.evidence:
                    finding.evidence[key] = _to_files(finding.evidence[key], kept)
        if "groups" in finding.evidence:
            finding.evidence["group_paths"] = [
                [str(paths[i]) for i in group] for group in finding.evidence["groups"]
            ]
        finding.paths = [str(paths[i]) for i in finding.indices]
    return findings


def _to_files(positions, kept):
    """Positions among the decoded images (an int, or lists of them, or an
    evidence example: a dict with them under "indices") as indices into the
    files."""
    if isinstance(positions, dict):
        return {**positions, "indices": _to_files(positions["indices"], kept)}
    if isinstance(positions, list):
        return [_to_files(p, kept) for p in positions]
    return int(kept[positions])
