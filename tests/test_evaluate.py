"""dgr evaluate: students, protocols, baselines, final-epoch semantics; Fashion-MNIST loader;
early stop in refinement."""
from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np
import pytest

FASHION_DIR = (Path(__file__).resolve().parents[1] / "../shared/data/fashion-mnist").resolve()


def _subset(data, per_class: int, seed: int = 0):
    import torch

    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(data.labels == c), per_class, replace=False)
                          for c in range(len(data.class_names))])
    return torch.from_numpy(data.images[idx]), torch.from_numpy(data.labels[idx])


@pytest.fixture(scope="module")
def digits_test():
    import torch

    from dgr.datasets import load_dataset

    test = load_dataset("digits", "test")
    return torch.from_numpy(test.images), torch.from_numpy(test.labels)


def test_students_give_class_logits(digits_train):
    import torch

    from dgr.components import DatasetInfo
    from dgr.evaluation.students import build_student

    fashion = DatasetInfo(name="fashion-mnist", class_names=tuple("abcdefghij"), channels=1, height=28, width=28)
    rgb = DatasetInfo(name="rgb", class_names=("a", "b", "c"), channels=3, height=32, width=32)
    for info in (digits_train.info, fashion, rgb):
        x = torch.rand(2, info.channels, info.height, info.width)
        for name in ("convnet", "mlp") + (("resnet18",) if info is rgb else ()):  # resnet18 is slow to build
            model = build_student(name, info, width=16 if name != "resnet18" else None).eval()
            assert model(x).shape == (2, info.num_classes), (name, info.name)


def test_convnet_uses_instance_norm(digits_train):
    from torch import nn

    from dgr.evaluation.students import build_student

    model = build_student("convnet", digits_train.info, width=32)
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 3 and all(m.num_groups == m.num_channels == 32 for m in norms)


@pytest.mark.parametrize("student", ["convnet", "mlp"])
def test_students_beat_chance_on_small_data(digits_train, digits_test, student):
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.training import fit_and_score

    x, y = _subset(digits_train, 10)
    settings = attrs.evolve(resolve_protocol("dc", "digits", student=student, epochs=40, width=32),
                            batch_size=50, learning_rate=0.1, augment=False)
    score = fit_and_score(x, y, *digits_test, digits_train.info, settings, seed=0)
    assert score.accuracy > 0.5, score


def test_soft_labels_distil_from_the_embedded_detector(digits_train, digits_test):
    from dgr.assets import embedded_model
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.training import fit_and_score
    from dgr.nets import ConvNetClassifier

    teacher = ConvNetClassifier.from_pretrained(embedded_model("detector", "digits"))
    x, y = _subset(digits_train, 5)
    settings = attrs.evolve(resolve_protocol("rded", "digits", student="mlp", epochs=30), batch_size=25)
    assert settings.labels == "soft" and settings.cutmix == 1.0 and not settings.flips
    settings = attrs.evolve(settings, cutmix=0.0, temperature=1.0)  # few steps: a sharp target learns fast
    score = fit_and_score(x, y, *digits_test, digits_train.info, settings, seed=0, teacher=teacher)
    assert score.accuracy > 0.3 and np.isfinite(score.final_loss)


