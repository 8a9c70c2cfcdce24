"""The image size of a run: what the models were trained at, and what the user asked for.

dgr's own models record it in their folders, and each generator or detector says where when it
registers (``register(..., model_folder=dgr.ModelFolder(...))``: the ``dit`` generator's
``dgr_model.json``, the ``convnet`` and ``resnet`` detectors' ``config.json``); this module asks
the registry and knows no component by name.
``dgr distill`` loads the dataset at that size, or refuses a different ``--image-size`` in one
line before any work; ``dgr evaluate`` loads it at the size the run recorded.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import attrs

from dgr.components import ModelFolder
from dgr.errors import DgrError, flag


@attrs.frozen
class TrainedShape:
    """The images a model was trained on."""

    what: str  # "the generator in DIR"
    channels: int | None
    height: int
    width: int

    def side(self) -> int | None:
        """The side of square images; None for other shapes."""
        return self.height if self.height == self.width else None


def read_trained_shape(folder: str | Path | None, kind: str, layout: ModelFolder | None) -> TrainedShape | None:
    """The shape the ``kind`` model in ``folder`` records where ``layout`` (its component's
    registered :class:`~dgr.components.ModelFolder`) says; None without a folder, a layout, or a
    record of the shape."""
    if folder is None or layout is None:
        return None
    folder = Path(folder).expanduser()
    meta_file = folder / layout.meta_file
    if not meta_file.is_file():
        return None
    from dgr.loading import reading

    with reading(meta_file, f"make the folder again with `dgr train {kind} --out DIR`"):  # before any model loads
        meta = json.loads(meta_file.read_text())
    if not isinstance(meta, dict):
        return None
    size = meta.get(layout.size_key) or []
    if layout.architectures and meta.get("architecture") not in layout.architectures:
        return None
    if len(size) != 2:
        return None
    channels = meta.get(layout.channels_key)
    return TrainedShape(f"the {kind} in {folder}", int(channels) if channels else None, int(size[0]), int(size[1]))


def model_folder(model: str | None, layout: ModelFolder | None, kind: str, dataset: str) -> Path | None:
    """The local folder a component will load, when dgr can tell without building it: ``--model``
    as an existing folder, or the dataset's shipped model of ``kind`` for a component whose
    registration says it loads one (``ModelFolder.shipped``)."""
    from dgr.assets import embedded_model

    if model is not None:
        path = Path(model).expanduser()
        return path if path.is_dir() else None
    if layout is not None and layout.shipped:
        return embedded_model(kind, dataset)
    return None


def trained_shape(kind: str, component: Any, model: str | None, dataset: str) -> TrainedShape | None:
    """The shape the model of a run's ``kind`` component (a registered name; an instance declares
    nothing) was trained at, as its registration's :class:`~dgr.components.ModelFolder` says to read it."""
    from dgr.errors import UnknownNameError
    from dgr.plugins import build_registry

    if not isinstance(component, str):
        return None
    try:
        layout = build_registry().get(kind, component).model_folder
    except UnknownNameError:  # refused in one line where the component is built
        return None
    return read_trained_shape(model_folder(model, layout, kind, dataset), kind, layout)


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
