"""Helpers every selection policy shares."""
from __future__ import annotations

import numpy as np

from dgr.components import UniquenessIndexLike


def best_valid(scores: np.ndarray, valid: np.ndarray) -> int:
    """Index of the highest score among valid candidates, or among all when none is valid.

    Ties go to the lowest index, so the pick is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    pool = np.flatnonzero(valid) if valid.any() else np.arange(len(scores))
    return int(pool[np.argmax(scores[pool])])


def uniqueness(accepted: UniquenessIndexLike, features: np.ndarray) -> np.ndarray:
    """1 − max cosine similarity to the accepted images (1 for an empty accepted set)."""
    return 1.0 - accepted.max_similarity(features)
