"""End to end through the real CLI on the embedded default (digits, shipped models)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run_dgr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dgr", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def png_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits"
    result = run_dgr("distill", "--recipe", "paper", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow
def test_default_distill_writes_a_complete_run(default_run):
    images = sorted((default_run / "images").rglob("*.png"))
    assert len(images) == 100
    assert sorted(p.name for p in (default_run / "images").iterdir()) == [str(i) for i in range(10)]
    assert len(list((default_run / "initial").rglob("*.png"))) == 100
    records = [json.loads(line) for line in (default_run / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 100
    assert {r["file"] for r in records} == {str(p.relative_to(default_run)) for p in images}
    run = json.loads((default_run / "run.json").read_text())
    assert run["status"] == "complete"
    counts = run["counts"]
    flagged = [r for r in records if r["anomaly_reasons"]]
    assert counts["initial_anomalies"] == len(flagged)
    assert counts["refined"] + counts["unresolved"] == len(flagged)
    assert counts["generated_images"] == 100 + 20 * len(flagged)
    for r in flagged:
        assert r["round"] == 1 and r["replaced"] == r["file"].replace("images/", "initial/", 1)
        assert r["selection"]["candidates"] == 20
    assert set(run["timings"]) >= {"prototypes", "synthesis", "detection", "refinement"}
    assert run["plugins"]["generator"]["component"] == "dit"


@pytest.mark.slow
def test_an_independent_classifier_agrees_with_the_final_labels(default_run):
    """An SVM trained on the real digits (not the detector) labels ≥ 95% of the final images as their class."""
    from PIL import Image
    from sklearn.svm import SVC

    from dgr.datasets import load_dataset

    train = load_dataset("digits", "train")
    svm = SVC(gamma=0.001 * 256, C=10).fit(train.images.reshape(len(train), -1), train.labels)
    test = load_dataset("digits", "test")
    assert svm.score(test.images.reshape(len(test), -1), test.labels) > 0.97  # the judge itself is good
    records = [json.loads(line) for line in (default_run / "manifest.jsonl").read_text().splitlines()]
    pixels = np.stack([np.asarray(Image.open(default_run / r["file"]), np.float32).reshape(-1) / 255.0
                       for r in records])
    agreement = (svm.predict(pixels) == np.array([r["class_index"] for r in records])).mean()
    assert agreement >= 0.95, agreement


@pytest.mark.slow
def test_same_command_twice_gives_byte_identical_images(default_run, tmp_path):
    again = tmp_path / "again"
    result = run_dgr("distill", "--recipe", "paper", "--out", str(again), "--quiet")
    assert result.returncode == 0, result.stderr
    assert png_bytes(default_run) == png_bytes(again)
    assert (default_run / "manifest.jsonl").read_text() == (again / "manifest.jsonl").read_text()


@pytest.mark.slow
def test_finished_run_is_refused_without_resume_and_skipped_with_it(default_run):
    before = png_bytes(default_run)
    refused = run_dgr("distill", "--recipe", "paper", "--out", str(default_run), "--quiet")
    assert refused.returncode == 2
    assert "holds a finished run" in refused.stderr and "--resume" in refused.stderr
    resumed = run_dgr("distill", "--recipe", "paper", "--out", str(default_run), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "already complete, skipped" in resumed.stderr
    assert png_bytes(default_run) == before
    other = run_dgr("distill", "--recipe", "paper", "--out", str(default_run), "--resume", "--seed", "1", "--quiet")
    assert other.returncode == 2 and "different configuration" in other.stderr


@pytest.mark.parametrize("args, expected", [
    (["--generator", "nosuch"], "unknown generator 'nosuch'; available generators: "),
    (["--detector", "convnett"], "did you mean 'convnet'"),
    (["--policy", "best"], "available policies: "),
    (["--rule", "mismatch", "--threshold", "0.5"], "--threshold sets τ of the low-confidence rule, which this run does not use"),
    (["--policy", "confidence", "--uniqueness-weight", "0.3"], "--uniqueness-weight sets λ of the confidence-uniqueness policy"),
    (["-o", "strenght=0.5"], "options here: "),
    (["-o", "strength=2"], "strength must be in (0, 1]"),
    (["--ipc", "500"], "lower --ipc to at most"),
    (["--dataset", "digitz"], "did you mean 'digits'"),
    (["--dataset", "fashion-mnist", "--data-dir", "/nonexistent"], "--data-dir"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "out"
    result = run_dgr("distill", "--recipe", "paper", "--out", str(out), "--quiet", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unknown_generator_lists_every_available_name(tmp_path):
    from dgr.plugins import build_registry

    result = run_dgr("distill", "--recipe", "paper", "--generator", "nosuch", "--out", str(tmp_path / "x"))
    for name in build_registry().names("generator"):
        assert name in result.stderr


def test_list_and_plugins_commands():
    listed = run_dgr("list", "policies")
    assert listed.returncode == 0
    for name in ("confidence-uniqueness", "confidence", "uniqueness", "first-valid"):
        assert name in listed.stdout
    bad = run_dgr("list", "widgets")
    assert bad.returncode == 2 and "available: generators, detectors, rules, policies" in bad.stderr
    plugins = run_dgr("plugins")
    assert plugins.returncode == 0 and "dgr_plugins" not in plugins.stderr
    for name in ("dit", "convnet", "rules", "policies"):
        assert name in plugins.stdout


@pytest.mark.slow
def test_images_do_not_depend_on_the_thread_count(default_run, tmp_path):
    out = tmp_path / "two-threads"
    result = run_dgr("distill", "--recipe", "paper", "--out", str(out), "--quiet", "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert png_bytes(default_run) == png_bytes(out)


@pytest.mark.slow
def test_early_stop_reaches_the_pipeline_and_generates_fewer_candidates(default_run, tmp_path):
    out = tmp_path / "early"
    result = run_dgr("distill", "--recipe", "paper", "--out", str(out), "--quiet", "--early-stop")
    assert result.returncode == 0, result.stderr
    full = json.loads((default_run / "run.json").read_text())["counts"]
    early = json.loads((out / "run.json").read_text())["counts"]
    assert early["initial_anomalies"] == full["initial_anomalies"] > 0  # same first images, same flags
    assert early["generated_images"] < full["generated_images"]
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    refined = [r for r in records if r["round"] == 1]
    assert sum(r["selection"]["candidates"] for r in refined) == early["generated_images"] - 100
    assert all(r["selection"]["candidates"] < 20 for r in refined)


def test_fashion_mnist_reads_the_shared_idx_files_and_names_every_way_to_get_them(tmp_path, monkeypatch):
    from dgr.datasets import load_dataset
    from dgr.errors import DgrError

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
    if shared.exists():
        test = load_dataset("fashion-mnist", "test", str(shared))
        assert test.images.shape == (10000, 1, 28, 28) and test.counts().tolist() == [1000] * 10
        assert 0.0 <= test.images.min() and test.images.max() <= 1.0
    monkeypatch.delenv("DGR_DOWNLOAD", raising=False)
    monkeypatch.setenv("DGR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DgrError, match="--data-dir DIR.*dataset-fashion-mnist.*DGR_DOWNLOAD=1"):
        load_dataset("fashion-mnist", "train", str(tmp_path / "empty"))
