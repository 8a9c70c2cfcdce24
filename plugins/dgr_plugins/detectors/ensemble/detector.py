"""The ``ensemble`` detector itself: the weighted mean of its members' probabilities (numpy)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dgr.components import Detection, Detector
from dgr.errors import DgrError


class EnsembleDetector:
    """Weighted mean of member probabilities; concatenated (or one member's) features."""

    def __init__(self, members: Sequence[Detector], weights: Sequence[float] | None = None,
                 features: str | int = "concat", names: Sequence[str] | None = None) -> None:
        if not members:
            raise DgrError("an ensemble needs at least one member detector")
        self.members = list(members)
        self.names = list(names) if names is not None else [type(m).__name__ for m in self.members]
        w = np.ones(len(self.members)) if not weights else np.asarray(weights, dtype=np.float64)
        if len(w) != len(self.members) or (w < 0).any() or w.sum() <= 0:
            raise DgrError("ensemble weights: one non-negative weight per member, not all 0")
        self.weights = w / w.sum()
        if isinstance(features, str) and features != "concat":
            if features not in self.names:
                raise DgrError(f"ensemble features: no member {features!r}; members: {', '.join(self.names)}")
            features = self.names.index(features)
        self.features = features

    def score(self, images: Any) -> Detection:
        """The weighted mean of the members' probabilities, and the features ``features`` names."""
        parts = [m.score(images) for m in self.members]
        shapes = {p.probs.shape for p in parts}
        if len(shapes) != 1:
            raise DgrError(f"ensemble members disagree on the number of classes: {sorted(shapes)}")
        probs = sum(w * p.probs.astype(np.float64) for w, p in zip(self.weights, parts))
        probs = probs / probs.sum(1, keepdims=True)
        if self.features == "concat":
            feats = np.concatenate([np.sqrt(w) * _unit(p.features) for w, p in zip(self.weights, parts)], 1)
        else:
            feats = parts[int(self.features)].features
        return Detection(probs=probs.astype(np.float32), features=np.asarray(feats, dtype=np.float32))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    unit: np.ndarray = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit
