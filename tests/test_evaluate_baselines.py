"""dgr evaluate's strongest honest baselines (kmeans-real, kmeans-real-polish) and DD-Ranking's
IOR and HLR, on real digits runs and real students."""
from __future__ import annotations

import json

import numpy as np
import pytest
from dgr_runs import run_dgr


@pytest.fixture(scope="module")
def polished_run(tmp_path_factory):
    import dgr

    out = tmp_path_factory.mktemp("polished") / "run"
    dgr.distill(recipe="paper", ipc=2, candidates=1, polish_steps=2, seed=3, out=out, options={"steps": "2"})
    return out


def context_for(run, digits_train):
    from dgr.evaluation.baselines import BaselineContext, read_image_folder
    from dgr.evaluation.runner import Source

    source = Source.open(run)
    distilled = read_image_folder(source.images_dir, digits_train.class_names, (1, 8, 8))
    return BaselineContext(source=source, train=digits_train, distilled=distilled, run_seed=3, seed=0, full_epochs=1)


def test_kmeans_baselines_pick_real_images_and_polish_them_as_the_run_did(polished_run, digits_train):
    from dgr.evaluation.baselines import kmeans_real, polish_image_set
    from dgr.plugins import build_registry

    registry = build_registry()
    context = context_for(polished_run, digits_train)
    plain = registry.get("baseline", "kmeans-real").factory(context).sets(0)
    assert np.bincount(plain.labels).tolist() == [2] * 10
    rows = {im.tobytes() for im in np.asarray(digits_train.images)}
    assert all(im.tobytes() in rows for im in plain.images)  # real training images
    assert np.array_equal(plain.images, kmeans_real(digits_train, 2, 3).images)  # the run's seed
    polished = registry.get("baseline", "kmeans-real-polish").factory(context).sets(0)
    expected = polish_image_set(plain, digits_train, "digits", 2, 3)  # the run's 2 polish steps, its seed
    assert polished.images.dtype == np.uint8  # 8-bit like a run's PNGs: held as pixels
    assert np.array_equal(polished.unit_images(), expected.images)
    assert not np.array_equal(polished.unit_images(), plain.images)


def test_ior_and_hlr_are_named_as_dd_ranking_names_them():
    from dgr.evaluation.runner import Row, dd_ranking

    rows = [Row("distilled", 100, (0.90, 0.94), 1.0), Row("random-real", 100, (0.88, 0.90), 1.0),
            Row("kmeans-real", 100, (0.95, 0.95), 1.0), Row("full", 1437, (0.99, 0.99), 1.0)]
    metrics = dd_ranking(rows)
    assert metrics["distilled"] == pytest.approx({"IOR": 0.03, "HLR": 0.07})
    assert metrics["kmeans-real"] == pytest.approx({"IOR": 0.06, "HLR": 0.04})
    assert "IOR" not in metrics["random-real"] and "HLR" not in metrics["full"]
    assert dd_ranking(rows[:1]) == {}


@pytest.mark.slow
def test_the_default_evaluation_shows_kmeans_real_and_ior(polished_run, tmp_path):
    report = tmp_path / "report.json"
    result = run_dgr("evaluate", polished_run, "--epochs", "1", "--repeats", "2", "--json", report)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert [r["name"] for r in data["rows"]] == ["distilled", "random-real", "kmeans-real", "unrefined"]
    assert set(data["dd_ranking"]["distilled"]) == {"IOR"} and "IOR" in result.stdout
