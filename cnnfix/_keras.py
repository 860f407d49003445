"""Lazy access to Keras, so that ``import cnnfix`` stays free of TensorFlow."""

import contextlib
import logging
import os
import re
import sys
import tempfile

#: The level cnnfix asks of TensorFlow's C++ logging when the user has not
#: set one: 3 keeps fatal messages only. At 2, CPU-only machines still print
#: ``E0000 ... failed call to cuInit`` on the first fit, which reads like an
#: error and is not one.
QUIET_LOG_LEVEL = "3"

#: A line of TensorFlow's C++ (absl) logging, and its severity letter:
#: ``I0000 00:00:1795898821.450737    8713 port.cc:153] oneDNN custom ...``
#: and the older ``YYYY-MM-DD hh:mm:ss.ffffff: I external/.../x.cc:32] ...``;
#: or absl's note that introduces them, without a severity (dropped with them).
_LOG_LINE = re.compile(
    rb"^(?:(?P<new>[IWE])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<old>[IWE]) \S+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)


def _no_retracing_note(record):
    """A logging filter: False for TensorFlow's "triggered tf.function retracing".

    Every cnnfix fit builds a new model, so predicting with many fitted
    models (cross-validation, diagnose, a grid search) traces each model's
    predict function once, which TensorFlow reports as excessive retracing.
    It is expected here and says nothing about the user's code. Other
    TensorFlow warnings pass.
    """
    return "triggered tf.function retracing" not in record.getMessage()


def import_keras():
    """Import and return the ``keras`` module on first use.

    TensorFlow's C++ start-up chatter is silenced unless the user has set
    ``TF_CPP_MIN_LOG_LEVEL`` themselves (their value is never changed), and
    its retracing note is filtered (see :func:`_no_retracing_note`).
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LOG_LEVEL)
        with _start_up_lines_below(os.environ["TF_CPP_MIN_LOG_LEVEL"]):
            import keras
    import keras

    logger = logging.getLogger("tensorflow")
    if _no_retracing_note not in logger.filters:
        logger.addFilter(_no_retracing_note)
    return keras


@contextlib.contextmanager
def _start_up_lines_below(level):
    """Drop TensorFlow's C++ log lines below ``level`` from stderr in the block.

    TensorFlow (2.19 and later) logs while its libraries load, before absl's
    logging reads ``TF_CPP_MIN_LOG_LEVEL``, so a CPU-only import prints
    "oneDNN custom operations are on" and "Could not find cuda drivers" at
    any level (tensorflow/tensorflow#100442). This holds back what is written
    to file descriptor 2 during the block and writes the rest back at its
    end: Python's own output (warnings, tracebacks printed by other threads)
    is delayed, never lost. Nothing is held back at level 0 or when stderr is
    not a file descriptor.
    """
    try:
        threshold = min(int(level), 3)
        saved = os.dup(2) if threshold > 0 else None
    except (ValueError, OSError):  # not a number; no descriptor 2 (pythonw)
        saved = None
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as held:
        _flush_stderr()
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [
                line
                for line in held.read().splitlines(keepends=True)
                if not _is_log_line_below(line, threshold)
            ]
            if kept:
                with open(2, "wb", closefd=False) as stderr:
                    stderr.write(b"".join(kept))


def _is_log_line_below(line, threshold):
    match = _LOG_LINE.match(line)
    severity = match and (match["new"] or match["old"] or b"I")  # the note: I
    return match is not None and b"IWE".index(severity) < threshold


def _flush_stderr():
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
