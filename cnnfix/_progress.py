"""The progress line of TunedCNNClassifier's search (``verbose=1``)."""

import sys
import time

__all__ = ["SearchProgress", "clock"]


def clock(seconds):
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour)."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )


class SearchProgress:
    """The search's progress on stderr: one line per finished trial (updated
    in place on a terminal or in a notebook) with the trials done, the best
    score so far, the time elapsed and an estimate of the time left."""

    def __init__(self, n_trials, objective, started, budget):
        # n_trials: trials planned, or None when the budget decides (then
        # the time left is the budget's).
        self.n_trials, self.objective = n_trials, objective
        self.started, self.budget = started, budget
        self.durations, self.best, self.refit = [], None, 0.0
        self.width = 0
        stream = sys.stderr
        self.dynamic = "ipykernel" in sys.modules or (
            hasattr(stream, "isatty") and stream.isatty()
        )

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
        if "finalist" in event:
            self._finalist(event)
            return
        self.durations.append(event["duration"])
        self.best, self.refit = event["best"], event["refit"]
        elapsed = time.time() - self.started
        mean = sum(self.durations) / len(self.durations)
        done = len(self.durations)
        left = max(self.budget - elapsed, 0.0) if self.budget is not None else None
        if self.n_trials is None:  # the budget decides how many
            trials = f"trial {done}"
        else:
            trials = f"trial {min(done, self.n_trials)}/{self.n_trials}"
            planned = mean * max(self.n_trials - done, 0) + self.refit
            left = planned if left is None else min(planned, left)
        self._write(
            f"Search: {trials}{self._best()}, "
            f"{clock(elapsed)} elapsed, ~{clock(left)} left"
        )

    def _finalist(self, event):
        number, total = event["finalist"], event["of"]
        if number == 1:  # the trials' last line stays
            self._write(f"Search: {len(self.durations)} trials{self._best()}", "\n")
            self.best = None
        self.finalists = number
        if self.best is None or event["score"] > self.best:
            self.best = event["score"]  # for the log; the estimator compares
        elapsed = time.time() - self.started
        trial = event["trial_id"]
        trial = "the defaults, no trial" if trial is None else f"trial {trial}"
        self._write(
            f"Finalist {number}/{total} ({trial}): "
            f"{self.objective} {event['score']:.4f} at epoch {event['best_epoch']} "
            f"of {event['epochs']}, {clock(elapsed)} elapsed"
        )

    def finish(self, stopped, score=None, averaged=0):
        """The closing line: the trials run, why the search ended early if it
        did, the finalists trained and the chosen score (of an average of
        ``averaged`` finalists, when more than one)."""
        elapsed = clock(time.time() - self.started)
        line = f"Search: {len(self.durations)} trials"
        if getattr(self, "finalists", 0):
            line += f" and {self.finalists} finalists"
        if score is not None:
            self.best = score
        line += f" in {elapsed}{self._best()}"
        if averaged > 1:
            line += f" (their average over {averaged} finalists)"
        if stopped:
            line += f" (stopped by time_budget={self.budget:g} s)"
        self._write(line, end="\n")
