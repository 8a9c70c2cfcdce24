"""Any torchvision classification architecture as a dgr classifier, saved and loaded as a
folder (config.json + model.safetensors, :mod:`dgr.models.folders`), like
:class:`dgr.models.convnet.ConvNetClassifier`.

For small images (≤ 64 px) ResNet-family networks get a CIFAR-style stem (3×3 stride-1
first convolution, no max-pool); other architectures see the images resized to at least
32 px. ``features`` is the penultimate layer (the input of the last linear layer).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dgr.errors import DgrError, MissingWeightsError
from dgr.models.folders import FolderModel, read_model_folder
from dgr.registry import suggest

SMALL_IMAGE = 64
MIN_INPUT = 32
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def architectures() -> list[str]:
    """Classification architectures torchvision knows (``resnet18``, ``vit_b_16``, …)."""
    from torchvision import models

    return sorted(models.list_models(module=models))


def check_architecture(arch: str) -> None:
    """Refuse a name that is not a torchvision classification architecture."""
    names = architectures()
    if arch not in names:
        raise DgrError(f"unknown torchvision architecture {arch!r}{suggest(arch, names)}; e.g. resnet18, "
                       "resnet50, wide_resnet50_2, mobilenet_v3_small, efficientnet_b0, convnext_tiny")


def _parent(root: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (root.get_submodule(parent_name) if parent_name else root), child


def _last_linear(net: nn.Module) -> tuple[str, nn.Linear]:
    linears = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise DgrError(f"{type(net).__name__} ends in no linear layer; pick an architecture with a linear "
                       "classifier (resnet18, mobilenet_v3_small, efficientnet_b0, …)")
    return linears[-1]


def _first_conv(net: nn.Module) -> tuple[str, nn.Conv2d] | None:
    return next(((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)), None)


def has_cifar_stem(net: nn.Module) -> bool:
    """ResNet-family networks (``conv1`` + ``maxpool``) can take the CIFAR-style stem."""
    return isinstance(getattr(net, "conv1", None), nn.Conv2d) and hasattr(net, "maxpool")


class TorchvisionClassifier(FolderModel):
    """A torchvision backbone (its last linear layer removed) plus a linear ``head``."""

    def __init__(self, arch: str, in_channels: int, num_classes: int, class_names: Sequence[str] | None = None,
                 image_size: Sequence[int] | None = None, cifar_stem: bool | None = None,
                 input_size: int | None = None, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, temperature: float = 1.0) -> None:
        super().__init__()
        from torchvision import models

        check_architecture(arch)
        size = max(image_size) if image_size else None
        net = models.get_model(arch, weights=None)
        if cifar_stem is None:
            cifar_stem = has_cifar_stem(net) and size is not None and size <= SMALL_IMAGE
        if cifar_stem and not has_cifar_stem(net):
            raise DgrError(f"{arch} has no conv1/maxpool stem to replace; train it with --no-cifar-stem")
        if input_size is None and not cifar_stem and size is not None and size < MIN_INPUT:
            input_size = MIN_INPUT
        self.config: dict[str, Any] = {
            "architecture": "torchvision", "arch": arch, "in_channels": in_channels, "num_classes": num_classes,
            "class_names": [str(n) for n in (class_names or range(num_classes))],
            "image_size": list(image_size or []), "cifar_stem": bool(cifar_stem), "input_size": input_size,
            "mean": list(mean or [0.5] * in_channels), "std": list(std or [0.5] * in_channels),
            "temperature": temperature,
        }
        name, last = _last_linear(net)
        parent, child = _parent(net, name)
        setattr(parent, child, nn.Identity())
        if cifar_stem:
            old = net.conv1
            net.conv1 = nn.Conv2d(in_channels, old.out_channels, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        else:
            found = _first_conv(net)
            if found is not None and found[1].in_channels != in_channels:
                conv_name, conv = found
                parent, child = _parent(net, conv_name)
                setattr(parent, child, nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                                 conv.padding, conv.dilation, conv.groups, conv.bias is not None))
        self.net = net
        self.head = nn.Linear(last.in_features, num_classes)
        self.register_buffer("mean", torch.tensor(self.config["mean"]).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.config["std"]).view(1, -1, 1, 1), persistent=False)

    @property
    def temperature(self) -> float:
        """The calibration temperature the logits are divided by."""
        return float(self.config["temperature"])

    @property
    def class_names(self) -> list[str]:
        """The names of the classes, in the order of the logits."""
        return list(self.config["class_names"])

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] → the network's input (channels, size, normalisation)."""
        want = self.config["in_channels"]
        if x.shape[1] != want:
            if x.shape[1] == 1:
                x = x.expand(-1, want, -1, -1)
            elif want == 1:
                x = x.mean(1, keepdim=True)
            else:
                raise DgrError(f"the classifier takes {want}-channel images, got {x.shape[1]} channels")
        size = self.config["input_size"]
        if size and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The features before the classification head, for images in [0, 1]."""
        return torch.flatten(self.net(self.prepare(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for images in [0, 1]."""
        return self.head(self.features(x))

    def load_backbone(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Load pretrained backbone weights where names and shapes match; return the keys kept random."""
        own = self.net.state_dict()
        usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not usable:
            raise DgrError(no_tensor_fits(self.config["arch"], state))
        self.net.load_state_dict(usable, strict=False)
        return sorted(set(own) - set(usable))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> "TorchvisionClassifier":
        """Load a folder that :meth:`save_pretrained` wrote, in eval mode on ``device``."""
        config, state = read_model_folder(folder, "torchvision",
                                          "`dgr train detector --arch resnet18 --dataset NAME --out DIR`")
        model = cls(**config)
        model.load_state_dict(state)
        loaded: TorchvisionClassifier = model.to(device).eval()
        return loaded


def check_weights_file(arch: str, weights: str | Path) -> None:
    """Refuse a ``--weights`` file that cannot be read, or that holds no tensor of ``arch``'s backbone
    (same name and shape), before any training starts."""
    from torchvision import models

    state = pretrained_state(arch, str(weights))
    own = models.get_model(arch, weights=None).state_dict()
    if not any(k in own and own[k].shape == v.shape for k, v in state.items()):
        raise DgrError(no_tensor_fits(arch, state))


def no_tensor_fits(arch: str, state: dict[str, torch.Tensor]) -> str:
    """The error message for a --weights file none of whose tensors fits ``arch``."""
    return (f"--weights holds no tensor that fits {arch} (its first keys: {', '.join(list(state)[:3]) or 'none'}); "
            "pass weights of the same --arch, or leave --weights out to train from scratch")


def pretrained_state(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """Backbone weights to fine-tune from: a torchvision weights name (``DEFAULT``,
    ``IMAGENET1K_V1``; read from torch's hub cache, downloaded only when online) or a file
    (``.pth``/``.pt`` state dict or ``.safetensors``)."""
    import os

    path = Path(weights)
    if path.suffix in (".pth", ".pt", ".bin", ".safetensors") or path.exists():
        if not path.is_file():
            raise MissingWeightsError(f"weights file {path} does not exist; pass --weights an existing "
                                      ".pth or .safetensors file")
        from dgr.loading import reading

        with reading(path, "pass --weights a .pth state dict or a .safetensors file"):
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(path))
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise DgrError(f"{path} holds no state dict (a {type(state).__name__}); pass --weights a .pth state "
                           "dict or a .safetensors file")
        return state
    from torchvision import models

    enum = models.get_model_weights(arch)
    try:
        chosen = enum[weights] if weights != "DEFAULT" else enum.DEFAULT
    except KeyError:
        names = [w.name for w in enum]
        raise DgrError(f"{arch} has no weights {weights!r}{suggest(weights, names)}; "
                       f"available: DEFAULT, {', '.join(names)}, or a file path") from None
    cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(chosen.url)
    if not cache.exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise MissingWeightsError(f"{arch} {chosen.name} weights are not on this machine (need {cache.name}); "
                                  f"download {chosen.url} to {cache}, pass --weights /path/to/file.pth, or set "
                                  "DGR_DOWNLOAD=1 to let dgr download it")
    try:
        downloaded: dict[str, torch.Tensor] = chosen.get_state_dict(progress=True)
        return downloaded
    except Exception as exc:  # no network: say which file to fetch
        raise MissingWeightsError(f"{arch} {chosen.name} weights could not be loaded ({type(exc).__name__}); "
                                  f"download {chosen.url} to {cache} or pass --weights /path/to/file.pth") from None
