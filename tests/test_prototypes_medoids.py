"""``--prototypes medoids`` (beyond the paper): each k-means centroid is replaced by the real image
nearest to it, so synthesis starts from a real image; the shipped digits models, the real digits."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import dgr
from dgr.errors import DgrError


def initial_image(run, record) -> np.ndarray:
    path = run / record["file"].replace("images/", "initial/", 1)
    return np.asarray(Image.open(path), dtype=np.float32) / 255.0


def test_a_medoid_run_starts_each_image_from_the_real_image_it_records(tmp_path, digits_train):
    """At a tiny strength an image stays near its start: the medoid it records, not the centroid."""
    options = {"steps": "4", "strength": "0.05"}
    medoid_run = dgr.distill(recipe="paper", ipc=3, prototypes="medoids", out=tmp_path / "medoids", options=options)
    centroid_run = dgr.distill(recipe="paper", ipc=3, out=tmp_path / "centroids", options=options)
    for medoid_record, centroid_record in zip(medoid_run.records, centroid_run.records):
        real = digits_train.of_class(medoid_record["class_index"])[medoid_record["medoid"]][0]
        from_medoid = initial_image(medoid_run.out, medoid_record)
        from_centroid = initial_image(centroid_run.out, centroid_record)
        assert np.abs(from_medoid - real).mean() < 0.6 * np.abs(from_centroid - real).mean()
    medoids = [(r["class_index"], r["medoid"]) for r in medoid_run.records]
    assert len(set(medoids)) == len(medoids), "each prototype is a different real image"
    assert json.loads((medoid_run.out / "run.json").read_text())["config"]["prototypes"] == "medoids"
    assert "prototypes" not in json.loads((centroid_run.out / "run.json").read_text())["config"]
    assert all("medoid" not in r for r in centroid_run.records)


def test_an_unknown_prototypes_value_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(DgrError, match="prototypes must be one of centroids, medoids"):
        dgr.distill(recipe="paper", prototypes="means", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
