"""examples/compose.py: components composed from Python as instances, not names."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

COMPOSE = Path(__file__).resolve().parents[1] / "examples" / "compose.py"


@pytest.mark.slow
def test_compose_example_runs(tmp_path):
    spec = importlib.util.spec_from_file_location("dgr_example_compose", COMPOSE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "compose"
    result = module.main(["--out", str(out), "--ipc", "2", "--candidates", "3", "--steps", "2"])
    assert result.counts["images"] == 20
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["policy"] == "<MostDiverseConfident>"
    assert run["config"]["rules"] == ["<MismatchRule>", "<LowConfidenceRule>", "<MarginRule>"]
    assert run["config"]["detector"] == "<EnsembleDetector>" and run["plugins"] == {}
    assert len(list((out / "images").rglob("*.png"))) == 20


def test_docs_plugins_shows_every_hook_spec_with_its_signature():
    root = Path(__file__).resolve().parents[1]
    specs = [line.rstrip() for line in (root / "src" / "dgr" / "hookspecs.py").read_text().splitlines()
             if line.startswith("def dgr_")]
    docs = (root / "docs" / "plugins.md").read_text()
    assert len(specs) >= 5
    missing = [spec for spec in specs if spec not in docs]
    assert not missing, f"docs/plugins.md lacks: {missing}"
