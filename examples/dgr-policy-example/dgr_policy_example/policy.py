"""``margin-diversity``: pick the candidate whose label wins by the widest margin, with a
bonus for being unlike the images already accepted for its class.

    score = p(label) − max_{c ≠ label} p(c)  +  λ · (1 − max cosine similarity to the accepted)

The margin is top-1 − top-2 when the label is the detector's top class and negative when it
is not, so a candidate the detector confuses with another class loses even at high p(label).
"""
from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from dgr.components import Choice, Detection
from dgr.selection import best_valid, uniqueness


def label_margin(probs: np.ndarray, label: int) -> np.ndarray:
    """p(label) minus the highest probability of any other class, per row."""
    others = np.delete(np.asarray(probs, dtype=np.float64), label, axis=1)
    return probs[:, label] - (others.max(1) if others.shape[1] else 0.0)


@attrs.frozen
class MarginDiversity:
    weight: float = 0.5  # λ, the weight of uniqueness (also set by dgr's --uniqueness-weight)

    def __attrs_post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError("weight (λ) must be ≥ 0")

    def select(self, candidates: Detection, label: int, accepted: Any, valid: np.ndarray) -> Choice:
        margin = label_margin(candidates.probs, label)
        unique = uniqueness(accepted, candidates.features)
        scores = margin + self.weight * unique
        i = best_valid(scores, valid)
        return Choice(i, float(scores[i]), {"margin": float(margin[i]),
                                            "confidence": float(candidates.probs[i, label]),
                                            "uniqueness": float(unique[i])})