def test_augmentation_keeps_shape_and_range(digits_train):
    import torch

    from dgr.evaluation.training import augmenter

    torch.manual_seed(0)
    x = torch.from_numpy(digits_train.images[:20])
    y = augmenter(1, flips=False)(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1 and not torch.equal(x, y)


def test_cutmix_pastes_a_box_from_a_partner():
    import torch

    from dgr.evaluation.training import cutmix

    torch.manual_seed(0)
    x = torch.stack([torch.full((1, 8, 8), float(i)) for i in range(4)])
    mixed, order, kept = cutmix(x)
    for i in range(4):
        share = float((mixed[i] == x[i]).float().mean())
        assert share == pytest.approx(kept) or int(order[i]) == i


def test_the_test_split_is_scored_once_after_the_final_epoch(digits_train, digits_test, monkeypatch):
    from dgr.evaluation import training
    from dgr.evaluation.protocols import resolve_protocol

    events: list[tuple] = []
    real_accuracy = training.accuracy

    def spy(model, images, labels, batch_size=1000):
        events.append(("test", len(images)))
        return real_accuracy(model, images, labels, batch_size)

    monkeypatch.setattr(training, "accuracy", spy)
    x, y = _subset(digits_train, 3)
    settings = resolve_protocol("dc", "digits", student="mlp", epochs=4)
    score = training.fit_and_score(x, y, *digits_test, digits_train.info, settings, seed=0,
                                   on_epoch=lambda e, loss: events.append(("epoch", e)))
    assert events == [("epoch", 1), ("epoch", 2), ("epoch", 3), ("epoch", 4), ("test", len(digits_test[0]))]
    assert 0.0 <= score.accuracy <= 1.0


def test_training_is_deterministic_for_a_seed(digits_train, digits_test):
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.training import fit_and_score

    x, y = _subset(digits_train, 3)
    settings = resolve_protocol("dc", "digits", student="mlp", epochs=3)
    a = fit_and_score(x, y, *digits_test, digits_train.info, settings, seed=1)
    b = fit_and_score(x, y, *digits_test, digits_train.info, settings, seed=1)
    assert a.accuracy == b.accuracy and a.final_loss == b.final_loss


def test_protocol_presets_and_overrides():
    from dgr.errors import DgrError
    from dgr.evaluation.protocols import PRESETS, resolve_protocol

    dc = resolve_protocol("dc", "digits")
    assert (dc.optimizer, dc.learning_rate, dc.momentum, dc.weight_decay, dc.schedule) == ("sgd", 0.01, 0.9, 5e-4,
                                                                                           "step")
    assert not dc.flips and resolve_protocol("dc", "fashion-mnist").flips
    assert resolve_protocol("minimax", "digits").student == "resnet18"
    assert PRESETS["rded"].labels == "soft"
    assert resolve_protocol("dc", "digits", labels="soft").cutmix == 1.0
    for bad in ({"name": "dcc"}, {"name": "dc", "labels": "fuzzy"}, {"name": "dc", "epochs": 0}):
        with pytest.raises(DgrError):
            resolve_protocol(bad.pop("name"), "digits", **bad)


def test_random_and_kmeans_real_baselines(digits_train):
    from dgr.evaluation.baselines import kmeans_real, random_real

    a, b = random_real(digits_train, 3, seed=0), random_real(digits_train, 3, seed=1)
    assert len(a) == 30 and np.bincount(a.labels).tolist() == [3] * 10
    assert not np.array_equal(a.images, b.images)
    k = kmeans_real(digits_train, 4, seed=0)
    assert np.bincount(k.labels).tolist() == [4] * 10 and len({im.tobytes() for im in k.images}) == 40


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import dgr

    out = tmp_path_factory.mktemp("run") / "digits"
    dgr.distill(dataset="digits", ipc=2, candidates=2, out=out)
    return out


@pytest.mark.slow
def test_evaluate_a_run_with_baselines_writes_json(tiny_run, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dgr.cli import cli

    monkeypatch.setenv("DGR_CACHE_DIR", str(tmp_path / "cache"))
    report_file = tmp_path / "report.json"
    args = ["evaluate", str(tiny_run), "--dataset", "digits", "--student", "mlp", "--epochs", "3",
            "--repeats", "2", "--baselines", "random-real,unrefined,full", "--full-epochs", "1",
            "--json", str(report_file)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == ["distilled", "random-real", "unrefined", "full"]
    assert rows["distilled"]["images"] == rows["random-real"]["images"] == rows["unrefined"]["images"] == 20
    assert rows["full"]["images"] == 1437 and not rows["full"]["cached"]
    for row in rows.values():
        assert len(row["accuracies"]) == 2
        assert row["mean"] == pytest.approx(np.mean(row["accuracies"]), abs=1e-4)
        assert row["std"] == pytest.approx(np.std(row["accuracies"]), abs=1e-4)
    assert report["settings"]["student"] == "mlp" and "final-epoch" in report["metric"]
    assert report["machine"] and report["date"]
    again = CliRunner().invoke(cli, args[:-2] + ["--baselines", "full"])
    assert again.exit_code == 0 and "(cached)" in again.output


def test_evaluate_an_imagefolder_needs_the_dataset(tmp_path):
    from click.testing import CliRunner

    from dgr.cli import cli

    (tmp_path / "imgs" / "0").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "imgs")])
    assert result.exit_code == 2 and "--dataset" in result.output
    for args in (["--student", "vgg"], ["--protocol", "dcc"], ["--baselines", "random"]):
        result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "imgs"), "--dataset", "digits", *args])
        assert result.exit_code == 2 and "use" in result.output, result.output


def test_read_image_folder_rejects_foreign_classes(tmp_path, digits_train):
    from PIL import Image

    from dgr.errors import DgrError
    from dgr.evaluation.baselines import read_image_folder

    (tmp_path / "cat").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "cat" / "a.png")
    with pytest.raises(DgrError, match="not a class"):
        read_image_folder(tmp_path, digits_train.class_names, (1, 8, 8))
    (tmp_path / "cat" / "a.png").unlink()
    (tmp_path / "cat").rmdir()
    (tmp_path / "3").mkdir()
    Image.new("L", (16, 16), 255).save(tmp_path / "3" / "a.png")
    images = read_image_folder(tmp_path, digits_train.class_names, (1, 8, 8))
    assert images.images.shape == (1, 1, 8, 8) and images.labels.tolist() == [3]


