"""Stage 2 (and the candidates of stage 4): one image per (prototype, label, seed)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from dgr.components import Generator

if TYPE_CHECKING:  # pragma: no cover
    import torch


def synthesize(generator: Generator, prototypes: "torch.Tensor", labels: "torch.Tensor", seeds: Sequence[int],
               batch_size: int, on_batch: Callable[[int], None] | None = None) -> "torch.Tensor":
    """Generate in batches of ``batch_size``; ``on_batch(n)`` reports progress."""
    import torch

    out = []
    for start in range(0, len(seeds), batch_size):
        end = start + batch_size
        images = generator.generate(prototypes[start:end], labels[start:end], list(seeds[start:end]))
        out.append(images.float().cpu())
        if on_batch is not None:
            on_batch(len(images))
    return torch.cat(out) if out else prototypes.new_zeros((0,))
