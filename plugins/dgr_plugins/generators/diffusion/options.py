"""Checks shared by the ``-o`` options of the diffusion generators (light: no torch)."""
from __future__ import annotations

from typing import Any

SCHEDULER_NAMES = ("ddim", "dpm")


def check_diffusion_options(options: Any) -> None:
    """Raise ValueError (shown as one line) for an out-of-range strength, steps, scheduler or size."""
    if not 0.0 < options.strength <= 1.0:
        raise ValueError("strength must be in (0, 1]")
    if options.steps < 1:
        raise ValueError("steps must be at least 1")
    if options.scheduler not in SCHEDULER_NAMES:
        raise ValueError(f"scheduler must be {' or '.join(SCHEDULER_NAMES)}")
    if options.size is not None and options.size < 1:
        raise ValueError("size must be at least 1")
