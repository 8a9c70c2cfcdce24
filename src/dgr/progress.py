"""Progress reporting: the pipeline calls a reporter; the CLI passes a rich one."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.progress import TaskID


class Progress:
    """Silent reporter; subclasses show progress. ``stage`` names: classes, synthesis, refinement, polish.
    Each stage's total is set before its first piece of work, so a bar never looks finished early."""

    def add_total(self, stage: str, total: int) -> None:
        """Add to the amount of work a stage expects."""

    def advance(self, stage: str, amount: int = 1) -> None:
        """Record finished work."""

    def note(self, message: str) -> None:
        """A line of information (e.g. a class skipped on resume)."""

    def close(self) -> None:
        """Stop drawing."""


class RichProgress(Progress):
    """One rich bar per stage."""

    LABELS = {"classes": "classes", "synthesis": "synthesis (images)", "refinement": "refinement (images checked)",
              "polish": "polish (steps)"}

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichBars, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self._bars = RichBars(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=self.console, transient=False)
        self._tasks: dict[str, TaskID] = {}
        self._bars.start()

    def _task(self, stage: str) -> "TaskID":
        if stage not in self._tasks:
            self._tasks[stage] = self._bars.add_task(self.LABELS.get(stage, stage), total=0)
        return self._tasks[stage]

    def add_total(self, stage: str, total: int) -> None:
        """Add to the stage's bar total."""
        task = self._task(stage)
        current = self._bars.tasks[[t.id for t in self._bars.tasks].index(task)].total or 0
        self._bars.update(task, total=current + total)

    def advance(self, stage: str, amount: int = 1) -> None:
        """Advance the stage's bar."""
        self._bars.advance(self._task(stage), amount)

    def note(self, message: str) -> None:
        """Print a line above the bars."""
        self._bars.console.print(message)

    def close(self) -> None:
        """Stop drawing the bars."""
        self._bars.stop()


class LineProgress(Progress):
    """Plain lines on stderr for logs and pipes: at most one per stage every ``interval`` seconds,
    plus the final count of each stage when the run closes."""

    def __init__(self, interval: float = 5.0) -> None:
        import time

        self._clock = time.monotonic
        self.interval = interval
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def _print(self, message: str) -> None:
        import sys

        print(message, file=sys.stderr, flush=True)

    def add_total(self, stage: str, total: int) -> None:
        """Add to the amount of work a stage expects."""
        self._totals[stage] = self._totals.get(stage, 0) + total

    def advance(self, stage: str, amount: int = 1) -> None:
        """Record finished work; print the stage's count if ``interval`` has passed."""
        self._done[stage] = self._done.get(stage, 0) + amount
        now = self._clock()
        if now - self._last.get(stage, float("-inf")) >= self.interval:
            self._last[stage] = now
            self._print(f"{RichProgress.LABELS.get(stage, stage)}: {self._done[stage]}/{self._totals.get(stage, '?')}")

    def note(self, message: str) -> None:
        """Print a line."""
        self._print(message)

    def close(self) -> None:
        """Print each stage's final count."""
        for stage, done in self._done.items():
            self._print(f"{RichProgress.LABELS.get(stage, stage)}: {done}/{self._totals.get(stage, '?')} done")


def terminal_progress() -> Progress:
    """Rich bars on a terminal, plain lines when stderr is a file or a pipe."""
    import sys

    return RichProgress() if sys.stderr.isatty() else LineProgress()


class StepReporter:
    """Progress of a training loop (``dgr train``): a rich bar on a terminal, otherwise a plain line at
    most every ``interval`` seconds; after ``estimate_after`` units it prints the expected total time."""

    def __init__(self, label: str, total: int, unit: str = "steps", interval: float = 5.0,
                 estimate_after: int = 10) -> None:
        import sys
        import time

        self.label, self.total, self.unit = label, total, unit
        self.interval, self.estimate_after = interval, estimate_after
        self._clock = time.monotonic
        self._start: float | None = None
        self._first = 0
        self._last = float("-inf")
        self._bars = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichBars

            self._bars = RichBars(console=Console(stderr=True))
            self._task = self._bars.add_task(label, total=total)

    def _print(self, message: str) -> None:
        import sys

        if self._bars is not None:
            self._bars.console.print(message)
        else:
            print(message, file=sys.stderr, flush=True)

    def update(self, done: int, loss: float) -> None:
        """Record that ``done`` units are finished with this loss; estimate the time once."""
        now = self._clock()
        if self._start is None:  # the clock starts at the first finished unit (after loading and set-up)
            self._start, self._first = now, done
            if self._bars is not None:
                self._bars.start()
        if done - self._first == self.estimate_after:
            per_unit = (now - self._start) / self.estimate_after
            minutes = per_unit * (self.total - done) / 60
            self._print(f"{self.label}: ~{minutes:.0f} min for the remaining {self.total - done} {self.unit} "
                        f"({per_unit:.2f} s each)")
        if self._bars is not None:
            self._bars.update(self._task, completed=done, description=f"{self.label} (loss {loss:.3f})")
        elif now - self._last >= self.interval or done == self.total:
            self._last = now
            self._print(f"{self.label}: {done}/{self.total} {self.unit}, loss {loss:.4f}")

    def close(self) -> None:
        """Stop the bar, if one is drawn."""
        if self._bars is not None and self._bars.live.is_started:
            self._bars.stop()
