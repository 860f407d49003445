"""The progress line of TunedCNNClassifier's search (``verbose=1``)."""

import itertools
import math
import sys
import time


def hyperband_trials(max_epochs, factor):
    """How many trials keras-tuner's Hyperband runs in one iteration (the
    defaults' trial included), for the progress line.

    The same bracket sizes as ``keras_tuner.oracles.HyperbandOracle``; fewer
    trials run when a small space makes samples collide.
    """
    # One bracket per power of factor up to max_epochs.
    n_brackets = next(k for k in itertools.count(1) if factor**k > max_epochs)
    last_round_size = math.ceil(1 + math.log(max_epochs, factor))
    return sum(
        math.ceil(last_round_size / (bracket + 1) * factor ** (bracket - round_))
        for bracket in range(n_brackets)
        for round_ in range(bracket + 1)
    )


def as_clock(seconds):
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour)."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}:{minutes:02d}" if hours else f"{minutes}") + f":{seconds:02d}"


class SearchProgress:
    """The search's progress on stderr: one line per finished trial (updated
    in place on a terminal or in a notebook) with the trials done, the best
    score so far, the time elapsed and an estimate of the time left.

    ``n_trials`` is the trials planned, or None when the budget decides
    (then the time left is the budget's); ``started`` and ``clock()`` are
    times of the same clock.
    """

    def __init__(self, n_trials, objective, started, budget, clock=time.time):
        self.n_trials, self.objective = n_trials, objective
        self.started, self.budget, self.clock = started, budget, clock
        self.durations, self.best, self.refit = [], None, 0.0
        self.width, self.finalists = 0, 0
        isatty = getattr(sys.stderr, "isatty", None)
        self.dynamic = "ipykernel" in sys.modules or bool(isatty and isatty())

    def _write(self, line, end=""):
        stream = sys.stderr
        if self.dynamic:
            stream.write("\r" + line.ljust(self.width) + end)
            self.width = len(line)
        else:
            stream.write(line + "\n")
        stream.flush()

    def _best(self):
        return "" if self.best is None else f", best {self.objective} {self.best:.4f}"

    def update(self, event):
        if "note" in event:  # a line of its own, under the trials' line
            return self._write(event["note"], "\n")
        if "finalist" in event:
            return self._finalist(event)
        self.durations.append(event["duration"])
        self.best, self.refit = event["best"], event["refit"]
        elapsed = self.clock() - self.started
        done = len(self.durations)
        left = max(self.budget - elapsed, 0.0) if self.budget is not None else None
        if self.n_trials is None:  # the budget decides how many
            trials = f"trial {done}"
        else:
            trials = f"trial {min(done, self.n_trials)}/{self.n_trials}"
            mean = sum(self.durations) / done
            planned = mean * max(self.n_trials - done, 0) + self.refit
            left = planned if left is None else min(planned, left)
        self._write(
            f"Search: {trials}{self._best()}, "
            f"{as_clock(elapsed)} elapsed, ~{as_clock(left)} left"
        )

    def _finalist(self, event):
        number, total = event["finalist"], event["of"]
        if number == 1:  # the trials' last line stays
            self._write(f"Search: {len(self.durations)} trials{self._best()}", "\n")
            self.best = None
        self.finalists = number
        if self.best is None or event["score"] > self.best:
            self.best = event["score"]  # for the log; the estimator compares
        trial = event["trial_id"]
        trial = "the defaults, no trial" if trial is None else f"trial {trial}"
        self._write(
            f"Finalist {number}/{total} ({trial}): "
            f"{self.objective} {event['score']:.4f} at epoch {event['best_epoch']} "
            f"of {event['epochs']}, {as_clock(self.clock() - self.started)} elapsed"
        )

    def finish(self, stopped, score=None, averaged=0):
        """The closing line: the trials run, the finalists trained, the
        chosen score (of an average of ``averaged`` finalists, when more
        than one) and, if ``stopped``, that the budget ended the trials (not
        the fit: the finalists may end before the budget does)."""
        line = f"Search: {len(self.durations)} trials"
        if self.finalists:
            line += f" and {self.finalists} finalists"
        if score is not None:
            self.best = score
        line += f" in {as_clock(self.clock() - self.started)}{self._best()}"
        if averaged > 1:
            line += f" (their average over {averaged} finalists)"
        if stopped:
            line += f" (trials stopped by time_budget={self.budget:g} s)"
        self._write(line, end="\n")
