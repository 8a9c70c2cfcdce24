"""dgr's small ConvNet classifier (the shipped digits and Fashion-MNIST detectors), saved and loaded
as a folder (:mod:`dgr.models.folders`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dgr.components import ModelFolder
from dgr.models import CONVNET_POOLINGS
from dgr.models.folders import CONFIG_FILE, FolderModel, read_model_folder

CONVNET_FOLDER = ModelFolder(CONFIG_FILE, "in_channels", architectures=("convnet",))
"""Where a :class:`ConvNetClassifier` folder records its image shape (``config.json``)."""


class ConvNetClassifier(FolderModel):
    """A three-block ConvNet for small images; ``features`` is the penultimate layer.

    ``pooling="per-block"`` halves the map after every block (widths w, 2w, 4w) and keeps the final
    map's layout for the head, which shapes such as clothes need; ``"global"`` pools once and then
    averages the whole map away (the embedded digits detector's layout)."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 64,
                 class_names: list[str] | None = None, image_size: list[int] | None = None,
                 temperature: float = 1.0, pooling: str = "global") -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "architecture": "convnet", "in_channels": in_channels, "num_classes": num_classes,
            "width": width, "class_names": list(class_names or range(num_classes)),
            "image_size": list(image_size or []), "temperature": temperature, "pooling": pooling,
        }
        w = width
        if pooling == "global":
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, w, 3, padding=1), nn.GroupNorm(8, w), nn.ReLU(),
                nn.Conv2d(w, w, 3, padding=1), nn.GroupNorm(8, w), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.GroupNorm(8, 2 * w), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            )
            features = 2 * w
        elif pooling == "per-block":
            side = min(image_size) if image_size else 8
            final = max(1, min(3, side // 8))  # 28 px → 3×3, 8 px → 1×1
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, w, 3, padding=1), nn.GroupNorm(8, w), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.GroupNorm(8, 2 * w), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.GroupNorm(8, 4 * w), nn.ReLU(),
                nn.AdaptiveMaxPool2d(final), nn.Flatten(),
            )
            features = 4 * w * final * final
        else:  # the branches above are the layouts CONVNET_POOLINGS names
            raise ValueError(f"unknown ConvNet pooling {pooling!r}; use one of {', '.join(CONVNET_POOLINGS)}")
        self.head = nn.Linear(features, num_classes)

    @property
    def temperature(self) -> float:
        """The calibration temperature the logits are divided by."""
        return float(self.config["temperature"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer for images in [0, 1]."""
        return self.body(x * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for images in [0, 1]."""
        return self.head(self.features(x))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> "ConvNetClassifier":
        """Load a folder that :meth:`save_pretrained` wrote, in eval mode on ``device``."""
        config, state = read_model_folder(folder, "convnet", "`dgr train detector --out DIR`")
        model = cls(**config)
        model.load_state_dict(state)
        loaded: ConvNetClassifier = model.to(device).eval()
        return loaded
