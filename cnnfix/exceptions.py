"""The exception classes cnnfix defines and raises to its users.

Errors from bad input are plain :class:`ValueError` and :class:`TypeError`
(scikit-learn's convention); the classes here subclass the built-in one that
fits, so ``except ValueError`` or ``except KeyError`` still catches them.
"""

__all__ = ["MissingFindingError", "UnreadableImageError", "WorkerError"]


class WorkerError(RuntimeError):
    """The worker process of a search ended without sending a result back.

    :class:`~cnnfix.TunedCNNClassifier` runs its keras-tuner search in a
    fresh worker process (``isolate_search``). When that process dies before
    it can report (killed for lack of memory, a crash in native code), ``fit``
    raises this error with the worker's exit code. An exception raised by the
    search itself is re-raised as it is, not as a ``WorkerError``.

    To see the underlying error, fit with ``isolate_search=False`` so that the
    search runs in the calling process.

    Attributes
    ----------
    exitcode : int or None
        The worker's exit code (negative: the signal that killed it), or None
        when the worker was still running (its result could not be sent).

    Examples
    --------
    >>> from cnnfix.exceptions import WorkerError
    >>> error = WorkerError("The worker process ended without a result", -9)
    >>> isinstance(error, RuntimeError), error.exitcode
    (True, -9)
    """

    def __init__(self, message, exitcode=None):
        super().__init__(message, exitcode)
        self.exitcode = exitcode

    def __str__(self):
        return str(self.args[0])


class MissingFindingError(KeyError):
    """``report[code]`` for a valid code that this report has no finding of.

    A :class:`KeyError`, so ``except KeyError`` catches it; its message lists
    the codes the report has.

    Attributes
    ----------
    code : str
        The code asked for.
    present : list of str
        The codes of the report's findings.
    """

    def __init__(self, code, present):
        super().__init__(code, list(present))
        self.code, self.present = code, list(present)

    def __str__(self):
        has = f"it has {self.present}" if self.present else "it has no findings"
        return (
            f"No {self.code!r} finding in this report; {has}. Check first with "
            f"report.has({self.code!r}), or loop over report.findings."
        )


class UnreadableImageError(ValueError):
    """An image file could not be decoded (corrupt, truncated or not an image).

    Attributes
    ----------
    paths : list of str
        The files that could not be read.
    """

    def __init__(self, message, paths):
        super().__init__(message)
        self.paths = list(paths)
