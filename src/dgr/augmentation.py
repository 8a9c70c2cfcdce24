"""Differentiable augmentation (DSA: Zhao & Bilen, "Dataset Condensation with Differentiable Siamese
Augmentation", ICML 2021): one home for the ops, the flip filter and the two ways dgr draws them.

- :func:`siamese_augment` (the polish): one op and ONE parameter draw for the whole batch, from a
  seed, so the real and the synthetic batch of a polish step (same seed) are transformed alike.
- :func:`dsa_augment` (the students): one op for the whole batch, its parameters drawn PER IMAGE
  from torch's global generator — DSA's evaluation-time augmentation.

Both pick the op by index into an ordered tuple, so the order is part of what a seed produces:
each draws from its own order (:func:`siamese_ops`, :func:`dsa_ops`), kept as the polished images and
the students' scores were made with. The two orders hold the same ops (:data:`OPS`).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import torch

OPS = ("color", "crop", "cutout", "flip", "scale", "rotate")
"""Every op, in the order :func:`dsa_augment` draws from (DiffAugment's
``color_crop_cutout_flip_scale_rotate``)."""
SIAMESE_ORDER = ("color", "crop", "cutout", "scale", "rotate", "flip")
"""The same ops in the order :func:`siamese_augment` draws from (the polish's, flip last)."""


def without_flips(ops: Sequence[str], flips: bool) -> tuple[str, ...]:
    """``ops`` as they are where horizontal flips are allowed, less ``"flip"`` where they are not
    (digits, text: a dataset description's ``flips``)."""
    return tuple(ops) if flips else tuple(op for op in ops if op != "flip")


def siamese_ops(flips: bool) -> tuple[str, ...]:
    """The ops :func:`siamese_augment` draws from for the polish: :data:`SIAMESE_ORDER`, flips where allowed."""
    return without_flips(SIAMESE_ORDER, flips)


def dsa_ops(flips: bool) -> tuple[str, ...]:
    """The ops :func:`dsa_augment` draws from for the students: :data:`OPS`, flips where allowed."""
    return without_flips(OPS, flips)


def siamese_augment(x: "torch.Tensor", ops: Sequence[str], seed: int) -> "torch.Tensor":
    """One differentiable augmentation with one parameter draw for the whole batch, so the real and
    the synthetic batch of a step (same ``seed``) are transformed alike. The op is
    ``ops[randint(len(ops))]`` from a generator seeded with ``seed``, then three uniforms.

    color: brightness +U(-0.5, 0.5), saturation ×U(0, 2), contrast ×U(0.5, 1.5) · crop: shift up to
    1/8 of the side · cutout: a zeroed rectangle of half the sides · flip: p 0.5 · scale: ×U(1/1.2, 1.2)
    per axis · rotate: ±15° (zero fill, bilinear)."""
    import torch
    from torch.nn import functional as F

    g = torch.Generator().manual_seed(seed)
    op = ops[int(torch.randint(len(ops), (), generator=g))]
    u = torch.rand(3, generator=g)
    n, c, h, w = x.shape
    if op == "color":
        x = x + (u[0] - 0.5)
        if c > 1:
            grey = x.mean(dim=1, keepdim=True)
            x = (x - grey) * (u[1] * 2.0) + grey
        centre = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - centre) * (u[2] + 0.5) + centre
    if op == "cutout":
        ch, cw = h // 2, w // 2
        top, left = int(u[0] * (h - ch + 1)), int(u[1] * (w - cw + 1))
        mask = torch.ones(1, 1, h, w)
        mask[..., top:top + ch, left:left + cw] = 0.0
        return x * mask
    if op == "flip":
        return x.flip(3) if u[0] < 0.5 else x
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if op == "crop":  # a shift of up to 1/8 of the side
        theta[0, 2], theta[1, 2] = (u[0] - 0.5) * 0.5, (u[1] - 0.5) * 0.5
    elif op == "scale":
        ratio = 1.2
        theta[0, 0] = float(u[0] * (ratio - 1 / ratio) + 1 / ratio)
        theta[1, 1] = float(u[1] * (ratio - 1 / ratio) + 1 / ratio)
    else:  # rotate ±15°
        angle = float((u[0] - 0.5) * 2 * 15.0 / 180 * math.pi)
        theta = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]])
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def dsa_augment(x: "torch.Tensor", ops: Sequence[str] = OPS) -> "torch.Tensor":
    """DSA's evaluation-time augmentation (``DiffAugment`` with ``ParamDiffAug``, aug_mode 'S',
    seed -1): ONE op drawn for the whole batch, its parameters drawn per image, all from torch's
    global generator. Works on normalised images; crop/cutout/scale/rotate fill with 0 (the mean),
    resampling is bilinear.

    color: brightness +U(-0.5, 0.5), saturation ×U(0, 2), contrast ×U(0.5, 1.5) · crop: shift up
    to 12.5 % of the side · cutout: a zeroed square of half the side · flip: p 0.5 · scale: ×U(1/1.2,
    1.2) per axis · rotate: ±15°."""
    import torch
    from torch.nn import functional as F

    op = ops[int(torch.randint(len(ops), ()))]
    n, c, h, w = x.shape
    if op == "color":
        x = x + (torch.rand(n, 1, 1, 1) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(n, 1, 1, 1) * 2.0) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (torch.rand(n, 1, 1, 1) + 0.5) + mean
    if op == "crop":
        sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        ty = torch.randint(-sh, sh + 1, (n, 1, 1))
        tx = torch.randint(-sw, sw + 1, (n, 1, 1))
        rows = (torch.arange(h).view(1, h, 1) + ty + 1).clamp(0, h + 1)
        cols = (torch.arange(w).view(1, 1, w) + tx + 1).clamp(0, w + 1)
        index = (rows * (w + 2) + cols).view(n, 1, h * w).expand(n, c, h * w)
        return F.pad(x, [1, 1, 1, 1]).flatten(2).gather(2, index).view(n, c, h, w)
    if op == "cutout":
        ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
        top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1)) - ch // 2
        left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1)) - cw // 2
        rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
        hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        return x * (~hole).unsqueeze(1).to(x.dtype)
    if op == "flip":
        return torch.where(torch.rand(n, 1, 1, 1) < 0.5, x.flip(3), x)
    theta = torch.zeros(n, 2, 3)
    if op == "scale":
        ratio = 1.2
        theta[:, 0, 0] = torch.rand(n) * (ratio - 1 / ratio) + 1 / ratio
        theta[:, 1, 1] = torch.rand(n) * (ratio - 1 / ratio) + 1 / ratio
    else:  # rotate
        angle = (torch.rand(n) - 0.5) * 2 * 15.0 / 180 * math.pi
        theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle), -torch.sin(angle)
        theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle), torch.cos(angle)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
