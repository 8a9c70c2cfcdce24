"""Checks shared by the ``-o`` options of the diffusion generators (light: no torch)."""
from __future__ import annotations

from typing import Any

from dgr.numbers import MAX_IMAGE_SIDE

SCHEDULER_NAMES = ("ddim", "dpm")
DTYPE_NAMES = ("auto", "float32", "fp32", "float16", "fp16", "bfloat16", "bf16")  # sampling.DTYPES and auto


def check_diffusion_options(options: Any) -> None:
    """Raise ValueError (shown as one line) for an out-of-range strength, steps, scheduler, size or dtype,
    and refuse a class_map file that cannot be read, all before any model loads."""
    if not 0.0 < options.strength <= 1.0:
        raise ValueError("strength must be in (0, 1]")
    if options.steps < 1:
        raise ValueError("steps must be at least 1")
    if options.scheduler not in SCHEDULER_NAMES:
        raise ValueError(f"scheduler must be {' or '.join(SCHEDULER_NAMES)}")
    if options.size is not None and not 1 <= options.size <= MAX_IMAGE_SIDE:
        raise ValueError(f"size must be between 1 and {MAX_IMAGE_SIDE}, got {options.size}")
    if getattr(options, "dtype", "auto") not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {options.dtype!r}; use -o dtype= one of {', '.join(DTYPE_NAMES)}")
    if getattr(options, "class_map", None):
        from dgr_plugins.generators.diffusion.classmap import read_class_map

        read_class_map(options.class_map)  # a missing or malformed file: one line before any model loads
