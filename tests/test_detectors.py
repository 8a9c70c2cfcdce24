"""Detectors: resnet (trained a few steps, saved, reloaded), clip (a tiny local open_clip config
with random weights, never a download), ensemble, and the one-line missing-weights errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dgr.cli import cli
from dgr.errors import DgrError, MissingWeightsError, OptionError
from dgr.plugins import build_registry

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def build(kind: str, name: str, context):
    """Build a registered component the way the pipeline does (default options when none given)."""
    import attrs

    from dgr.build import make_component
    from dgr.options import build_config

    registry = build_registry()
    entry = registry.get(kind, name)
    if context.config is None and entry.config is not None:
        context = attrs.evolve(context, config=build_config(entry.config, {}, name))
    return make_component(entry, context, registry)


def images(n: int = 6, seed: int = 0):
    import torch

    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def check_detection(det, n: int, classes: int = 10) -> None:
    assert det.probs.shape == (n, classes) and det.probs.dtype == np.float32
    assert det.features.shape[0] == n and det.features.ndim == 2
    assert np.allclose(det.probs.sum(1), 1.0, atol=1e-5)
    assert (det.probs >= 0).all()


# --- resnet -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet_folder(tmp_path_factory) -> Path:
    """resnet18 (CIFAR stem) trained for two steps through the CLI, as a user would."""
    out = tmp_path_factory.mktemp("resnet") / "r18"
    result = CliRunner().invoke(cli, ["train", "detector", "--arch", "resnet18", "--dataset", "digits",
                                      "--max-steps", "2", "--batch-size", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output and "ECE" in result.output and "temperature" in result.output
    return out


def test_resnet_trains_saves_and_reloads(resnet_folder, build_context):
    from dgr_plugins.detectors.resnet import ResNetOptions

    config = json.loads((resnet_folder / "config.json").read_text())
    assert (resnet_folder / "model.safetensors").is_file()
    assert config["arch"] == "resnet18" and config["cifar_stem"] is True and config["in_channels"] == 1
    assert config["temperature"] > 0 and config["class_names"] == [str(i) for i in range(10)]

    detector = build("detector", "resnet", build_context(model=resnet_folder, config=ResNetOptions()))
    x = images()
    first = detector.score(x)
    check_detection(first, len(x))
    assert first.features.shape[1] == 512  # resnet18's penultimate layer
    again = build("detector", "resnet", build_context(model=resnet_folder, config=ResNetOptions())).score(x)
    assert np.array_equal(first.probs, again.probs) and np.array_equal(first.features, again.features)
    # batching does not change a row
    assert np.allclose(detector.score(x[:2]).probs, first.probs[:2], atol=1e-6)


def test_resnet_temperature_option_overrides_the_fitted_one(resnet_folder, build_context):
    from dgr_plugins.detectors.resnet import ResNetOptions

    hot = build("detector", "resnet", build_context(model=resnet_folder, config=ResNetOptions(temperature=100.0)))
    probs = hot.score(images()).probs
    assert probs.max() < 0.2  # nearly uniform at a very high temperature


def test_resnet_needs_a_model_folder(build_context, tmp_path):
    from dgr_plugins.detectors.resnet import ResNetOptions

    with pytest.raises(MissingWeightsError, match="dgr train detector --arch resnet18"):
        build("detector", "resnet", build_context(config=ResNetOptions()))
    with pytest.raises(MissingWeightsError, match="config.json"):
        build("detector", "resnet", build_context(model=tmp_path, config=ResNetOptions()))


def test_resnet_refuses_a_convnet_folder(build_context):
    from dgr.assets import embedded_model
    from dgr_plugins.detectors.resnet import ResNetOptions

    with pytest.raises(DgrError, match="--detector convnet"):
        build("detector", "resnet", build_context(model=embedded_model("detector", "digits"),
                                                  config=ResNetOptions()))


def test_convnet_refuses_a_resnet_folder(resnet_folder, build_context):
    from dgr_plugins.detectors.convnet import ConvNetOptions

    with pytest.raises(DgrError, match="holds a torchvision model.*--detector resnet"):
        build("detector", "convnet", build_context(model=resnet_folder, config=ConvNetOptions()))


def test_torchvision_classifier_other_architectures():
    import torch

    from dgr.models.torchvision_classifier import TorchvisionClassifier

    model = TorchvisionClassifier("mobilenet_v3_small", 1, 10, image_size=[8, 8]).eval()
    assert model.config["cifar_stem"] is False and model.config["input_size"] == 32  # small images upscaled
    with torch.no_grad():
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(DgrError, match="did you mean 'resnet18'"):
        TorchvisionClassifier("resnet19", 1, 10)


def test_crop_augmentation_keeps_shape_and_content():
    import torch

    from dgr.training.detector import _crop_flip, expected_calibration_error

    x = torch.rand(4, 1, 8, 8)
    out = _crop_flip(hflip=True)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.sum() <= x.sum() + 1e-4
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
    assert expected_calibration_error(probs, torch.tensor([0, 0])) == pytest.approx(0.25)


def test_train_detector_missing_pretrained_weights_is_one_line(tmp_path):
    out = tmp_path / "never"
    result = CliRunner().invoke(cli, ["train", "detector", "--arch", "resnet18", "--weights",
                                      str(tmp_path / "missing.pth"), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "missing.pth" in result.output and "--weights" in result.output
    assert not out.exists()


def test_train_detector_rejects_unknown_architecture(tmp_path):
    result = CliRunner().invoke(cli, ["train", "detector", "--arch", "resnet19", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "did you mean 'resnet18'" in result.output
    assert not (tmp_path / "x").exists()


# --- clip ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    """A tiny open_clip config (registered from a local .json) with random weights saved as a
    checkpoint: ``CONFIG.json:CHECKPOINT.pt``, loaded through the real path."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("clip")
    config = folder / "dgr-test-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("dgr-test-tiny-clip")
    checkpoint = folder / "tiny.pt"
    torch.save(model.state_dict(), checkpoint)
    return f"{config}:{checkpoint}"


