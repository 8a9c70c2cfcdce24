"""What every ``dgr train`` loop shares to survive Ctrl-C: the checkpoint file, its atomic write,
and a SIGINT handler that lets the current step finish so the checkpoint is consistent."""
from __future__ import annotations

from pathlib import Path
from typing import Any

CHECKPOINT_FILE = "checkpoint.pt"


def refuse_divergence(finite: bool, what: str, learning_rate_flag: str, learning_rate: float) -> None:
    """Stop before a diverged model (NaN loss or outputs) is saved: one line naming the fix."""
    if not finite:
        from dgr.errors import DgrError

        raise DgrError(f"training diverged ({what}); lower {learning_rate_flag} (now {learning_rate:g}) and "
                       "train again")


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a partial file moved into place: a kill mid-write leaves the last checkpoint."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


class StopAtStepBoundary:
    """Turn the first Ctrl-C into a request honoured after the current step (so the checkpoint is
    consistent); a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "StopAtStepBoundary":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
