"""How many CPU threads torch uses: on a shared machine, the cores the others leave free.

torch takes every core by default, and threads that spin against other busy processes collapse:
the quick start took 7 s on a quiet 2-core machine and 80–100 s at a load of 5–6 with torch's
default, 26 s with one thread. So unless told (``--threads``, ``OMP_NUM_THREADS``), dgr takes the
cores that other processes are not using now, at least one.

"Now" is the run queue, not the 1-minute load average: the average lags by a minute both ways, so a
run started just after another one ended took one thread of a quiet 2-core machine (load 0.55, the
quick start's polish 27 s instead of 21 s).
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

THREADS_ENV = "OMP_NUM_THREADS"
RUN_QUEUE = Path("/proc/loadavg")  # Linux: "0.55 0.78 0.92 3/106 3054", runnable/all tasks 4th
SAMPLES, SAMPLE_GAP_S = 5, 0.01


def busy_cores() -> float:
    """How many cores other processes keep busy now: the median of a few samples of the run queue's
    runnable tasks less this one, or the 1-minute load average where there is no run queue to read."""
    samples = []
    for sample in range(SAMPLES):
        if sample:
            time.sleep(SAMPLE_GAP_S)
        try:
            runnable = int(RUN_QUEUE.read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            break
        samples.append(max(0, runnable - 1))
    if samples:
        return statistics.median(samples)
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return 0.0


def free_cores() -> int:
    """The cores :func:`busy_cores` leaves free (at least 1)."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - busy_cores())))


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
