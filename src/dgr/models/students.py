"""The student networks ``dgr evaluate`` trains on distilled images: ConvNet-``depth`` as in
DC/DSA/DM/MTT (which the polish also draws at random), torchvision ResNet-18 adapted to small images,
and a small MLP. Each takes a :class:`~dgr.components.DatasetInfo`; torch is imported inside."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dgr.components import DatasetInfo

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


def convnet(info: DatasetInfo, width: int = 128, depth: int = 3) -> "nn.Module":
    """ConvNet-``depth`` of the DC/DSA reference code (``networks.ConvNet``, ``get_network('ConvNet')``):
    [conv 3×3 → instance norm → ReLU → avg-pool 2] × depth → linear, PyTorch's default init.

    Instance norm is ``GroupNorm(width, width)`` with affine parameters. As in the reference, the
    first convolution of a 1-channel input is padded by 3 instead of 1, so 28×28 becomes 32×32
    (2048 features at the end) and 8×8 digits become 12×12 (128 features). Pooling stops once the
    feature map is 1×1.
    """
    from torch import nn

    layers: list[nn.Module] = []
    channels, h, w = info.channels, info.height, info.width
    for d in range(depth):
        pad = 3 if info.channels == 1 and d == 0 else 1
        layers += [nn.Conv2d(channels, width, 3, padding=pad), nn.GroupNorm(width, width, affine=True),
                   nn.ReLU(inplace=True)]
        h, w = h + 2 * pad - 2, w + 2 * pad - 2
        if min(h, w) >= 2:
            layers.append(nn.AvgPool2d(2, 2))
            h, w = h // 2, w // 2
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * h * w, info.num_classes))


def resnet18(info: DatasetInfo) -> "nn.Module":
    """torchvision ResNet-18 (random init); for images under 64 px the stem is a 3×3 stride-1
    convolution without max-pool (the CIFAR adaptation)."""
    from torch import nn
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(weights=None, num_classes=info.num_classes)
    if min(info.height, info.width) < 64:
        model.conv1 = nn.Conv2d(info.channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif info.channels != 3:
        model.conv1 = nn.Conv2d(info.channels, 64, 7, stride=2, padding=3, bias=False)
    return model


def mlp(info: DatasetInfo, width: int = 256) -> "nn.Module":
    """Two hidden layers of ``width`` units on the flattened image."""
    from torch import nn

    features = info.channels * info.height * info.width
    return nn.Sequential(nn.Flatten(), nn.Linear(features, width), nn.ReLU(inplace=True),
                         nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, info.num_classes))
