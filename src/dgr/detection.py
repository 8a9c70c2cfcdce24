"""Stage 3: detection and anomaly rules. Rules compose any-of: an image is anomalous if
any rule flags it, and it carries every rule's reason."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from dgr.components import AnomalyRule, Detection

if TYPE_CHECKING:  # pragma: no cover
    import torch


def blank_or_broken(images: "torch.Tensor") -> np.ndarray:
    """Images a generator returned as NaN or as one flat colour: anomalous whatever a detector says."""
    import torch

    flat = images.reshape(len(images), -1)
    nan = torch.isnan(flat).any(1)
    flat_colour = (flat.nan_to_num(0).amax(1) - flat.nan_to_num(0).amin(1)) < 1e-3
    broken: np.ndarray = (nan | flat_colour).numpy()
    return broken


def apply_rules(rules: Sequence[AnomalyRule], detection: Detection, labels: np.ndarray,
                broken: np.ndarray | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """Any-of composition: (mask [B], reasons per image)."""
    n = len(detection)
    mask = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if broken is not None:
        for i in np.flatnonzero(broken):
            mask[i] = True
            reasons[i].append("blank: the generator returned a NaN or single-colour image")
    for rule in rules:
        flags, why = rule.flag(detection, labels)
        flags = np.asarray(flags, dtype=bool)
        for i in np.flatnonzero(flags):
            mask[i] = True
            reasons[i].append(why[i] or type(rule).__name__)
    return mask, reasons
