"""Tiny generator instances for fast end-to-end tests (the real detector, no diffusion)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image


class EchoGenerator:
    """Paints the prototype back with a little seeded noise (latents are the pixels)."""

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.float()

    def generate(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        noise = torch.stack([torch.randn(prototypes.shape[1:], generator=torch.Generator().manual_seed(int(s)))
                             for s in seeds])
        return torch.round((prototypes + 0.05 * noise).clamp(0, 1) * 255) / 255


class NaNGenerator(EchoGenerator):
    """Returns some images with NaN pixels: the seeds in ``broken`` get half their pixels NaN."""

    def __init__(self, broken: set[int]) -> None:
        self.broken = broken

    def generate(self, prototypes, labels, seeds):
        images = super().generate(prototypes, labels, seeds)
        for i, s in enumerate(seeds):
            if int(s) in self.broken:
                images[i, :, : images.shape[2] // 2] = float("nan")
        return images


class BlankGenerator(EchoGenerator):
    """Every image one flat colour: every candidate is anomalous."""

    def generate(self, prototypes, labels, seeds):
        return torch.full((len(seeds), *prototypes.shape[1:]), 0.5)


def digits_image_folder(root, per_class: int = 4, classes: Sequence[int] = range(10), names=None):
    """An ImageFolder of 8×8 grey PNGs taken from scikit-learn's digits."""
    from dgr.datasets import load_dataset

    train = load_dataset("digits", "train")
    for c in classes:
        folder = root / (names[c] if names else str(c))
        folder.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(train.of_class(c)[:per_class]):
            Image.fromarray(np.round(image[0] * 255).astype(np.uint8), "L").save(folder / f"{k}.png")
    return root
