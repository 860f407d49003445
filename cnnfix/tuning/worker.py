"""Run a function in a fresh worker process, so the memory it uses goes back.

Keras and keras-tuner leave tens of megabytes behind in the process that ran
a search, ``clear_session`` or not; a process that exits returns all of it.
Workers are forked from multiprocessing's fork server, which imports
keras-tuner (and TensorFlow) once, so only the first worker of a process pays
the import and later ones start at once. Where there is no fork
server (Windows) workers are spawned.

The worker never re-runs the caller's ``__main__`` (as multiprocessing would
for a script without an ``if __name__ == "__main__"`` guard); the function
and its arguments travel with cloudpickle, so functions defined in a script
or notebook work.
"""

import io
import multiprocessing
import os
import sys
import traceback
import types

import cloudpickle

from ..exceptions import WorkerError

#: Imported once by the fork server, then shared by every worker it forks.
PRELOAD = ["cnnfix.tuning.preload"]


class RemoteTraceback(Exception):
    """The traceback of an exception raised in the worker, as text."""

    def __str__(self):
        return f'\n"""\n{self.args[0]}"""'


class _Forward(io.TextIOBase):
    """A text stream whose writes are sent to the caller and written there."""

    def __init__(self, send, name):
        self.send, self.name = send, name

    def writable(self):
        return True

    def write(self, text):
        self.send((self.name, text))
        return len(text)


def _main(connection, payload, environ, cwd, quiet):
    """The worker: run the function, send its events and result back."""
    os.environ.clear()
    os.environ.update(environ)  # the fork server's may be older than the caller's
    os.chdir(cwd)
    if quiet:  # stdout and stderr to /dev/null, TensorFlow's C++ logging included
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    def send(message):
        connection.send_bytes(cloudpickle.dumps(message))

    # Python-level output (print, Keras progress bars, warnings) appears
    # where the caller's does: in a notebook cell, or under pytest's capture.
    sys.stdout, sys.stderr = _Forward(send, "stdout"), _Forward(send, "stderr")

    try:
        function, args = cloudpickle.loads(payload)
        message = ("result", function(*args, emit=lambda e: send(("event", e))))
    except BaseException as exc:  # sent back and raised in the caller
        message = ("error", exc, traceback.format_exc())
    try:
        data = cloudpickle.dumps(message)
    except Exception as exc:
        data = cloudpickle.dumps(
            ("error", WorkerError(f"Cannot send the result back: {exc}"), "")
        )
    connection.send_bytes(data)
    connection.close()


def run_in_worker(function, *args, on_event=lambda event: None, quiet=False):
    """``function(*args, emit=...)`` in a fresh process; return its result.

    ``emit(event)`` in the worker calls ``on_event(event)`` here (progress
    reports), and what it prints is written to this process's ``sys.stdout``
    and ``sys.stderr``. An exception raised by ``function`` is raised here
    with the worker's traceback as its cause. ``quiet`` also silences output
    below Python (TensorFlow's C++ logging).
    The worker is killed if this process is interrupted.
    """
    try:
        payload = cloudpickle.dumps((function, args))
    except Exception as exc:
        raise TypeError(
            f"Cannot send the work to a worker process: {exc}. Something passed "
            "in (a callback, a search space) cannot be pickled; make it "
            "picklable, or run in this process (isolate_search=False)."
        ) from exc
    # Forked by the fork server, which imports PRELOAD once; spawned without one.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
    else:
        context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_main,
        args=(sender, payload, dict(os.environ), os.getcwd(), quiet),
        name="cnnfix-worker",
    )
    # __main__ hidden while the process starts: the worker must not import
    # the caller's script again.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = main
    sender.close()
    try:
        while True:
            try:
                kind, *content = cloudpickle.loads(receiver.recv_bytes())
            except EOFError:
                process.join()
                raise WorkerError(
                    "The worker process ended without a result (exit code "
                    f"{process.exitcode}); it may have run out of memory. Run "
                    "in this process (isolate_search=False) to see the error.",
                    process.exitcode,
                ) from None
            if kind in ("stdout", "stderr"):
                print(content[0], end="", file=getattr(sys, kind), flush=True)
            elif kind == "event":
                on_event(content[0])
            elif kind == "result":
                return content[0]
            else:
                exc, text = content
                exc.__cause__ = RemoteTraceback(text) if text else None
                raise exc
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
