"""InputPolicy: the constants that steer decoding and streaming, in one place.

The estimators and readers use :data:`INPUT_POLICY`; tests pass other
values to the functions that take a ``policy``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class InputPolicy:
    """How files are decoded and data handed to Keras.

    Attributes
    ----------
    chunk_files : int, default=64
        Files per task of a decoding pool: enough to amortise the
        scheduling, few enough to keep every worker busy to the end.
    small_image : int, default=4096
        Pixels (64x64) below which ``read_images`` decodes in one thread by
        default: a small file decodes faster than Python's per-file work,
        and threads only contend for the GIL (``benchmarks/bench_images.py``).
    process_files : int, default=4000
        Files from which ``read_images`` decodes in worker processes rather
        than threads: Python's per-file work and pyspng hold the GIL, so
        threads use one core; below it, starting the processes costs more
        than they save (``benchmarks/bench_images.py``).
    normalization_sample : int, default=1000
        Files decoded to learn the normalisation statistics of file paths:
        a random sample of the training part, all of it when smaller.
    queue_per_worker : int, default=4
        Batches of files kept decoded ahead of training, per decoding
        thread (``benchmarks/bench_paths.py``).
    predict_rows : int, default=4096
        Rows per ``predict_on_batch`` call at most: large enough to amortise
        the call, small enough to bound the memory of one forward pass.
    predict_bytes : int, default=64 MiB
        Bytes of decoded images per ``predict_on_batch`` call on file paths.
    working_side : int, default=64
        Longest side of the working size an estimator picks for image files
        of mixed sizes (``working_size``): on a CPU, fit time grows with the
        pixels while accuracy on ordinary photos levels off well below
        (``docs/guide/data.md``).
    """

    chunk_files: int = 64
    small_image: int = 64 * 64
    process_files: int = 4000
    normalization_sample: int = 1000
    queue_per_worker: int = 4
    predict_rows: int = 4096
    predict_bytes: int = 64 * 2**20
    working_side: int = 64


#: The policy every estimator and reader uses.
INPUT_POLICY = InputPolicy()