def test_clip_zero_shot(tiny_clip, build_context):
    from dgr_plugins.detectors.clip import ClipOptions

    options = ClipOptions(templates=("a photo of the digit {}.", "a drawing of a {}."))
    detector = build("detector", "clip", build_context(model=tiny_clip, config=options))
    x = images()
    first = detector.score(x)
    check_detection(first, len(x))
    assert first.features.shape[1] == TINY_CLIP["embed_dim"]
    assert np.allclose(np.linalg.norm(first.features, axis=1), 1.0, atol=1e-5)
    assert detector.scale == pytest.approx(float(detector.model.logit_scale.detach().exp()))  # the model's own scale
    assert detector.text_features.shape == (10, TINY_CLIP["embed_dim"])
    again = build("detector", "clip", build_context(model=tiny_clip, config=options)).score(x)
    assert np.array_equal(first.probs, again.probs)
    single = build("detector", "clip", build_context(model=tiny_clip, config=ClipOptions(templates=("a {}.",))))
    assert not np.allclose(single.text_features, detector.text_features)  # templates matter


def test_clip_default_templates_and_names(tiny_clip, build_context):
    from dgr_plugins.detectors.clip import ClipOptions
    from dgr_plugins.datasets.digits import TEMPLATES as DIGIT_TEMPLATES

    names = tuple("zero one two three four five six seven eight nine".split())
    detector = build("detector", "clip", build_context(model=tiny_clip, config=ClipOptions(names=names)))
    assert detector.templates == DIGIT_TEMPLATES and detector.class_names == list(names)
    with pytest.raises(DgrError, match="one per class"):
        build("detector", "clip", build_context(model=tiny_clip, config=ClipOptions(names=("a", "b"))))


def test_clip_probe(tiny_clip, build_context):
    from dgr_plugins.detectors.clip import ClipOptions

    options = ClipOptions(mode="probe", probe_per_class=8)
    detector = build("detector", "clip", build_context(model=tiny_clip, config=options))
    assert detector.probe is not None
    x = images()
    first = detector.score(x)
    check_detection(first, len(x))
    again = build("detector", "clip", build_context(model=tiny_clip, config=options)).score(x)
    assert np.allclose(first.probs, again.probs, atol=1e-6)


def test_clip_options_are_validated():
    from dgr.options import build_config
    from dgr_plugins.detectors.clip import ClipOptions

    with pytest.raises(OptionError, match="mode"):
        build_config(ClipOptions, {"mode": "few-shot"}, "detector 'clip'")
    with pytest.raises(OptionError, match="'{}'"):
        build_config(ClipOptions, {"templates": "a photo"}, "detector 'clip'")
    parsed = build_config(ClipOptions, {"templates": "a {}.,the {}."}, "detector 'clip'")
    assert parsed.templates == ("a {}.", "the {}.")


