"""The Python API with names and instances, and the observer hook."""
from __future__ import annotations

import json

import numpy as np
import pytest

import dgr
from dgr.components import Choice
from dgr.plugins import get_plugin_manager


class LastValidPolicy:
    """A plain object with a select method is a policy: no registration needed."""

    def __init__(self) -> None:
        self.calls = 0

    def select(self, candidates, label, accepted, valid):
        self.calls += 1
        index = int(np.flatnonzero(valid)[-1]) if valid.any() else len(valid) - 1
        return Choice(index, 0.0, {"confidence": float(candidates.confidence(label)[index])})


class AlwaysFlag:
    def flag(self, detection, labels):
        return np.ones(len(detection), bool), ["flagged by the test"] * len(detection)


class ClassObserver:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @dgr.hookimpl
    def dgr_on_class_done(self, class_name, records, out_dir):
        self.seen.append((class_name, len(records)))


def test_distill_with_instances_and_the_class_done_hook(tmp_path):
    policy = LastValidPolicy()
    observer = ClassObserver()
    pm = get_plugin_manager()
    pm.register(observer, name="observer")
    try:
        result = dgr.distill(recipe="paper", ipc=2, candidates=3, rules=[AlwaysFlag()], policy=policy, out=tmp_path / "run",
                             options={"steps": "5"})
    finally:
        pm.unregister(name="observer")
    assert observer.seen == [(str(c), 2) for c in range(10)]
    # AlwaysFlag leaves no valid candidate: the fallback keeps the best p(label), the policy is not asked
    assert policy.calls == 0
    assert all(r["fallback"]["kept"] in ("original", "candidate") for r in result.records)
    assert result.counts["initial_anomalies"] == 20
    assert result.counts["generated_images"] == 20 + 20 * 3
    assert len(result.records) == 20 and result.manifest.exists()
    run = json.loads(result.run_json.read_text())
    assert run["config"]["policy"] == "<LastValidPolicy>" and run["config"]["rules"] == ["<AlwaysFlag>"]
    assert run["config"]["options"] == {"steps": "5"}
    for record in result.records:
        kept_original = record["fallback"]["kept"] == "original"
        assert record["round"] == (0 if kept_original else 1) and record["anomaly_reasons"] == ["flagged by the test"]
        assert record["status"] in ("refined", "unresolved")


def test_options_reach_the_component_and_are_validated(tmp_path):
    from dgr.errors import OptionError

    with pytest.raises(OptionError, match="dit.*no option nosuch"):
        dgr.distill(recipe="paper", ipc=1, options={"generator.nosuch": "1"}, out=tmp_path / "x")
    with pytest.raises(OptionError, match="expected int"):
        dgr.distill(recipe="paper", ipc=1, options={"steps": "many"}, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
