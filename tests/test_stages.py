"""Each stage of the method with real small components: faiss, a tiny diffusers DiT, the ConvNet."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dgr.components import Detection
from dgr.errors import DgrError
from dgr.seeds import derive_seed


def test_seeds_depend_on_every_part_and_are_stable():
    base = derive_seed(0, 1, 2, 0, 3)
    assert base == derive_seed(0, 1, 2, 0, 3)
    others = {derive_seed(1, 1, 2, 0, 3), derive_seed(0, 2, 2, 0, 3), derive_seed(0, 1, 3, 0, 3),
              derive_seed(0, 1, 2, 1, 3), derive_seed(0, 1, 2, 0, 4)}
    assert base not in others and len(others) == 5
    assert 0 <= base < 2**63


def test_kmeans_prototypes_find_separated_clusters():
    from dgr.prototypes import kmeans_prototypes

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0]], dtype=np.float32)
    sizes = [50, 30, 20]
    points = np.concatenate([c + rng.normal(0, 0.1, (n, 2)) for c, n in zip(centres, sizes)]).astype(np.float32)
    protos = kmeans_prototypes(torch.from_numpy(points).reshape(-1, 1, 2), 3, seed=1)
    assert protos.shape == (3, 1, 2)
    # ordered by cluster size, each close to its true centre
    np.testing.assert_allclose(protos.reshape(3, 2).numpy(), centres, atol=0.1)
    again = kmeans_prototypes(torch.from_numpy(points).reshape(-1, 1, 2), 3, seed=1)
    assert torch.equal(protos, again)


def test_kmeans_with_too_few_images_names_the_fix():
    from dgr.prototypes import kmeans_prototypes

    with pytest.raises(DgrError, match="lower (--)?ipc to at most 2"):
        kmeans_prototypes(torch.zeros(2, 4), 5, seed=0, class_name="x")


def test_uniqueness_index_is_cosine_over_normalised_features():
    from dgr.uniqueness import UniquenessIndex

    index = UniquenessIndex(3)
    np.testing.assert_array_equal(index.max_similarity(np.ones((2, 3), np.float32)), [0, 0])
    index.add(np.array([[2.0, 0, 0]], np.float32))
    sims = index.max_similarity(np.array([[5.0, 0, 0], [0, 3.0, 0], [1.0, 1.0, 0]], np.float32))
    np.testing.assert_allclose(sims, [1.0, 0.0, np.sqrt(0.5)], atol=1e-6)
    index.add(np.array([[0, 1.0, 0]], np.float32))
    assert len(index) == 2
    np.testing.assert_allclose(index.max_similarity(np.array([[0, 4.0, 0]], np.float32)), [1.0], atol=1e-6)


def _detection(probs, features=None):
    probs = np.asarray(probs, np.float32)
    features = np.eye(len(probs), 4, dtype=np.float32) if features is None else np.asarray(features, np.float32)
    return Detection(probs=probs, features=features)


def test_rules_flag_mismatch_and_low_confidence_and_compose():
    from dgr.detection import apply_rules
    from dgr_plugins.rules import LowConfidenceRule, MismatchRule

    det = _detection([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 0, 0])
    mask, reasons = MismatchRule().flag(det, labels)
    assert mask.tolist() == [False, False, True]
    mask, _ = LowConfidenceRule(0.7).flag(det, labels)
    assert mask.tolist() == [False, True, True]
    mask, reasons = apply_rules([MismatchRule(), LowConfidenceRule(0.7)], det, labels)
    assert mask.tolist() == [False, True, True]
    assert reasons[0] == [] and len(reasons[2]) == 2 and reasons[2][0].startswith("mismatch")


def test_confidence_uniqueness_trades_confidence_for_diversity():
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.policies import Confidence, ConfidenceUniqueness, FirstValid, Uniqueness

    accepted = UniquenessIndex(2)
    accepted.add(np.array([[1.0, 0.0]], np.float32))
    # candidate 0: confident but a copy of the accepted image; candidate 1: a bit less confident, new
    cands = _detection([[0.99, 0.01], [0.90, 0.10], [0.2, 0.8]], [[1, 0], [0, 1], [0, 1]])
    valid = np.array([True, True, False])
    assert Confidence().select(cands, 0, accepted, valid).index == 0
    choice = ConfidenceUniqueness(weight=0.5).select(cands, 0, accepted, valid)
    assert choice.index == 1
    assert choice.parts["uniqueness"] == pytest.approx(1.0)
    assert choice.score == pytest.approx(0.9 + 0.5)
    assert ConfidenceUniqueness(weight=0.0).select(cands, 0, accepted, valid).index == 0
    assert Uniqueness().select(cands, 0, accepted, valid).index == 1  # 2 is as unique but invalid
    assert FirstValid().select(cands, 0, accepted, np.array([False, True, True])).index == 1
    # no valid candidate: the best of all is returned
    assert Confidence().select(cands, 0, accepted, np.zeros(3, bool)).index == 0


def test_informative_prefers_the_least_trivial_valid_candidate():
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.policies import Informative

    accepted = UniquenessIndex(2)
    accepted.add(np.array([[1.0, 0.0]], np.float32))
    cands = _detection([[0.99, 0.01], [0.75, 0.25], [0.2, 0.8]], [[0, 1], [0, 1], [0, 1]])
    valid = np.array([True, True, False])  # 2 is the least confident of all but invalid
    choice = Informative(weight=0.5).select(cands, 0, accepted, valid)
    assert choice.index == 1 and choice.score == pytest.approx(0.25 + 0.5)
    # with no valid candidate it falls back to the most confident, never the least
    assert Informative().select(cands, 0, accepted, np.zeros(3, bool)).index == 0


def test_dit_generator_is_deterministic_per_seed(tiny_dit_folder, build_context, digits_train):
    from dgr_plugins.generators.dit import DiTOptions, make_dit

    gen = make_dit(build_context(model=tiny_dit_folder, config=DiTOptions(steps=4)))
    real = torch.from_numpy(digits_train.of_class(3)[:5])
    latents = gen.encode(real)
    assert latents.shape == (5, 1, 8, 8)
    assert torch.allclose(latents, real * 2 - 1)
    labels = torch.full((3,), 3)
    a = gen.generate(latents[:3], labels, [1, 2, 3])
    b = gen.generate(latents[[0, 0, 2]], labels, [1, 9, 3])
    assert a.shape == (3, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])  # same (prototype, seed) → same image
    assert not torch.equal(a[0], b[1])  # another seed → another image
    # pixels are 8-bit levels, so what the detector scores is what a PNG holds
    assert torch.equal(torch.round(a * 255) / 255, a)


def test_convnet_detector_scores_real_digits(build_context, digits_train):
    from dgr_plugins.detectors.convnet import ConvNetOptions, make_convnet

    det = make_convnet(build_context(config=ConvNetOptions()))
    images = torch.from_numpy(digits_train.images[:200])
    detection = det.score(images)
    assert detection.probs.shape == (200, 10)
    np.testing.assert_allclose(detection.probs.sum(1), 1.0, atol=1e-5)
    assert detection.features.ndim == 2 and len(detection.features) == 200
    assert (detection.probs.argmax(1) == digits_train.labels[:200]).mean() > 0.97


def test_refinement_replaces_flagged_images_and_grows_the_accepted_set(tiny_dit_folder, build_context, digits_train):
    from dgr.refinement import refine
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.detectors.convnet import ConvNetOptions, make_convnet
    from dgr_plugins.generators.dit import DiTOptions, make_dit
    from dgr_plugins.policies import ConfidenceUniqueness
    from dgr_plugins.rules import LowConfidenceRule, MismatchRule

    gen = make_dit(build_context(model=tiny_dit_folder, config=DiTOptions(steps=3)))
    det = make_convnet(build_context(config=ConvNetOptions()))
    protos = gen.encode(torch.from_numpy(digits_train.of_class(7)[:3]))
    accepted = UniquenessIndex(det.score(protos[:1]).features.shape[1])
    seen = []
    results = refine(gen, det, [MismatchRule(), LowConfidenceRule(0.7)], ConfidenceUniqueness(0.5),
                     prototypes=protos, flagged=[0, 2], class_index=7, run_seed=0, candidates=4, batch_size=3,
                     accepted=accepted, on_batch=seen.append)
    assert [r.prototype for r in results] == [0, 2]
    assert sum(seen) == 8 and len(accepted) == 2
    for r in results:
        assert r.candidates_generated == 4 and 0 <= r.choice.index < 4
        assert r.resolved == (r.valid_candidates > 0)
        assert r.seed == derive_seed(0, 7, r.prototype, 1, r.choice.index)


def test_fallback_never_makes_an_image_worse(tiny_dit_folder, build_context, digits_train):
    """No candidate passes (τ = 1): a real 7 is kept over the random generator's candidates, and a
    worse original is replaced by the candidate with the highest p(7), not the most unique one."""
    from dgr.components import Detection
    from dgr.refinement import refine
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.detectors.convnet import ConvNetOptions, make_convnet
    from dgr_plugins.generators.dit import DiTOptions, make_dit
    from dgr_plugins.policies import ConfidenceUniqueness
    from dgr_plugins.rules import LowConfidenceRule

    gen = make_dit(build_context(model=tiny_dit_folder, config=DiTOptions(steps=3)))
    det = make_convnet(build_context(config=ConvNetOptions()))
    originals = torch.from_numpy(digits_train.of_class(7)[:2])
    scored = det.score(originals)
    hopeless = Detection(probs=np.full_like(scored.probs, 1e-6), features=scored.features)
    for original_detection, expect_original in ((scored, True), (hopeless, False)):
        accepted = UniquenessIndex(scored.features.shape[1])
        results = refine(gen, det, [LowConfidenceRule(1.0)], ConfidenceUniqueness(5.0),
                         prototypes=gen.encode(originals), flagged=[0, 1], class_index=7, run_seed=0, candidates=6,
                         batch_size=6, accepted=accepted, originals=originals, original_detection=original_detection)
        for j, r in enumerate(results):
            assert not r.resolved and r.valid_candidates == 0 and r.kept_original == expect_original
            assert r.original_confidence == pytest.approx(float(original_detection.confidence(7)[j]))
            if expect_original:
                assert torch.equal(r.image, originals[j]) and r.detection.confidence(7)[0] > r.choice.score
            else:
                assert r.choice.score == r.choice.parts["confidence"]
                assert r.detection.confidence(7)[0] == pytest.approx(r.choice.score)
        assert len(accepted) == 2


def test_a_mismatch_reason_names_the_class_it_looks_like():
    from dgr_plugins.rules import MismatchRule

    det = _detection([[0.2, 0.8], [0.9, 0.1]])
    _, reasons = MismatchRule(("sandal", "sneaker")).flag(det, np.array([0, 0]))
    assert reasons == ["mismatch: looks like 'sneaker'", None]
    _, reasons = MismatchRule().flag(det, np.array([0, 0]))  # no names given: the index
    assert reasons[0] == "mismatch: looks like class 1"