def test_clip_missing_weights_are_one_line(build_context, monkeypatch, tmp_path):
    import open_clip

    from dgr_plugins.detectors.clip import ClipOptions
    from dgr_plugins.detectors.clip.detector import _cached

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if _cached(open_clip.get_pretrained_cfg("ViT-B-32", "openai")):
        pytest.skip("ViT-B-32:openai weights are cached on this machine")
    with pytest.raises(MissingWeightsError) as err:
        build("detector", "clip", build_context(model="ViT-B-32:openai", config=ClipOptions()))
    message = str(err.value)
    assert "\n" not in message and "open_clip_pytorch_model.bin" in message
    assert "--detector-model ViT-B-32:/path/to/checkpoint" in message
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build("detector", "clip", build_context(model=f"ViT-B-32:{tmp_path}/nope.pt", config=ClipOptions()))
    with pytest.raises(MissingWeightsError, match="names no weights"):
        build("detector", "clip", build_context(model="ViT-B-32", config=ClipOptions()))
    with pytest.raises(DgrError, match="did you mean 'ViT-B-32'"):
        build("detector", "clip", build_context(model="ViT-B-33:openai", config=ClipOptions()))


def test_distill_with_clip_offline_fails_before_writing(monkeypatch, tmp_path):
    import open_clip

    from dgr_plugins.detectors.clip.detector import _cached

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if _cached(open_clip.get_pretrained_cfg("ViT-B-32", "openai")):
        pytest.skip("ViT-B-32:openai weights are cached on this machine")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["distill", "--recipe", "paper", "--detector", "clip", "--detector-model", "ViT-B-32:openai",
                                      "--ipc", "1", "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: CLIP weights ViT-B-32:openai are not on this machine")
    assert result.output.count("\n") == 1
    assert not out.exists()


