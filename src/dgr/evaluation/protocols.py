"""Evaluation protocols: the hyperparameters a student is trained with.

``dc``       The DC/DSA/DM standard for hard labels: ConvNet-3, SGD lr 0.01, momentum 0.9,
             weight decay 5e-4, batch 256, lr ×0.1 at half of the epochs, DSA-like augmentation
             (colour, crop, cutout, scale, rotate; flips except for digits). DSA and DM train
             1000 epochs, DC 300; dgr defaults to 300, which CPU users can afford.
``minimax``  Hard labels on ResNet-18 as in Minimax diffusion (Gu et al., CVPR 2024), which
             follows the IDC/ImageWoof protocol: SGD lr 0.01, momentum 0.9, weight decay 5e-4,
             lr ×0.1 at half, the same augmentation; 300 epochs (the paper trains longer on
             ImageNet subsets; raise --epochs to match it).
``rded``     Soft labels as in RDED (Sun et al., CVPR 2024) and SRe2L: the detector/teacher
             relabels every augmented, CutMix-ed batch; KL divergence at temperature 20;
             AdamW lr 0.001, weight decay 0.01, cosine schedule, batch 100, 300 epochs.

``--student``, ``--labels`` and ``--epochs`` override a preset's values.
"""
from __future__ import annotations

from typing import Any

import attrs

from dgr.errors import DgrError
from dgr.registry import suggest

LABEL_MODES = ("hard", "soft")


@attrs.frozen
class TrainSettings:
    """Everything that decides how a student is trained (see the module docstring)."""

    protocol: str = "dc"
    student: str = "convnet"
    width: int | None = None
    labels: str = "hard"
    epochs: int = 300
    batch_size: int = 256
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"  # step: ×0.1 at half; cosine
    augment: bool = True
    flips: bool = True
    cutmix: float = 0.0  # probability of CutMix per batch
    temperature: float = 4.0  # KD temperature (soft labels)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


PRESETS: dict[str, TrainSettings] = {
    "dc": TrainSettings(protocol="dc"),
    "minimax": TrainSettings(protocol="minimax", student="resnet18"),
    "rded": TrainSettings(protocol="rded", labels="soft", batch_size=100, optimizer="adamw", learning_rate=1e-3,
                          weight_decay=0.01, schedule="cosine", cutmix=1.0, temperature=20.0),
}

NO_FLIP_DATASETS = ("digits", "mnist")


def resolve_protocol(name: str, dataset: str, *, student: str | None = None, labels: str | None = None,
                     epochs: int | None = None, width: int | None = None) -> TrainSettings:
    """A preset with the user's overrides; flips are off for digits (a flipped 2 is not a 2)."""
    if name not in PRESETS:
        raise DgrError(f"unknown protocol {name!r}{suggest(name, PRESETS)}; use one of {', '.join(PRESETS)}")
    if labels is not None and labels not in LABEL_MODES:
        raise DgrError(f"unknown label mode {labels!r}; use --labels hard or --labels soft")
    if epochs is not None and epochs < 1:
        raise DgrError(f"--epochs must be at least 1, got {epochs}")
    preset = PRESETS[name]
    changes: dict[str, Any] = {"flips": dataset not in NO_FLIP_DATASETS}
    if student is not None:
        changes["student"] = student
    if labels is not None:
        changes["labels"] = labels
    if epochs is not None:
        changes["epochs"] = epochs
    if width is not None:
        changes["width"] = width
    if changes.get("labels") == "soft" and preset.labels == "hard":
        changes.setdefault("cutmix", 1.0)
    return attrs.evolve(preset, **changes)
