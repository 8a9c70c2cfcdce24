"""How many CPU threads torch uses: on a shared machine, the cores the others leave free.

torch takes every core by default, and threads that spin against other busy processes collapse:
the quick start took 7 s on a quiet 2-core machine and 80–100 s at a load of 5–6 with torch's
default, 26 s with one thread. So unless told (``--threads``, ``OMP_NUM_THREADS``), dgr takes the
cores not already busy by the 1-minute load average, at least one.
"""
from __future__ import annotations

import os

THREADS_ENV = "OMP_NUM_THREADS"


def free_cores() -> int:
    """The cores the 1-minute load average leaves free (at least 1)."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, round(cores - busy)))


def use_cpu_threads(requested: int | None) -> int | None:
    """Set torch's CPU threads to ``requested``, else to :func:`free_cores` unless ``OMP_NUM_THREADS``
    decides (then torch already follows it); returns the number set, or None when left alone.
    Images do not depend on it."""
    if requested is None and os.environ.get(THREADS_ENV, "").strip():
        return None
    count = requested if requested is not None else free_cores()
    import torch

    torch.set_num_threads(count)
    return count
