"""Conversions between dataset images ([0, 1], dataset channels and size) and model space."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def to_model_space(images: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """[0, 1] dataset images → [-1, 1] at the model's channels and square size."""
    x = images.float()
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and channels == 1:
        x = x.mean(1, keepdim=True)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x * 2 - 1


def from_model_space(x: torch.Tensor, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """[-1, 1] model output → [0, 1] at the dataset's channels and size, quantised to 8 bits.

    Quantising here means the detector scores exactly the pixels that are saved. NaN stays
    NaN: the pipeline turns such an image into a flagged blank one (``dgr.pipeline.FiniteImages``).
    """
    x = ((x.float() + 1) / 2).clamp(0, 1)
    if x.shape[1] == 3 and channels == 1:
        x = x.mean(1, keepdim=True)
    elif x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    return torch.round(x * 255) / 255