def test_hub_names_fail_at_once_without_hf_hub_offline(build_context, monkeypatch, tmp_path):
    """No HF_HUB_OFFLINE, no DGR_DOWNLOAD: an uncached tag or hf-hub repo fails in one line without
    opening a connection (a hub lookup used to retry for ~76 s)."""
    import socket
    import time

    import huggingface_hub.constants
    import open_clip

    from dgr_plugins.detectors.clip import ClipOptions
    from dgr_plugins.detectors.clip.detector import _cached

    for var in ("HF_HUB_OFFLINE", "DGR_OFFLINE", "DGR_DOWNLOAD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # read at import by huggingface_hub
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    connections = []

    def refuse(sock, address):
        connections.append(address)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    if _cached(open_clip.get_pretrained_cfg("ViT-B-32", "openai")):
        pytest.skip("ViT-B-32:openai weights are cached on this machine")
    for model, start in [("ViT-B-32:openai", "CLIP weights ViT-B-32:openai are not on this machine"),
                         ("hf-hub:org/no-such-clip", "CLIP model hf-hub:org/no-such-clip is not in the Hugging Face cache")]:
        begin = time.monotonic()
        with pytest.raises(MissingWeightsError) as err:
            build("detector", "clip", build_context(model=model, config=ClipOptions()))
        message = str(err.value)
        assert message.startswith(start) and "\n" not in message and "DGR_DOWNLOAD=1" in message
        assert time.monotonic() - begin < 10
    assert connections == []


# --- clip trained by dgr -------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_clip(tmp_path_factory) -> Path:
    """``dgr train clip`` for a few steps, through the CLI."""
    out = tmp_path_factory.mktemp("clip-trained") / "clip"
    result = CliRunner().invoke(cli, ["train", "clip", "--dataset", "digits", "--steps", "3", "--batch-size", "16",
                                      "--vision-layers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "zero-shot accuracy" in result.output and "on the test split (360 images)" in result.output
    assert "ECE" in result.output and "logit scale" in result.output
    return out


def test_train_clip_writes_an_open_clip_folder(trained_clip):
    import open_clip
    import torch

    from dgr.models.clip import META_FILE, WEIGHTS_FILE, load_folder

    meta = json.loads((trained_clip / META_FILE).read_text())
    assert meta["model_name"] == "dgr-digits-clip" and meta["class_names"] == [str(i) for i in range(10)]
    config = json.loads((trained_clip / "dgr-digits-clip.json").read_text())
    assert set(config) >= {"embed_dim", "vision_cfg", "text_cfg"} and config["vision_cfg"]["image_size"] == 8
    assert (trained_clip / WEIGHTS_FILE).is_file()
    report = meta["report"]
    assert report["split"] == "test" and 0 <= report["zero_shot_accuracy"] <= 1 and report["ece"] >= 0
    # plain open_clip loads it: a registered config and a local checkpoint
    open_clip.add_model_config(trained_clip / "dgr-digits-clip.json")
    model, _, preprocess = open_clip.create_model_and_transforms(
        "dgr-digits-clip", pretrained=str(trained_clip / WEIGHTS_FILE))
    assert isinstance(model, open_clip.CLIP)
    assert float(model.logit_scale.detach().exp()) == pytest.approx(meta["logit_scale"], rel=1e-2)  # the fitted scale
    same, _, _, _ = load_folder(trained_clip)
    for a, b in zip(model.state_dict().values(), same.state_dict().values()):
        assert torch.equal(a, b)


def test_clip_detector_loads_a_trained_folder(trained_clip, build_context):
    import open_clip

    from dgr_plugins.detectors.clip import ClipOptions

    meta = json.loads((trained_clip / "dgr_clip.json").read_text())
    detector = build("detector", "clip", build_context(model=trained_clip, config=ClipOptions()))
    assert isinstance(detector.model, open_clip.CLIP) and "dgr-digits-clip" in open_clip.list_models()
    assert detector.templates == tuple(meta["templates"])  # the folder's training templates
    assert detector.scale == pytest.approx(meta["logit_scale"], rel=1e-2)
    check_detection(detector.score(images()), 6)
    assert detector.score(images()).features.shape[1] == 64
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build("detector", "clip", build_context(model=trained_clip / "nope", config=ClipOptions()))


def test_embedded_clip_is_the_digits_default_and_classifies_zero_shot(build_context):
    """--detector clip with no --detector-model on digits: the shipped CLIP, ≥ 90 % zero-shot on the test split."""
    import torch

    from dgr.assets import embedded_model
    from dgr.datasets import load_dataset
    from dgr_plugins.detectors.clip import ClipOptions

    folder = embedded_model("clip", "digits")
    assert folder is not None and sum(p.stat().st_size for p in folder.iterdir()) < 5e6
    detector = build("detector", "clip", build_context(config=ClipOptions()))
    test = load_dataset("digits", "test")
    x = torch.from_numpy(test.images)
    accuracy = float((detector.score(x).probs.argmax(1) == test.labels).mean())
    assert accuracy >= 0.9, accuracy
    probe = build("detector", "clip", build_context(config=ClipOptions(mode="probe")))
    assert float((probe.score(x).probs.argmax(1) == test.labels).mean()) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["zero-shot", "probe"])
def test_distill_with_the_embedded_clip(tmp_path, mode, build_context):
    """The headline command, offline, on the shipped models: the manifest's confidences are CLIP's."""
    import torch
    from PIL import Image

    from dgr_plugins.detectors.clip import ClipOptions

    out = tmp_path / "run"
    args = ["distill", "--recipe", "paper", "--generator", "dit", "--detector", "clip", "--ipc", "2", "--candidates", "4",
            "--out", str(out), "-q"] + (["-o", "mode=probe"] if mode == "probe" else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["plugins"]["detector"]["component"] == "clip"
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 20
    pixels = torch.from_numpy(np.stack([np.asarray(Image.open(out / r["file"]), np.float32)[None] / 255.0
                                        for r in records]))
    detector = build("detector", "clip", build_context(config=ClipOptions(mode=mode)))
    probs = detector.score(pixels).probs
    labels = np.array([r["class_index"] for r in records])
    assert np.allclose([r["confidence"] for r in records], probs[np.arange(len(records)), labels], atol=1e-4)
    assert [r["predicted"] for r in records] == probs.argmax(1).tolist()
    assert (probs.argmax(1) == labels).mean() >= 0.8  # meaningful: most final images are their class to CLIP


# --- ensemble -----------------------------------------------------------------------------

class Fixed:
    """A detector returning fixed outputs."""

    def __init__(self, probs, features):
        self.probs, self.features = np.asarray(probs, np.float32), np.asarray(features, np.float32)

    def score(self, images):
        from dgr.components import Detection

        return Detection(self.probs, self.features)


def test_ensemble_weighted_mean_and_features():
    from dgr_plugins.detectors.ensemble.detector import EnsembleDetector

    a = Fixed([[1.0, 0.0], [0.5, 0.5]], [[3.0, 0.0], [1.0, 1.0]])
    b = Fixed([[0.0, 1.0], [0.5, 0.5]], [[1.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    det = EnsembleDetector([a, b], weights=[3, 1], names=["a", "b"]).score(None)
    assert np.allclose(det.probs, [[0.75, 0.25], [0.5, 0.5]])
    assert det.features.shape == (2, 5)
    assert np.allclose(np.linalg.norm(det.features, axis=1), 1.0, atol=1e-6)
    # cosine of ensemble features = weighted mean of the members' cosines
    cos = float(det.features[0] @ det.features[1])
    assert cos == pytest.approx(0.75 * np.sqrt(0.5) + 0.25 * 0.0, abs=1e-6)
    only_b = EnsembleDetector([a, b], features="b", names=["a", "b"]).score(None)
    assert np.array_equal(only_b.features, b.features)
    with pytest.raises(DgrError, match="no member 'c'"):
        EnsembleDetector([a, b], features="c", names=["a", "b"])


def test_ensemble_options_are_validated():
    from dgr.options import build_config
    from dgr_plugins.detectors.ensemble import EnsembleOptions

    owner = "detector 'ensemble'"
    with pytest.raises(OptionError, match="members=convnet,resnet"):
        build_config(EnsembleOptions, {}, owner)
    with pytest.raises(OptionError, match="one per member"):
        build_config(EnsembleOptions, {"members": "convnet,resnet", "weights": "1"}, owner)
    with pytest.raises(OptionError, match="features"):
        build_config(EnsembleOptions, {"members": "convnet,resnet", "features": "clip"}, owner)
    parsed = build_config(EnsembleOptions, {"members": "convnet,clip", "weights": "1,2.5",
                                            "member_options": "clip.mode=probe"}, owner)
    assert parsed.weights == (1.0, 2.5) and parsed.member_options == ("clip.mode=probe",)


def test_ensemble_of_registered_detectors(resnet_folder, tiny_clip, build_context):
    from dgr.options import build_config
    from dgr_plugins.detectors.ensemble import EnsembleOptions

    x = images()
    convnet = build("detector", "convnet", build_context()).score(x)
    resnet = build("detector", "resnet", build_context(model=resnet_folder)).score(x)
    options = build_config(EnsembleOptions, {"members": "convnet,resnet,clip", "weights": "1,2,1",
                                             "member_options": "clip.templates=a {}."}, "ensemble")
    model = f"resnet={resnet_folder},clip={tiny_clip}"
    ensemble = build("detector", "ensemble", build_context(model=model, config=options))
    det = ensemble.score(x)
    check_detection(det, len(x))
    clip = ensemble.members[2].score(x)
    assert ensemble.members[2].templates == ("a {}.",)
    assert np.allclose(det.probs, 0.25 * convnet.probs + 0.5 * resnet.probs + 0.25 * clip.probs, atol=1e-5)
    assert det.features.shape[1] == convnet.features.shape[1] + 512 + TINY_CLIP["embed_dim"]
    with pytest.raises(DgrError, match="MEMBER=MODEL"):
        build("detector", "ensemble", build_context(model=str(resnet_folder), config=options))


def test_resnet_and_ensemble_are_registered():
    registry = build_registry()
    assert {"resnet", "clip", "ensemble", "convnet"} <= set(registry.names("detectors"))
    assert registry.get("detector", "resnet").plugin == "resnet"


@pytest.mark.slow
def test_distill_with_ensemble_detector(resnet_folder, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["distill", "--recipe", "paper", "--detector", "ensemble", "-o", "members=convnet,resnet",
                                      "--detector-model", f"resnet={resnet_folder}", "--ipc", "1",
                                      "--candidates", "2", "-o", "steps=2", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["plugins"]["detector"]["component"] == "ensemble"
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 10


def test_fine_tuning_loads_matching_backbone_weights(tmp_path):
    import torch
    from torchvision import models

    from dgr.models.torchvision_classifier import TorchvisionClassifier, pretrained_state

    source = models.resnet18()
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    state = pretrained_state("resnet18", str(tmp_path / "r18.pth"))
    model = TorchvisionClassifier("resnet18", 3, 10, image_size=[8, 8])
    fresh = model.load_backbone(state)
    assert fresh == ["conv1.weight"]  # the CIFAR stem replaces the 7×7 convolution
    assert torch.equal(model.net.layer1[0].conv1.weight, source.layer1[0].conv1.weight)
    with pytest.raises(DgrError, match="did you mean 'IMAGENET1K_V1'"):
        pretrained_state("resnet18", "IMAGENET1K_V2")
