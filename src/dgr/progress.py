"""Progress reporting: the pipeline calls a reporter; the CLI passes a rich one."""
from __future__ import annotations


class Progress:
    """Silent reporter; subclasses show progress. ``stage`` names: classes, synthesis, refinement."""

    def add_total(self, stage: str, total: int) -> None:
        """Grow the amount of work a stage expects (refinement learns its size as it goes)."""

    def advance(self, stage: str, amount: int = 1) -> None:
        """Record finished work."""

    def note(self, message: str) -> None:
        """A line of information (e.g. a class skipped on resume)."""

    def close(self) -> None:
        """Stop drawing."""


class RichProgress(Progress):
    """One rich bar per stage."""

    LABELS = {"classes": "classes", "synthesis": "synthesis (images)", "refinement": "refinement (candidates)"}

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichBars, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self._bars = RichBars(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=self.console, transient=False)
        self._tasks: dict[str, int] = {}
        self._bars.start()

    def _task(self, stage: str) -> int:
        if stage not in self._tasks:
            self._tasks[stage] = self._bars.add_task(self.LABELS.get(stage, stage), total=0)
        return self._tasks[stage]

    def add_total(self, stage: str, total: int) -> None:
        task = self._task(stage)
        current = self._bars.tasks[[t.id for t in self._bars.tasks].index(task)].total or 0
        self._bars.update(task, total=current + total)

    def advance(self, stage: str, amount: int = 1) -> None:
        self._bars.advance(self._task(stage), amount)

    def note(self, message: str) -> None:
        self._bars.console.print(message)

    def close(self) -> None:
        self._bars.stop()
