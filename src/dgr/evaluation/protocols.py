"""Evaluation protocols: how a student is trained on a distilled set (docs/evaluation.md).

``dc``       (default) DC, Zhao et al. ICLR 2021, as in its reference code (VICO-UoE/
             DatasetCondensation, utils.evaluate_synset): ConvNet-3 width 128, instance norm,
             ReLU, avg-pool, default PyTorch init; SGD lr 0.01, momentum 0.9, weight decay 5e-4,
             batch 256, lr ×0.1 at half (epochs + 1 passes), 300 epochs, inputs normalised by the
             dataset mean/std, no augmentation (the reference augments only the dataset named
             MNIST, with crop/scale/rotate and 1000 epochs; digits and Fashion-MNIST get none).
``dsa``      DSA, Zhao & Bilen ICML 2021 (also DM, WACV 2023): the same with DSA augmentation
             (one op per batch among color, crop, cutout, flip, scale, rotate) and 1000 epochs.
``minimax``  Hard labels on ResNet-18 in the spirit of Minimax diffusion (Gu et al., CVPR 2024):
             SGD lr 0.01, momentum 0.9, wd 5e-4, lr ×0.1 at half, DSA augmentation, 300 epochs.
             An approximation, not a reproduction (the paper trains on ImageNet subsets).
``rded``     Soft labels in the spirit of RDED (Sun et al., CVPR 2024) / SRe2L: the teacher
             relabels every augmented, CutMix-ed batch; KL · T²; AdamW lr 0.001, wd 0.01,
             cosine, batch 100, T = 20; ConvNet-3; 300 epochs.

The presets are registered by plugins (``dgr_register_protocols``; dgr's own in
``dgr_plugins.evaluation``): a factory gets a :class:`ProtocolContext` and returns
:class:`TrainSettings`. :func:`resolve_protocol` looks a name up in the registry.

``--student``, ``--labels``, ``--epochs`` and ``--width`` override a preset's values; soft labels on
a hard-label preset keep its batch, optimiser and epochs and use KD temperature 4 (issue 14).
"""
from __future__ import annotations

from typing import Any

import attrs

from dgr.errors import DgrError

LABEL_MODES = ("hard", "soft")
DEFAULT_PROTOCOL = "dc"  # dgr evaluate's --protocol


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
    augment: str = "none"  # none | dsa
    flips: bool = True
    cutmix: float = 0.0  # probability of CutMix per batch
    temperature: float = 4.0  # KD temperature (soft labels)
    reference_loop: bool = True  # DC/DSA's epochs + 1 passes, new optimiser at the lr drop

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for results and caches)."""
        return attrs.asdict(self)

    def describe(self) -> str:
        """One line for result headers: protocol, student, labels, epochs, augmentation."""
        extra = f", T={self.temperature:g}, batch {self.batch_size}" if self.labels == "soft" else ""
        return (f"protocol {self.protocol} · {self.student} · {self.labels} labels{extra} · {self.epochs} epochs · "
                f"{self.optimizer} lr {self.learning_rate:g} · aug {self.augment}"
                f"{'' if self.cutmix == 0 else f'+cutmix {self.cutmix:g}'} · final epoch")


# Soft labels (issue 14): what --labels soft changes on a hard-label preset. Batch, optimiser,
# schedule and epochs stay the preset's, so soft and hard labels compare under the same student.
SOFT = {"temperature": 4.0}


@attrs.frozen
class ProtocolContext:
    """What a protocol factory gets."""

    dataset: str  # the dataset's name ("" when unknown)
    flips: bool = True  # whether a horizontal flip keeps the dataset's labels (its description says)


def resolve_protocol(name: str, dataset: str, *, student: str | None = None, labels: str | None = None,
                     epochs: int | None = None, width: int | None = None) -> TrainSettings:
    """The registered protocol ``name`` for ``dataset``, with the user's overrides. dgr's ``dsa``
    keeps flips on every dataset, as its reference code does; ``minimax``/``rded`` drop them for
    digits (a flipped 2 is not a 2)."""
    from dgr.plugins import build_registry

    entry = build_registry().get("protocol", name)
    if labels is not None and labels not in LABEL_MODES:
        raise DgrError(f"unknown label mode {labels!r}; use --labels hard or --labels soft")
    if epochs is not None and epochs < 1:
        raise DgrError(f"--epochs must be at least 1, got {epochs}")
    from dgr.datasets import flips_allowed

    preset = entry.factory(ProtocolContext(dataset=dataset, flips=flips_allowed(dataset)))
    if not isinstance(preset, TrainSettings):
        raise DgrError(f"protocol {name!r} (plugin {entry.plugin!r}) returned {type(preset).__name__}, "
                       "not TrainSettings")
    changes: dict[str, Any] = {}
    if student is not None:
        changes["student"] = student
    if labels is not None:
        changes["labels"] = labels
    if epochs is not None:
        changes["epochs"] = epochs
    if width is not None:
        changes["width"] = width
    if changes.get("labels") == "soft" and preset.labels == "hard":
        changes.update(SOFT)
    return attrs.evolve(preset, **changes)
