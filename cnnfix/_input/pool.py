"""Decoding many files into one array: threads or worker processes.

:func:`decode_into` shares a list of files out to a pool and puts each
file's pixels, header and failure in place. From
:attr:`~cnnfix._input.policy.InputPolicy.process_files` files, called from
the main thread of the main process, the pool is joblib's loky processes
(reused from call to call), which decode into a shared memory-mapped file;
otherwise threads (Pillow releases the GIL while it decodes and resizes).
"""

import mmap
import multiprocessing
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .headers import is_int
from .pixels import (
    PNG_END,
    PNG_START,
    convert,
    decodes_as_is,
    is_grey,
    open_image,
    plain_png_layout,
    spng,
)
from .policy import INPUT_POLICY


def check_n_jobs(n_jobs):
    """The number of decoding workers ``n_jobs`` asks for (see read_images)."""
    if n_jobs is None:
        return min(os.cpu_count() or 1, 8)
    if not is_int(n_jobs) or n_jobs == 0:
        raise ValueError(
            "n_jobs must be None (up to 8 workers, one per CPU), a positive int, "
            f"or a negative int (-1: one worker per CPU); got {n_jobs!r}."
        )
    if n_jobs < 0:
        return max((os.cpu_count() or 1) + 1 + int(n_jobs), 1)
    return int(n_jobs)


def pool_sizes(n_jobs, first_size, policy=INPUT_POLICY):
    """(processes, threads) to decode with: ``n_jobs`` of each, but one
    thread by default for images under ``policy.small_image`` pixels."""
    n_workers = check_n_jobs(n_jobs)
    small = n_jobs is None and first_size[0] * first_size[1] < policy.small_image
    return n_workers, 1 if small else n_workers


def decode_into(
    out, paths, indices, mode, headers, failed, workers, guessing, policy=INPUT_POLICY
):
    """Decode ``paths[i]`` into ``out[i]`` for each i of ``indices``, in
    ``workers`` ((processes, threads), from :func:`pool_sizes`): processes
    for ``policy.process_files`` files or more (from the main thread of the
    main process only), threads otherwise; record headers and failures.
    Return the output (``out``, or an array over the processes' shared
    memory in its place: see :func:`decode_in_processes`) and the indices
    of colour files skipped because ``out`` is grey and the mode a guess."""
    n_processes, n_threads = workers
    # Processes only from the main thread of the main process: not in a joblib
    # or multiprocessing worker (whose cores are already shared out) nor a thread.
    top = multiprocessing.current_process().name == "MainProcess"
    top = top and threading.current_thread() is threading.main_thread()
    if n_processes > 1 and len(indices) >= policy.process_files and top:
        return decode_in_processes(
            out, paths, indices, mode, headers, failed, n_processes, guessing
        )
    step = policy.chunk_files
    chunks = [indices[i : i + step] for i in range(0, len(indices), step)]

    def decode(chunk):
        return decode_files([paths[i] for i in chunk], out.shape[1:], mode, guessing)

    if n_threads == 1 or len(chunks) <= 1:
        return out, collect(out, chunks, map(decode, chunks), headers, failed)
    with ThreadPoolExecutor(min(n_threads, len(chunks))) as pool:
        return out, collect(out, chunks, pool.map(decode, chunks), headers, failed)


