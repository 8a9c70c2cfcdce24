"""The optional polish stage (distribution matching of each class's final images)."""
from __future__ import annotations

import json

import torch

import dgr


def _embedding_gap(images, real, seeds=range(5)):
    from dgr.components import DatasetInfo
    from dgr.evaluation.students import convnet

    info = DatasetInfo(name="x", class_names=("a", "b"), channels=1, height=8, width=8)
    mean, std = real.mean(), real.std()
    gaps = []
    for seed in seeds:
        torch.manual_seed(1000 + seed)  # networks the polish never saw
        body = convnet(info, 64)[:-1]
        with torch.no_grad():
            gaps.append(float(((body((real - mean) / std).mean(0) - body((images - mean) / std).mean(0)) ** 2).sum()))
    return sum(gaps) / len(gaps)


def test_polish_moves_a_class_towards_its_real_images_and_is_deterministic(digits_train):
    from dgr.polishing import PolishSettings, polish_class

    real = torch.from_numpy(digits_train.of_class(3))
    start = torch.full((5, 1, 8, 8), 0.5) + 0.05 * torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    settings = PolishSettings(steps=40, flips=False)
    polished = polish_class(start, real, settings, seed=7)
    assert polished.shape == start.shape and polished.min() >= 0 and polished.max() <= 1
    assert _embedding_gap(polished, real) < 0.5 * _embedding_gap(start, real)
    assert torch.equal(polished, polish_class(start, real, settings, seed=7))
    assert torch.equal(polish_class(start, real, PolishSettings(steps=0), seed=7), start)


def test_distill_with_polish_keeps_the_selected_images_and_describes_the_polished_ones(tmp_path):
    result = dgr.distill(recipe="paper", ipc=2, candidates=2, polish_steps=3, out=tmp_path / "run", options={"steps": "3"})
    run = result.out
    for record in result.records:
        final, selected = run / record["file"], run / record["file"].replace("images/", "selected/", 1)
        assert final.exists() and selected.exists() and final.read_bytes() != selected.read_bytes()
    assert "polish" in json.loads((run / "run.json").read_text())["timings"]
    plain = dgr.distill(recipe="paper", ipc=2, candidates=2, out=tmp_path / "plain", options={"steps": "3"})
    assert not (plain.out / "selected").exists()
    assert [r["seed"] for r in plain.records] == [r["seed"] for r in result.records]
