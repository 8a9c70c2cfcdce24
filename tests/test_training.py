"""`dgr train`: the generator trainer checkpoints, survives Ctrl-C and resumes to the same model."""
from __future__ import annotations

import signal

import pytest

SMALL = dict(steps=6, batch_size=16, layers=1, heads=2, head_dim=8, ema_decay=0.9, checkpoint_every=2)


def test_generator_resumed_after_ctrl_c_equals_an_uninterrupted_run(tmp_path, digits_train):
    from dgr.training.generator import CHECKPOINT_FILE, GeneratorTraining, train_pixel_dit

    settings = GeneratorTraining(**SMALL)
    whole = train_pixel_dit(digits_train, tmp_path / "whole", settings)

    def ctrl_c_at_step_3(step: int, loss: float) -> None:
        if step == 3:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_pixel_dit(digits_train, tmp_path / "resumed", settings, on_step=ctrl_c_at_step_3)
    assert (tmp_path / "resumed" / CHECKPOINT_FILE).exists()
    assert not (tmp_path / "resumed" / "transformer").exists()  # no folder that looks finished
    resumed = train_pixel_dit(digits_train, tmp_path / "resumed", settings, resume=True)

    weights = "transformer/diffusion_pytorch_model.safetensors"
    assert (tmp_path / "whole" / weights).read_bytes() == (tmp_path / "resumed" / weights).read_bytes()
    assert resumed["final_loss"] == whole["final_loss"]
    assert not (tmp_path / "resumed" / CHECKPOINT_FILE).exists()


def test_resume_with_other_settings_is_refused_in_one_line(tmp_path, digits_train):
    from dgr.errors import DgrError
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    def stop(step: int, loss: float) -> None:
        if step == 2:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_pixel_dit(digits_train, tmp_path, GeneratorTraining(**SMALL), on_step=stop)
    with pytest.raises(DgrError, match="same options"):
        train_pixel_dit(digits_train, tmp_path, GeneratorTraining(**{**SMALL, "steps": 8}), resume=True)


def test_ema_weights_differ_from_the_last_weights(tmp_path, digits_train):
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    weights = "transformer/diffusion_pytorch_model.safetensors"
    train_pixel_dit(digits_train, tmp_path / "last", GeneratorTraining(**{**SMALL, "ema_decay": 0.0}))
    train_pixel_dit(digits_train, tmp_path / "ema", GeneratorTraining(**SMALL))
    assert (tmp_path / "last" / weights).read_bytes() != (tmp_path / "ema" / weights).read_bytes()


def test_detector_resumed_after_ctrl_c_equals_an_uninterrupted_run(tmp_path, digits_train):
    from dgr.training.detector import DetectorTraining, train_detector
    from dgr.training.generator import CHECKPOINT_FILE

    settings = DetectorTraining(epochs=3, batch_size=128, width=8)
    whole = train_detector(digits_train, tmp_path / "whole", settings)
    calls = []

    def ctrl_c_in_epoch_2(epoch: int, loss: float) -> None:
        calls.append(epoch)
        if epoch == 1:
            signal.raise_signal(signal.SIGINT)  # honoured after the next step, in epoch 2

    with pytest.raises(KeyboardInterrupt):
        train_detector(digits_train, tmp_path / "resumed", settings, on_epoch=ctrl_c_in_epoch_2)
    assert (tmp_path / "resumed" / CHECKPOINT_FILE).exists() and calls == [1]
    resumed = train_detector(digits_train, tmp_path / "resumed", settings, resume=True)
    weights = "model.safetensors"
    assert (tmp_path / "whole" / weights).read_bytes() == (tmp_path / "resumed" / weights).read_bytes()
    assert resumed["holdout_accuracy"] == whole["holdout_accuracy"]
    assert not (tmp_path / "resumed" / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("pooling", ["per-block", "global"])
def test_detector_layouts_learn_digits_and_load_back_with_their_layout(tmp_path, digits_train, pooling):
    import torch

    from dgr.models.convnet import ConvNetClassifier
    from dgr.training.detector import DetectorTraining, train_detector

    report = train_detector(digits_train, tmp_path, DetectorTraining(epochs=12, width=16, pooling=pooling))
    assert report["holdout_accuracy"] > 0.75  # chance: 0.1
    loaded = ConvNetClassifier.from_pretrained(tmp_path)
    assert loaded.config["pooling"] == pooling
    images = torch.from_numpy(digits_train.images[:64])
    agreement = (loaded(images).argmax(1).numpy() == digits_train.labels[:64]).mean()
    assert agreement > 0.75


def test_embedded_digits_detector_keeps_its_global_layout():
    from dgr.assets import embedded_model
    from dgr.models.convnet import ConvNetClassifier

    model = ConvNetClassifier.from_pretrained(embedded_model("detector", "digits"))
    assert model.config["pooling"] == "global" and model.head.in_features == 2 * model.config["width"]


def test_detector_defaults_are_decided_once_for_the_cli_and_python_callers():
    from dgr.training.detector import DetectorTraining

    def decided(settings, side):
        resolved = settings.resolved(side)
        return resolved.epochs, resolved.batch_size, resolved.learning_rate

    assert decided(DetectorTraining(), 8) == (60, 64, 2e-3)  # the embedded digits detector's
    assert decided(DetectorTraining(arch="resnet18"), 128) == (30, 32, 2e-3)
    assert decided(DetectorTraining(arch="resnet18", weights="DEFAULT"), 32) == (30, 64, 5e-4)
    assert decided(DetectorTraining(epochs=3, batch_size=7, learning_rate=0.1), 128) == (3, 7, 0.1)  # given wins
    assert DetectorTraining().resolved(8).resolved(200) == DetectorTraining().resolved(8)  # decided once


def test_clip_patch_keeps_at_most_64_tokens_unless_given():
    """The CLIP's ViT patch follows the image side as the generator's does (patch 2 at 64 px was 1024
    tokens and 19 s a step on one core); the embedded digits CLIP's patch 2 stays."""
    from dgr.training.clip import ClipTraining

    def patch(settings: ClipTraining, side: int) -> int:
        return settings.model_config(side)["vision_cfg"]["patch_size"]

    assert [patch(ClipTraining(), side) for side in (8, 28, 32, 64)] == [2, 4, 4, 8]
    assert patch(ClipTraining(image_size=16), 64) == 2  # the ViT's input side decides
    assert patch(ClipTraining(patch_size=2), 64) == 2  # given wins
    assert ClipTraining().resolved(64).patch_size == 8
