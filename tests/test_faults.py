"""A run killed with SIGKILL or stopped with Ctrl-C resumes to exactly the images of an
uninterrupted run: nothing lost, nothing duplicated, nothing half-written that looks finished."""
from __future__ import annotations

import json
import signal
import subprocess

import pytest
from dgr_runs import ARGS, CLASSES, ENV, assert_same_run, dgr_command, reference_run, run_dgr, wait_for_classes

pytestmark = pytest.mark.slow


def assert_unfinished(out, done: list[str]) -> None:
    """What an interrupted run leaves: finished classes whole, the run marked running, no manifest."""
    assert 0 < len(done) < len(CLASSES), "the signal should land in the middle of the run"
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "running"
    assert not (out / "manifest.jsonl").exists() and not (out / "report.html").exists()
    for name in done:
        summary = json.loads((out / "classes" / f"{name}.json").read_text())
        assert len(summary["records"]) == 3
        assert len(list((out / "images" / name).glob("*.png"))) == 3
        assert len(list((out / "initial" / name).glob("*.png"))) == 3


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_images(tmp_path_factory, tmp_path):
    reference = reference_run(tmp_path_factory)
    out = tmp_path / "run"
    process = subprocess.Popen(dgr_command("distill", "--recipe", "paper", *ARGS, "--out", out), env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_classes(out, 3, process)
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    done = sorted(p.stem for p in (out / "classes").glob("*.json"))
    assert_unfinished(out, done)

    refused = run_dgr("distill", "--recipe", "paper", *ARGS, "--out", out)
    assert refused.returncode == 2 and "holds an unfinished run; pass --resume" in refused.stderr

    resumed = run_dgr("distill", "--recipe", "paper", *ARGS, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, reference)
    assert json.loads((out / "run.json").read_text())["resumed_classes"] == done


def test_ctrl_c_exits_130_in_one_line_and_stays_resumable(tmp_path_factory, tmp_path):
    reference = reference_run(tmp_path_factory)
    out = tmp_path / "run"
    # Ctrl-C as a terminal delivers it: a test runner started in the background (no job control)
    # passes SIGINT on ignored, so the child restores the default before Python starts.
    process = subprocess.Popen(dgr_command("distill", "--recipe", "paper", *ARGS, "--out", out), env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_classes(out, 2, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["interrupted; finished classes are kept: rerun with --resume to continue"]
    assert "Traceback" not in stdout + stderr
    done = sorted(p.stem for p in (out / "classes").glob("*.json"))
    assert_unfinished(out, done)

    resumed = run_dgr("distill", "--recipe", "paper", *ARGS, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(out, reference)
