"""The folder every network dgr trains is saved as: ``config.json`` (the constructor's arguments and
the architecture's name) and ``model.safetensors`` (the weights); anyone can load it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dgr.errors import MissingWeightsError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class FolderModel(nn.Module):
    """A network saved as a folder anyone can load: ``config.json`` (its ``self.config``) and
    ``model.safetensors``."""

    config: dict[str, Any]

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder``; return it."""
        from safetensors.torch import save_file

        from dgr.rundir import dumps, share_files

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(dumps(self.config, indent=2) + "\n")
        save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                  str(folder / WEIGHTS_FILE))
        share_files(folder / WEIGHTS_FILE)
        return folder


def read_model_folder(folder: str | Path, architecture: str,
                      how_to_make: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
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
