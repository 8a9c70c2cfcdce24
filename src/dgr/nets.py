"""Small networks dgr trains itself, saved and loaded as folders (config.json + model.safetensors)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dgr.components import ModelFolder
from dgr.errors import MissingWeightsError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CONVNET_FOLDER = ModelFolder(CONFIG_FILE, "in_channels", architectures=("convnet",))
"""Where a :class:`ConvNetClassifier` folder records its image shape (``config.json``)."""


class FolderModel(nn.Module):
    """A network saved as a folder anyone can load: ``config.json`` (its ``self.config``) and
    ``model.safetensors``."""

    config: dict[str, Any]

    def save_pretrained(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        from dgr.rundir import dumps, share_files

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(dumps(self.config, indent=2) + "\n")
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  str(folder / WEIGHTS_FILE))
        share_files(folder / WEIGHTS_FILE)
        return folder


def read_model_folder(folder: str | Path, architecture: str, how_to_make: str) -> tuple[dict[str, Any], dict]:
    """The constructor arguments and the weights in a saved folder of ``architecture``."""
    from safetensors.torch import load_file

    from dgr.errors import DgrError
    from dgr.loading import reading

    folder = Path(folder)
    if not folder.exists():
        raise MissingWeightsError(f"detector folder {folder} does not exist; make one with {how_to_make} "
                                  "and pass it as --detector-model")
    if not (folder / CONFIG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
        raise MissingWeightsError(f"{folder} is not a dgr {architecture} folder (needs {CONFIG_FILE} and "
                                  f"{WEIGHTS_FILE}); make one with {how_to_make}")
    fix = f"make the folder again with {how_to_make}"
    with reading(folder / CONFIG_FILE, fix):
        config = json.loads((folder / CONFIG_FILE).read_text())
    if not isinstance(config, dict):
        raise DgrError(f"{folder / CONFIG_FILE} is not a JSON object; {fix}")
    kind = config.pop("architecture", None)
    if kind != architecture:
        load_with = "convnet" if kind == "convnet" else "resnet"
        raise DgrError(f"{folder} holds a {kind or 'unknown'} model, not a {architecture} one; "
                       f"load it with --detector {load_with}")
    with reading(folder / WEIGHTS_FILE, fix):
        return config, load_file(str(folder / WEIGHTS_FILE))


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
        else:  # the branches above are the layouts (dgr.training.detector.CONVNET_POOLINGS names them for the CLI)
            raise ValueError(f"unknown ConvNet pooling {pooling!r}; use per-block or global")
        self.head = nn.Linear(features, num_classes)

    @property
    def temperature(self) -> float:
        return float(self.config["temperature"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> "ConvNetClassifier":
        config, state = read_model_folder(folder, "convnet", "`dgr train detector --out DIR`")
        model = cls(**config)
        model.load_state_dict(state)
        return model.to(device).eval()
