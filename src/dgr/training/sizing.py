"""CPU-sane training defaults from the image size (a training setting left None: ``resolved(side)``)."""
from __future__ import annotations

MAX_TOKENS = 64
"""The default patch of the pixel DiT and of the CLIP's ViT keeps at most this many tokens (8×8): a
DiT step stays well under a second on one CPU core at 32 px, where patch 2 on 250 px images gave
15 625 tokens and 10 GB; a CLIP step at 64 px took 19 s with patch 2 (1024 tokens)."""


def patch_size_for(side: int) -> int:
    """The smallest patch ≥ 2 that divides ``side`` and leaves at most :data:`MAX_TOKENS` tokens
    (8 px → 2, the embedded digits models; 28 → 4; 32 → 4; 64 → 8)."""
    divisors = [p for p in range(2, side + 1) if side % p == 0] or [1]
    for p in divisors:
        if (side // p) ** 2 <= MAX_TOKENS:
            return p
    return divisors[-1]


def dit_batch_size(side: int) -> int:
    """128 images up to 16 px (the digits default), 64 up to 32 px, 32 above."""
    return 128 if side <= 16 else 64 if side <= 32 else 32


def detector_batch_size(side: int) -> int:
    """64 images up to 64 px (the digits default), 32 above."""
    return 64 if side <= 64 else 32
