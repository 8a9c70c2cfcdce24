"""torch's CPU threads: --threads, else OMP_NUM_THREADS, else the cores the load leaves free."""
from __future__ import annotations

import os


def test_threads_follow_the_request_the_environment_or_the_free_cores(monkeypatch, tmp_path):
    import torch

    from dgr import threads
    from dgr.threads import free_cores, use_cpu_threads

    before = torch.get_num_threads()
    try:
        assert use_cpu_threads(2) == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert use_cpu_threads(None) is None and torch.get_num_threads() == 2  # the environment decides
        monkeypatch.delenv("OMP_NUM_THREADS")
        chosen = use_cpu_threads(None)
        assert chosen == free_cores() and 1 <= chosen <= (os.cpu_count() or 1)
        queue = tmp_path / "loadavg"
        monkeypatch.setattr(threads, "RUN_QUEUE", queue)
        queue.write_text("0.00 0.00 0.00 51/300 4242\n")  # 50 others runnable now, whatever the average
        assert free_cores() == 1  # a machine far busier than its cores: one thread, not all of them
        queue.write_text("7.00 7.00 7.00 1/300 4242\n")  # only this process: the average's lag is ignored
        assert free_cores() == (os.cpu_count() or 1)
        monkeypatch.setattr(threads, "RUN_QUEUE", tmp_path / "absent")  # no run queue: the load average
        monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
        assert free_cores() == 1
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        assert free_cores() == (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)