def decode_in_processes(out, paths, indices, mode, headers, failed, n, guessing):
    """:func:`decode_into` in ``n`` worker processes (joblib's loky
    executor, reused from call to call). Each decodes a share of the files
    into a shared memory-mapped file, so that only headers and errors
    travel back (pixels sent through pipes cost a large share of the
    decoding). The file is removed at the end. When it is in ``/dev/shm``
    (memory, when that has room) and every row of ``out`` was decoded here,
    an array over its memory is returned in place of ``out``: no copy, and
    the output is in memory once, not twice. The memory goes back when the
    array is freed. Otherwise the rows are copied into ``out``."""
    from joblib import Parallel, delayed

    shape = out.shape[1:]
    per_chunk = -(-len(indices) // (4 * n))
    starts = range(0, len(indices), per_chunk)
    chunks = [indices[start : start + per_chunk] for start in starts]
    in_memory = shared_folder(out.nbytes)
    folder = tempfile.mkdtemp(prefix="cnnfix-images-", dir=in_memory)
    file = os.path.join(folder, "pixels.npy")
    in_place = in_memory is not None and len(indices) == len(out)
    try:
        shared = np.lib.format.open_memmap(
            file, mode="w+", dtype=np.uint8, shape=(len(indices), *shape)
        )
        results = Parallel(n_jobs=n, backend="loky", return_as="generator")(
            delayed(decode_files)(
                [paths[i] for i in chunk], shape, mode, guessing, into=(file, start)
            )
            for start, chunk in zip(starts, chunks, strict=True)
        )
        results = (
            (None if in_place else shared[start : start + len(chunk)], *result[1:])
            for start, chunk, result in zip(starts, chunks, results, strict=True)
        )
        colour = collect(out, chunks, results, headers, failed)
        offset = shared.offset
        del shared  # unmapped, so that the file can go (Windows)
        if in_place:  # indices are every row, in order: the file is the output
            out = mapped(file, offset, out.shape)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out, colour


def mapped(file, offset, shape):
    """A writable uint8 array of ``shape`` over ``file``'s bytes from
    ``offset``, mapped (and its pages populated, where the system can) so
    that it stays valid once the file is removed. A plain array over an
    ``mmap``, not an ``np.memmap``, whose file name joblib would pass to its
    workers in place of the data."""
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    with open(file, "r+b") as handle:
        memory = mmap.mmap(handle.fileno(), 0, flags=flags)
    return np.ndarray(shape, np.uint8, buffer=memory, offset=offset)


def shared_folder(nbytes):
    """``/dev/shm`` (memory) when it exists and has room for ``nbytes``
    twice over, else None (the temporary directory: on disk, read back from
    the page cache)."""
    try:
        stat = os.statvfs("/dev/shm")
    except (AttributeError, OSError):  # no /dev/shm (Windows, macOS)
        return None
    return "/dev/shm" if stat.f_bavail * stat.f_frsize >= 2 * nbytes else None


def collect(out, chunks, results, headers, failed):
    """Put each chunk's result from :func:`decode_files` in place: pixels
    into ``out`` (unless None: written there already), headers, failures;
    return the skipped colour files."""
    colour = []
    for chunk, (pixels, found, errors, skipped) in zip(chunks, results, strict=True):
        chunk = np.asarray(chunk, dtype=np.intp)
        if pixels is None:  # already in place
            pass
        elif not errors and not skipped and chunk[-1] - chunk[0] == len(chunk) - 1:
            out[chunk[0] : chunk[-1] + 1] = pixels  # consecutive files: a copy
        else:
            decoded = np.ones(len(chunk), bool)
            decoded[[*errors, *skipped]] = False
            out[chunk[decoded]] = pixels[decoded]
        for j, header in enumerate(found):
            headers[chunk[j]] = header
        failed.update({int(chunk[j]): error for j, error in errors.items()})
        colour += [int(chunk[j]) for j in skipped]
    return colour


def decode_files(paths, shape, mode, guessing, into=None):
    """Decode each of ``paths`` to ``shape`` ((height, width, channels)) in
    ``mode``; return the pixels ``(len(paths), *shape)``, each file's header
    (``((height, width), grey)``, None if unread), the errors by position
    and the positions of colour files skipped because ``mode`` is a grey
    guess. With ``into`` (a ``.npy`` file and a row), the pixels go into
    that file's rows from that one and None is returned in their place. A
    module-level function: worker processes run it."""
    if into is None:
        out = np.empty((len(paths), *shape), np.uint8)
    else:
        file, start = into
        out = np.load(file, mmap_mode="r+")[start : start + len(paths)]
    headers, errors, colour = [None] * len(paths), {}, []
    decoder = spng()
    for i, path in enumerate(paths):
        try:
            layout = None
            if decoder is not None:
                with open(path, "rb") as file:
                    head = file.read(26)  # all of it only for a PNG file
                    data = head + file.read() if head.startswith(PNG_START) else b""
                layout = plain_png_layout(head, data[-len(PNG_END) :])
            if decodes_as_is(layout, shape):
                # Plain PNG, no conversion but repeating grey: the same
                # pixels as Pillow's, several times faster.
                headers[i] = (layout[:2], layout[2])
                out[i] = decoder.load(data).reshape(*layout[:2], -1)
                continue
            # Any other file (read again: Pillow's errors name the path).
            with open_image(path) as image:
                grey = is_grey(image)
                headers[i] = (image.size[::-1], grey)
                if mode == "L" and not grey and guessing:
                    colour.append(i)
                    continue
                # Pillow's size is (width, height).
                out[i] = convert(image, shape[:2][::-1], mode).reshape(shape)
        except (OSError, ValueError, SyntaxError) as error:
            errors[i] = error
    # With into, the shared mapping already shows the pixels.
    return None if into else out, headers, errors, colour
