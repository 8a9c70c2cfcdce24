"""The image size of a run: what the models were trained at, and what the user asked for.

dgr's own models record it (``dgr_model.json`` of a generator: ``channels``, ``image_size``;
``config.json`` of a convnet or torchvision detector: ``in_channels``, ``image_size``).
``dgr distill`` loads the dataset at that size, or refuses a different ``--image-size`` in one
line before any work; ``dgr evaluate`` loads it at the size the run recorded.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import attrs

from dgr.errors import DgrError, flag


@attrs.frozen
class TrainedShape:
    """The images a model was trained on."""

    what: str  # "the generator in DIR"
    channels: int | None
    height: int
    width: int

    def side(self) -> int | None:
        return self.height if self.height == self.width else None


def read_trained_shape(folder: str | Path | None, kind: str) -> TrainedShape | None:
    """The recorded shape of a dgr generator or detector folder; None for other models."""
    if folder is None:
        return None
    folder = Path(folder).expanduser()
    meta_file = folder / ("dgr_model.json" if kind == "generator" else "config.json")
    if not meta_file.is_file():
        return None
    from dgr.loading import reading

    with reading(meta_file, f"make the folder again with `dgr train {kind} --out DIR`"):  # before any model loads
        meta = json.loads(meta_file.read_text())
    if not isinstance(meta, dict):
        return None
    size = meta.get("image_size") or []
    if kind == "detector" and meta.get("architecture") not in ("convnet", "torchvision"):
        return None
    if len(size) != 2:
        return None
    channels = meta.get("channels" if kind == "generator" else "in_channels")
    return TrainedShape(f"the {kind} in {folder}", int(channels) if channels else None, int(size[0]), int(size[1]))


def model_folder(model: str | None, name: Any, kind: str, dataset: str) -> Path | None:
    """The local folder a component will load, when dgr can tell without building it: ``--model``
    as an existing folder, or the embedded model of ``dit``/``convnet`` for the dataset."""
    from dgr.assets import embedded_model

    if model is not None:
        path = Path(model).expanduser()
        return path if path.is_dir() else None
    if name == ("dit" if kind == "generator" else "convnet"):
        return embedded_model(kind, dataset)
    return None


def choose_image_size(requested: int | None, shapes: Sequence[TrainedShape]) -> int | None:
    """``requested`` if every model was trained at it, else the models' size when none was asked;
    a mismatch is one line naming the fix."""
    sides = {s.side() for s in shapes if s.side() is not None}
    if len(sides) > 1:
        listed = " and ".join(f"{s.what} at {s.height}×{s.width} px" for s in shapes)
        raise DgrError(f"the models were trained at different sizes ({listed}); train both at one --image-size")
    if requested is None:
        return sides.pop() if sides else None
    for s in shapes:
        if (s.height, s.width) != (requested, requested):
            raise DgrError(f"{flag('--image-size')} {requested}, but {s.what} was trained at {s.height}×{s.width} px; "
                           f"pass {flag('--image-size')} {s.height} (or leave it out), "
                           f"or train the models at {requested}")
    return requested


def check_channels(channels: int, shapes: Sequence[TrainedShape], dataset: str) -> None:
    """Refuse a dataset whose colour channels differ from the models' (grey vs RGB)."""
    for s in shapes:
        if s.channels is not None and s.channels != channels:
            def word(n: int) -> str:
                return {1: "greyscale (1 channel)", 3: "RGB (3 channels)"}.get(n, f"{n}-channel")

            raise DgrError(f"{dataset} holds {word(channels)} images, but {s.what} was trained on "
                           f"{word(s.channels)} images; train the models on this dataset")
