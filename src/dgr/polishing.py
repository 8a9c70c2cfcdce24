"""Optional stage 6, beyond the paper: polish a class's final images by distribution matching.

DGR (arXiv 2507.13074) stops at selection. With ``--polish-steps N`` the selected images of a
class are then optimised for N steps so that their mean embedding matches the mean embedding of
the class's real images under a freshly initialised ConvNet-3 at every step (DM: Zhao & Bilen,
"Dataset Condensation with Distribution Matching", WACV 2023). Real and synthetic batches see the
same augmentation draw at each step (DSA's Siamese augmentation: one op, one set of parameters).
The generated images are the starting point, so the polish keeps what the generator and the
detector chose and adds what the class's real distribution says is missing.

Each class is polished on its own with a seed derived from the run's, so sharding and resume
give the same bytes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import attrs

from dgr.augmentation import siamese_augment, siamese_ops

if TYPE_CHECKING:  # pragma: no cover
    import torch


@attrs.frozen
class PolishSettings:
    """How the polish runs; ``steps = 0`` leaves the images as selected (the paper's method)."""

    steps: int = 0
    learning_rate: float = 1.0  # DM's image learning rate (SGD, momentum 0.5, normalised pixels)
    real_batch: int = 64  # real images of the class embedded per step
    width: int = 64  # channels of the random ConvNet-3 (DM uses 128; 64 is 4× cheaper on a CPU)
    flips: bool = True  # horizontal flips among the augmentations (off for digits and text)

    @classmethod
    def for_dataset(cls, dataset: str, steps: int) -> "PolishSettings":
        """The settings a run's polish uses: ``steps`` steps, flips where the data set allows them."""
        from dgr.datasets import flips_allowed

        return cls(steps=steps, flips=flips_allowed(dataset))

    @property
    def augment_ops(self) -> tuple[str, ...]:
        """The augmentations a step draws from, in their drawing order: :func:`dgr.augmentation.siamese_ops`."""
        return siamese_ops(self.flips)


def polish_class(images: "torch.Tensor", real: "torch.Tensor", settings: PolishSettings,
                 seed: int, on_step: "Callable[[], None] | None" = None) -> "torch.Tensor":
    """``images`` [k, C, H, W] in [0, 1] moved towards the mean embedding of ``real`` (same shape
    per image); returns new images in [0, 1]. Deterministic for a seed. ``on_step`` is called after
    every step (progress)."""
    import torch

    from dgr.components import DatasetInfo
    from dgr.models.students import convnet

    if settings.steps <= 0 or len(images) == 0:
        return images
    g = torch.Generator().manual_seed(seed)
    channels = images.shape[1]
    dims = (0, 2, 3)
    mean = real.mean(dim=dims, keepdim=True)
    std = real.std(dim=dims, keepdim=True).clamp_min(1e-3)
    info = DatasetInfo(name="polish", class_names=("a", "b"), channels=channels, height=images.shape[2],
                       width=images.shape[3])
    synthetic = ((images - mean) / std).clone().requires_grad_(True)
    real_normalised = (real - mean) / std
    optimiser = torch.optim.SGD([synthetic], lr=settings.learning_rate, momentum=0.5)
    ops = settings.augment_ops
    with torch.device("meta"):  # built without drawing from the global generator (weights: draw_network)
        body = convnet(info, settings.width)[:-1]
    body = body.to_empty(device="cpu").requires_grad_(False)
    for layer in body.modules():
        if isinstance(layer, torch.nn.GroupNorm):
            layer.reset_parameters()  # ones and zeros, as built
    network = torch.Generator()
    for _ in range(settings.steps):
        draw_network(body, network.manual_seed(int(torch.randint(2**62, (), generator=g))))
        pick = torch.randint(len(real_normalised), (min(settings.real_batch, len(real_normalised)),),
                             generator=g)
        draw = int(torch.randint(2**62, (), generator=g))
        with torch.no_grad():
            target = body(siamese_augment(real_normalised[pick], ops, draw)).mean(0)
        embedded = body(siamese_augment(synthetic, ops, draw)).mean(0)
        loss = ((target - embedded) ** 2).sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step()
    return (synthetic.detach() * std + mean).clamp(0.0, 1.0)


def draw_network(body: "torch.nn.Module", generator: "torch.Generator") -> None:
    """New random weights for every convolution of ``body``, drawn from ``generator`` exactly as
    PyTorch's default init draws them from the global generator (``Conv2d.reset_parameters``: the
    same bytes as a ConvNet built after ``torch.manual_seed`` of the same seed), but from a
    generator of its own: no global random state is touched, so polishes can run in threads."""
    import torch
    from torch import nn

    with torch.no_grad():
        for layer in body.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                fan_in = nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
                if layer.bias is not None and fan_in != 0:
                    nn.init.uniform_(layer.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=generator)
