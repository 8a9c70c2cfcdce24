"""Real `dgr distill` processes on digits, small and quick, and how to compare their outputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Few images, some refinements (an unguided start from noise in few steps); 60 steps make a
# class take long enough (about half a second) for a signal to land in the middle of a run.
ARGS = ("--ipc", "3", "--candidates", "3", "--seed", "3", "-o", "steps=60", "-o", "strength=1.0",
        "-o", "guidance=0.0", "-q")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
CLASSES = [str(c) for c in range(10)]

_cache: dict[str, Path] = {}


def dgr_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "dgr", *map(str, args)]


def run_dgr(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(dgr_command(*args), capture_output=True, text=True, env=ENV, timeout=timeout)


def reference_run(tmp_path_factory) -> Path:
    """One uninterrupted single-process run, shared by the tests of this session."""
    if "reference" not in _cache:
        out = tmp_path_factory.mktemp("reference") / "run"
        result = run_dgr("distill", "--recipe", "paper", *ARGS, "--out", out)
        assert result.returncode == 0, result.stderr
        _cache["reference"] = out
    return _cache["reference"]


def pngs(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for sub in ("images", "initial") for p in sorted((folder / sub).rglob("*.png"))}


def assert_same_run(actual: Path, expected: Path) -> None:
    """Every final and initial image byte for byte, the manifest, the counts; nothing extra."""
    got, want = pngs(actual), pngs(expected)
    assert sorted(got) == sorted(want)
    assert [k for k in want if got[k] != want[k]] == []
    assert (actual / "manifest.jsonl").read_bytes() == (expected / "manifest.jsonl").read_bytes()
    records = [json.loads(line) for line in (actual / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == len({r["file"] for r in records}) == 30
    run, ref = (json.loads((f / "run.json").read_text()) for f in (actual, expected))
    assert run["status"] == "complete" and run["counts"] == ref["counts"] and run["fingerprint"] == ref["fingerprint"]
    assert sorted(p.name for p in actual.iterdir()) == ["classes", "images", "initial", "manifest.jsonl",
                                                        "report.html", "run.json"]


def wait_for_classes(out: Path, count: int, process: subprocess.Popen, timeout: float = 300) -> list[str]:
    """Poll until ``count`` classes are complete; the process must still be running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sorted(p.stem for p in (out / "classes").glob("*.json")) if (out / "classes").is_dir() else []
        if len(done) >= count:
            return done
        assert process.poll() is None, f"dgr ended early: {process.communicate()[1]}"
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} classes after {timeout} s")
