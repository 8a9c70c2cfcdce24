"""The optional polish stage (distribution matching of each class's final images)."""
from __future__ import annotations

import json

import torch

import dgr


def _embedding_gap(images, real, seeds=range(5)):
    from dgr.components import DatasetInfo
    from dgr.models.students import convnet

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


def test_polishes_in_threads_write_the_bytes_of_one_class_at_a_time(tmp_path):
    """With two torch threads, distill polishes two classes at once (one thread each, networks drawn
    from the polish's own generators); the run is byte-identical to the one-thread run."""
    def png_bytes(run):
        return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*.png"))}

    threads = torch.get_num_threads()
    runs = {}
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            runs[count] = dgr.distill(recipe="paper", ipc=2, candidates=1, polish_steps=4, classes=[0, 1, 2, 3, 4],
                                      out=tmp_path / f"threads{count}", options={"steps": "2"})
            assert torch.get_num_threads() == count  # the polish's single threads are undone
    finally:
        torch.set_num_threads(threads)
    one, two = png_bytes(runs[1].out), png_bytes(runs[2].out)
    assert len(one) == 30 and one == two  # images/, initial/, selected/ of 5 classes × 2


def test_draw_network_draws_what_pytorchs_init_draws_and_the_polish_leaves_global_random_state_alone(digits_train):
    from dgr.components import DatasetInfo
    from dgr.models.students import convnet
    from dgr.polishing import PolishSettings, draw_network, polish_class

    info = DatasetInfo(name="x", class_names=("a", "b"), channels=3, height=16, width=16)
    torch.manual_seed(1234)
    built = convnet(info, 32)[:-1]
    drawn = convnet(info, 32)[:-1]
    draw_network(drawn, torch.Generator().manual_seed(1234))
    for a, b in zip(built.state_dict().values(), drawn.state_dict().values()):
        assert torch.equal(a, b)
    real = torch.from_numpy(digits_train.of_class(2))
    state = torch.get_rng_state()
    polish_class(real[:3].clone(), real, PolishSettings(steps=3, flips=False), seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # safe to run in threads
