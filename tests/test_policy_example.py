"""The third-party path, proven with a real package: examples/dgr-policy-example is installed
(CI runs `pip install ./examples/dgr-policy-example`; this test installs it when missing),
`dgr list policies` lists it and `dgr distill --policy margin-diversity` runs with it."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dgr-policy-example"
DGR = [sys.executable, "-m", "dgr"]


@pytest.fixture(scope="module")
def installed() -> None:
    try:
        metadata.distribution("dgr-policy-example")
    except metadata.PackageNotFoundError:
        # Offline-friendly when setuptools is in the venv; otherwise pip fetches it to build.
        isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation, str(EXAMPLE)],
                       check=True, timeout=300)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([*DGR, *args], capture_output=True, text=True, timeout=600, env=env)


def test_margin_diversity_picks_the_clear_winner():
    from dgr.components import Detection
    from dgr.uniqueness import UniquenessIndex

    sys.path.insert(0, str(EXAMPLE))
    try:
        from dgr_policy_example.policy import MarginDiversity, label_margin
    finally:
        sys.path.remove(str(EXAMPLE))
    probs = np.array([[0.50, 0.48, 0.02],   # p(label) high-ish but ambiguous
                      [0.45, 0.05, 0.50],   # label is not top-1: negative margin
                      [0.40, 0.30, 0.30]], np.float32)
    assert np.allclose(label_margin(probs, 0), [0.02, -0.05, 0.10])
    features = np.eye(3, dtype=np.float32)
    accepted = UniquenessIndex(3)
    choice = MarginDiversity(weight=0.0).select(Detection(probs, features), 0, accepted, np.ones(3, bool))
    assert choice.index == 2 and choice.parts["margin"] == pytest.approx(0.10)
    accepted.add(features[2:])  # the clear winner's look-alike is already accepted
    choice = MarginDiversity(weight=1.0).select(Detection(probs, features), 0, accepted, np.ones(3, bool))
    assert choice.index == 0 and choice.parts["uniqueness"] == pytest.approx(1.0)
    choice = MarginDiversity(weight=0.0).select(Detection(probs, features), 0, accepted,
                                                np.array([False, True, False]))
    assert choice.index == 1  # only valid candidates compete


def test_list_policies_shows_the_installed_plugin(installed):
    result = run("list", "policies")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "margin-diversity" in line)
    assert "weight" in line
    plugins = run("plugins")
    assert "dgr-policy-example" in plugins.stdout


@pytest.mark.slow
def test_distill_runs_with_the_third_party_policy(installed, tmp_path):
    out = tmp_path / "run"
    # --threshold 0.99 flags many images and leaves some candidates valid, so the policy gets
    # candidates to choose from (with no valid candidate the fallback picks by p(label) instead).
    result = run("distill", "--recipe", "paper", "--policy", "margin-diversity", "--ipc", "2", "--candidates", "3",
                 "--threshold", "0.99", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    run_info = json.loads((out / "run.json").read_text())
    policy = run_info["plugins"]["policy"]
    assert policy["component"] == "margin-diversity" and policy["distribution"] == "dgr-policy-example"
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 20
    picked = [r for r in records if "selection" in r and "fallback" not in r]
    assert picked and all("margin" in r["selection"] for r in picked)
