"""Classes sharded over processes by torchrun (gloo on CPU) give exactly the single-process run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from dgr_runs import ARGS, ENV, assert_same_run, reference_run

from dgr.distributed import Team, World, is_main_process
from dgr.errors import DgrError


def torchrun(*args, processes: int = 2, timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "dgr", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=timeout)


def test_world_reads_the_launcher_variables(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert World.from_env() == World(0, 1, 0) and is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    world = World.from_env()
    assert world == World(3, 4, 1) and not world.is_main and not is_main_process()
    assert world.shard(range(10)) == [3, 7]
    assert world.shard([2, 3, 11]) == [3, 11]
    assert world.device("cpu") == "cpu"
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(DgrError, match="does not fit WORLD_SIZE=4"):
        World.from_env()


def test_cuda_means_this_ranks_gpu(monkeypatch):
    import torch

    chosen: list[int] = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    assert World(3, 4, 3).device("cuda") == "cuda:1" and chosen == [1]  # LOCAL_RANK mod visible GPUs
    assert World(0, 1, 0).device("cuda") == "cuda"
    assert World(1, 2, 1).device("cuda:0") == "cuda:0"  # an explicit index pins every rank


def test_one_process_needs_no_process_group():
    with Team(World()) as team:
        with team.step():
            pass
        assert team.share("x") == ["x"]
        with pytest.raises(DgrError, match="mine"):
            with team.step():
                raise DgrError("mine")


@pytest.mark.slow
def test_two_processes_write_exactly_the_single_process_run(tmp_path_factory, tmp_path):
    reference = reference_run(tmp_path_factory)
    out = tmp_path / "run"
    result = torchrun("distill", "--recipe", "paper", *ARGS, "--out", out)
    assert result.returncode == 0, result.stderr
    assert_same_run(out, reference)
    run = json.loads((out / "run.json").read_text())
    assert run["speed"]["processes"] == 2
    for c in range(10):
        assert json.loads((out / "classes" / f"{c}.json").read_text())["rank"] == c % 2


def test_a_failing_step_stops_every_rank(monkeypatch):
    """Each step ends with an all-gather of errors: the ranks that succeeded stop too."""
    team = Team(World(rank=1, size=3))
    monkeypatch.setattr(team, "share", lambda error: [None, error, "cannot write to /x"])
    with pytest.raises(DgrError, match=r"^rank 2 stopped: cannot write to /x$"):
        with team.step():
            pass
    monkeypatch.setattr(team, "share", lambda error: [None, error, None])
    with team.step():  # every rank fine
        pass
    with pytest.raises(DgrError, match="^mine$"):  # its own error propagates unchanged
        with team.step():
            raise DgrError("mine")


@pytest.mark.slow
def test_bad_input_stops_every_rank_in_one_line(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"fingerprint": "another", "status": "complete"}))
    result = torchrun("distill", "--recipe", "paper", *ARGS, "--out", out, timeout=300)
    assert result.returncode != 0
    # a run.json alone is not a finished run (its files are checked): "unfinished"
    line = f"Error: {out} holds an unfinished run; pass --overwrite to replace it, or choose another --out"
    # Each rank checks and says it, but torchrun terminates the other ranks as soon as the first one
    # exits, so the second may be stopped before it prints: one or two copies, never anything else.
    assert result.stderr.count(line) in (1, 2), result.stderr
    assert "Error: rank" not in result.stderr  # nobody reports another rank's failure: they stop alone
    # (torchrun then prints its own ChildFailedError summary; the workers print no traceback)
    assert all(f"dgr/{m}.py" not in result.stderr for m in ("api", "run_lifecycle", "rundir"))
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]
