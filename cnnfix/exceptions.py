"""The exception classes cnnfix defines and raises to its users.

Errors from bad input are plain :class:`ValueError` and :class:`TypeError`
(scikit-learn's convention) and are not listed here.
"""

__all__ = ["WorkerError"]


class WorkerError(RuntimeError):
    """The worker process of a search ended without sending a result back.

    :class:`~cnnfix.TunedCNNClassifier` runs its keras-tuner search in a
    fresh worker process (``isolate_search``). When that process dies before
    it can report (killed for lack of memory, a crash in native code), ``fit``
    raises this error with the worker's exit code. An exception raised by the
    search itself is re-raised as it is, not as a ``WorkerError``.

    To see the underlying error, fit with ``isolate_search=False`` so that the
    search runs in the calling process.

    Examples
    --------
    >>> from cnnfix.exceptions import WorkerError
    >>> issubclass(WorkerError, RuntimeError)
    True
    """
