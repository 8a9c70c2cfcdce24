"""The uniqueness index: FAISS inner product over L2-normalised detector features, one per class."""
from __future__ import annotations

import numpy as np


class UniquenessIndex:
    """Accepted images of one class; answers "how similar is x to the closest accepted image?"."""

    def __init__(self, dim: int) -> None:
        import faiss

        self.dim = dim
        self._index = faiss.IndexFlatIP(dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @staticmethod
    def _normalise(features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.atleast_2d(features), dtype=np.float32).copy()
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        unit: np.ndarray = x / np.maximum(norms, 1e-12)
        return unit

    def add(self, features: np.ndarray) -> None:
        """Add rows (normalised) to the accepted images."""
        self._index.add(self._normalise(features))

    def max_similarity(self, features: np.ndarray) -> np.ndarray:
        """Max cosine similarity of each row to the accepted set (0 when the set is empty)."""
        x = self._normalise(features)
        if len(self) == 0:
            return np.zeros(len(x), dtype=np.float32)
        sims, _ = self._index.search(x, 1)
        nearest: np.ndarray = sims[:, 0].clip(-1.0, 1.0)
        return nearest