@pytest.mark.skipif(not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST idx files not in ../shared/data/fashion-mnist")
def test_fashion_mnist_loader_reads_the_shared_copy():
    from dgr.datasets import load_dataset

    test = load_dataset("fashion-mnist", "test", str(FASHION_DIR))
    assert test.images.shape == (10000, 1, 28, 28) and test.images.dtype == np.float32
    assert 0.0 <= test.images.min() and test.images.max() <= 1.0
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert test.class_names[0] == "t-shirt" and test.info.num_classes == 10


# --- early stop ------------------------------------------------------------------------------
class SeedGenerator:
    """Images whose brightness is a function of the seed (never flat, so never 'blank')."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, images):
        return images

    def generate(self, prototypes, labels, seeds):
        import torch

        self.calls.append(len(seeds))
        level = torch.tensor([(s % 997) / 997 for s in seeds]).view(-1, 1, 1, 1)
        ramp = torch.linspace(0, 0.1, 64).view(1, 1, 8, 8)
        return (level * 0.9 + ramp).clamp(0, 1)


class BrightnessDetector:
    """p(label 0) = the image's mean brightness; features vary with the image."""

    def score(self, images):
        from dgr.components import Detection

        p = images.mean(dim=(1, 2, 3)).numpy().astype(np.float32)
        probs = np.stack([p] + [(1 - p) / 9] * 9, axis=1)
        feats = np.stack([p, 1 - p, np.sin(7 * p)], axis=1).astype(np.float32)
        return Detection(probs=probs, features=feats)


def _refine(early_stop: bool, candidates: int = 12, flagged=(0, 1, 2, 3, 4, 5)):
    import torch

    from dgr.refinement import refine
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.policies import ConfidenceUniqueness
    from dgr_plugins.rules import LowConfidenceRule, MismatchRule

    gen = SeedGenerator()
    reported: list[int] = []
    results = refine(gen, BrightnessDetector(), [MismatchRule(), LowConfidenceRule(0.7)], ConfidenceUniqueness(0.5),
                     prototypes=torch.zeros(6, 1, 8, 8), flagged=list(flagged), class_index=0, run_seed=3,
                     candidates=candidates, batch_size=64, accepted=UniquenessIndex(3), on_batch=reported.append,
                     early_stop=early_stop)
    return results, gen, sum(reported)


def _reference_refine(candidates: int = 12, flagged=(0, 1, 2, 3, 4, 5)):
    """The refinement before early stop existed: every candidate generated, then selection."""
    import torch

    from dgr.detection import apply_rules, blank_or_broken
    from dgr.seeds import REFINEMENT_ROUND, derive_seed
    from dgr.uniqueness import UniquenessIndex
    from dgr_plugins.policies import ConfidenceUniqueness
    from dgr_plugins.rules import LowConfidenceRule, MismatchRule

    seeds = [derive_seed(3, 0, j, REFINEMENT_ROUND, i) for j in flagged for i in range(candidates)]
    images = SeedGenerator().generate(torch.zeros(len(seeds), 1, 8, 8), None, seeds)
    detection = BrightnessDetector().score(images)
    anomalous, _ = apply_rules([MismatchRule(), LowConfidenceRule(0.7)], detection, np.zeros(len(images), int),
                               blank_or_broken(images))
    accepted, picks = UniquenessIndex(3), []
    for n in range(len(flagged)):
        sl = slice(n * candidates, (n + 1) * candidates)
        cand = detection.take(np.arange(len(images))[sl])
        choice = ConfidenceUniqueness(0.5).select(cand, 0, accepted, ~anomalous[sl])
        accepted.add(cand.features[choice.index:choice.index + 1])
        picks.append((seeds[n * candidates + choice.index], choice.score))
    return picks


def test_default_refinement_is_unchanged_and_generates_every_candidate():
    results, gen, reported = _refine(early_stop=False)
    assert reported == sum(gen.calls) == 6 * 12
    assert all(r.candidates_generated == 12 for r in results)
    assert [(r.seed, r.choice.score) for r in results] == _reference_refine()


def test_early_stop_generates_fewer_candidates_from_the_same_seeds():
    from dgr.refinement import EARLY_STOP_BATCH
    from dgr.seeds import REFINEMENT_ROUND, derive_seed

    full, _, full_count = _refine(early_stop=False)
    early, gen, early_count = _refine(early_stop=True)
    assert early_count == sum(gen.calls) < full_count
    assert all(call <= 6 * EARLY_STOP_BATCH for call in gen.calls)
    for r in early:
        assert r.candidates_generated % EARLY_STOP_BATCH == 0 or r.candidates_generated == 12
        allowed = {derive_seed(3, 0, r.prototype, REFINEMENT_ROUND, i) for i in range(r.candidates_generated)}
        assert r.seed in allowed
        if r.candidates_generated < 12:
            assert r.resolved and r.choice.parts["confidence"] >= 0.8 - 1e-6
    assert [r.prototype for r in early] == [r.prototype for r in full]


def test_early_stop_stays_out_of_the_default_fingerprint():
    from dgr.config import DistillConfig

    assert "early_stop" not in DistillConfig().identity()
    assert DistillConfig(early_stop=True).identity()["early_stop"] is True
    assert DistillConfig(early_stop=True).fingerprint() != DistillConfig().fingerprint()
