"""Anomaly rules ``mismatch`` (argmax ≠ label) and ``low-confidence`` (p(label) < τ)."""
from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

import dgr


class MismatchRule:
    """Flags an image whose most likely class is not its label; the reason names that class."""

    threshold = 0.0  # a valid image needs no particular p(label)

    def __init__(self, class_names: Sequence[str] = ()) -> None:
        self.class_names = tuple(class_names)

    def _name(self, index: int) -> str:
        return repr(self.class_names[index]) if 0 <= index < len(self.class_names) else f"class {index}"

    def flag(self, detection: dgr.Detection, labels: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Flag the images whose most likely class is not their label."""
        predicted = detection.probs.argmax(1)
        mask = predicted != np.asarray(labels)
        return mask, [f"mismatch: looks like {self._name(int(p))}" if m else None for m, p in zip(mask, predicted)]


@attrs.frozen
class LowConfidenceOptions:
    """Options of ``low-confidence``: the threshold τ."""

    threshold: float = 0.7

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")


@attrs.frozen
class LowConfidenceRule:
    """Flags an image whose p(label) is below τ."""

    threshold: float = attrs.field(default=attrs.fields(LowConfidenceOptions).threshold.default)

    def flag(self, detection: dgr.Detection, labels: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Flag the images whose p(label) is below the threshold."""
        confidence = detection.confidence(np.asarray(labels))
        mask = confidence < self.threshold
        return mask, [f"low-confidence: p={c:.3f} < {self.threshold}" if m else None
                      for m, c in zip(mask, confidence)]


@dgr.hookimpl
def dgr_register_anomaly_rules(register: dgr.Register) -> None:
    """Register the rules ``mismatch`` and ``low-confidence``."""
    register("mismatch", lambda context: MismatchRule(context.dataset.class_names),
             summary="argmax of the detector ≠ the label")
    register("low-confidence", lambda context: LowConfidenceRule(context.config.threshold),
             config=LowConfidenceOptions, summary="p(label) below the threshold τ (--threshold)")
