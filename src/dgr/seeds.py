"""Per-image seeds derived from (run seed, class, prototype, round, candidate)."""
from __future__ import annotations

import hashlib

INITIAL_ROUND = 0
REFINEMENT_ROUND = 1


def derive_seed(run_seed: int, class_index: int, prototype: int, round_: int, candidate: int) -> int:
    """A 63-bit seed that depends only on its arguments, on every machine and Python."""
    key = f"dgr:{run_seed}:{class_index}:{prototype}:{round_}:{candidate}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") & ((1 << 63) - 1)


def prototype_seed(run_seed: int, class_index: int) -> int:
    """The seed of a class's k-means."""
    return derive_seed(run_seed, class_index, -1, -1, -1)


def polish_seed(run_seed: int, class_index: int) -> int:
    """The seed of a class's polish (its random networks, real batches and augmentations)."""
    return derive_seed(run_seed, class_index, -2, -2, -2)
