"""``--refine-from members`` (beyond the paper): a flagged image's candidates start from the real
images of its prototype's k-means cluster, nearest first, with a tiny real DiT and the real digits."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import dgr
from dgr.errors import DgrError


def test_cluster_members_are_the_nearest_latents_closest_first():
    from dgr.prototypes import cluster_members

    latents = torch.tensor([[0.0], [0.3], [0.1], [10.0], [9.0]]).reshape(5, 1, 1)
    prototypes = torch.tensor([[0.0], [10.0], [100.0]]).reshape(3, 1, 1)
    members = cluster_members(latents, prototypes)
    assert [m.tolist() for m in members] == [[0, 2, 1], [3, 4], [3]]  # the empty cluster: its nearest latent


def test_candidates_start_from_the_cluster_members(tiny_dit_folder, build_context, digits_train):
    """At a tiny strength a candidate stays near its start: with anchors it lands near the real
    member it names, not near the prototype (the members' mean)."""
    from dgr.prototypes import cluster_members
    from dgr.refinement import Anchors, refine
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.detectors.convnet import ConvNetOptions, make_convnet
    from dgr_plugins.generators.dit import DiTOptions, make_dit
    from dgr_plugins.policies import ConfidenceUniqueness
    from dgr_plugins.rules import LowConfidenceRule

    gen = make_dit(build_context(model=tiny_dit_folder, config=DiTOptions(steps=20, strength=0.05)))
    det = make_convnet(build_context(config=ConvNetOptions()))
    real = torch.from_numpy(digits_train.of_class(3)[:12])
    latents = gen.encode(real)
    prototypes = torch.stack([latents[:6].mean(0), latents[6:].mean(0)])
    mean_images = torch.stack([real[:6].mean(0), real[6:].mean(0)])  # the prototypes as images (pixel space)
    anchors = Anchors(latents=latents, members=cluster_members(latents, prototypes))

    def run(with_anchors):
        accepted = UniquenessIndex(det.score(latents[:1]).features.shape[1])
        return refine(gen, det, [LowConfidenceRule(0.5)], ConfidenceUniqueness(0.5), prototypes=prototypes,
                      flagged=[0, 1], class_index=3, run_seed=0, candidates=4, batch_size=8, accepted=accepted,
                      anchors=anchors if with_anchors else None)

    from_members, from_prototypes = run(True), run(False)
    for r, p in zip(from_members, from_prototypes):
        assert r.anchor == anchors.member(r.prototype, r.choice.index) and p.anchor is None
        assert r.anchor in anchors.members[r.prototype][:4]
        member, mean = real[r.anchor], mean_images[r.prototype]
        assert (r.image - member).abs().mean() < 0.5 * (r.image - mean).abs().mean()
        assert (p.image - mean).abs().mean() < 0.5 * (p.image - member).abs().mean()
    assert Anchors(latents=latents, members=[np.array([5, 1])]).member(0, 3) == 1  # cycles through a small cluster


def test_a_distill_from_members_records_each_refined_images_real_start(tmp_path):
    result = dgr.distill(recipe="paper", ipc=3, candidates=3, threshold=1.0, refine_from="members", out=tmp_path / "run",
                         options={"steps": "3"})
    refined = [r for r in result.records if r["status"] != "accepted" and r["replaced"]]
    assert refined, "τ 1.0 flags images on the shipped digits models"
    assert all(isinstance(r["selection"]["anchor"], int) for r in refined)
    config = json.loads((result.out / "run.json").read_text())["config"]
    assert config["refine_from"] == "members"
    paper = dgr.distill(recipe="paper", ipc=3, candidates=3, threshold=1.0, out=tmp_path / "paper", options={"steps": "3"})
    assert "refine_from" not in json.loads((paper.out / "run.json").read_text())["config"]
    assert all("anchor" not in (r.get("selection") or {}) for r in paper.records)


def test_an_unknown_refine_from_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(DgrError, match="refine-from must be one of prototype, members"):
        dgr.distill(recipe="paper", refine_from="centroid", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
