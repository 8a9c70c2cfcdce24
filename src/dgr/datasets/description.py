"""What a dataset is: the description a ``dgr_register_datasets`` plugin registers.

A description is data, not a loader alone: how to read each split, the class names as people
say them, channels and native size, whether a horizontal flip keeps the label, the input
normalisation, the CLIP prompt templates, and the models that ship for it. Code that needs one of
these facts asks the description; no module tests a dataset's name.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

import attrs

if TYPE_CHECKING:  # pragma: no cover
    from dgr.datasets.arrays import LabelledImages
    from dgr.datasets.folders import ImageFolderIndex

SPLITS = ("train", "test")
MODEL_KINDS = ("generator", "detector", "clip")

Data = Union["LabelledImages", "ImageFolderIndex"]
"""A loaded split: in memory, or an ImageFolder read on demand (the same face)."""


@attrs.frozen
class DataRequest:
    """What a dataset's reader is asked for.

    ``split`` is ``train`` or ``test``; ``data_dir`` is ``--data-dir`` (None when not given);
    ``image_size`` resizes every image on load (short side, then a centre crop; None: the native
    size, or the reader's default); ``options`` is the dataset's parsed ``-o dataset.KEY=VALUE``
    config (an instance of the ``config`` class it registered with, or None)."""

    split: str = "train"
    data_dir: str | None = None
    image_size: int | None = None
    options: Any = None


@attrs.frozen
class DatasetDescription:
    """A dataset, as a plugin registers it: ``register(name, description, summary=…)``.

    Calling it with a :class:`DataRequest` reads a split (``read(request)``); the other fields are
    the facts the rest of dgr asks for instead of testing names:

    - ``class_words``: the class names as people say them, for CLIP prompts and SD text, when
      they differ from the folder names (a wnid → "tench"); a callable from the split's class
      names to the words, or None to use the names themselves (``_`` reads as a space);
    - ``label_space`` and ``class_ids``: a standard label space the classes belong to
      (``imagenet-1k``) and a callable from the class names to their ids in it, so a generator
      trained on that space (DiT on ImageNet) is given the right class without a class map;
    - ``adopts_folders``: a test on a plain ImageFolder's class names; a folder given by path whose
      classes pass it is read with this description's words and ids (a folder of ImageNet wnids
      is an ImageNet subset, with no class map);
    - ``channels`` and ``native_size``: what the images are on disk (None: read from the data);
    - ``flips``: whether a horizontal flip keeps the label (not for digits: a flipped 2 is not a 2);
    - ``mean``/``std``: the input normalisation the field uses for it (None: the training
      split's own per-channel mean and std);
    - ``prompt_templates``: CLIP caption templates with ``{}`` for the class (empty: the generic
      photo ones);
    - ``models``: the folders of the models that ship for it, by kind (``generator``,
      ``detector``, ``clip``);
    - ``layout``: the on-disk layout it reads under ``--data-dir``, for errors and ``dgr list``;
    - ``recipes``: the default recipe by IPC (``{1: "polish", 50: "medoids-low"}``): a run without
      ``--recipe`` takes the entry of the nearest IPC (the smaller on a tie), else ``paper``;
    - ``version``: bumped when the same files would read differently; run.json records it.
    """

    name: str
    read: Callable[[DataRequest], Data]
    summary: str = ""
    layout: str = ""
    class_words: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None
    label_space: str = ""
    class_ids: Callable[[tuple[str, ...]], tuple[int, ...]] | None = None
    adopts_folders: Callable[[tuple[str, ...]], bool] | None = None
    channels: int | None = None
    native_size: int | None = None
    flips: bool = True
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    prompt_templates: tuple[str, ...] = ()
    models: Mapping[str, Path] = attrs.field(factory=dict)
    recipes: Mapping[int, str] = attrs.field(factory=dict)
    version: int = 1

    def __attrs_post_init__(self) -> None:
        unknown = set(self.models) - set(MODEL_KINDS)
        if unknown:
            raise ValueError(f"dataset {self.name!r}: unknown model kind(s) {', '.join(sorted(unknown))}; "
                             f"use {', '.join(MODEL_KINDS)}")
        if (self.mean is None) != (self.std is None):
            raise ValueError(f"dataset {self.name!r}: give both mean and std, or neither")

    def __call__(self, request: DataRequest) -> Data:
        """Read the data ``request`` asks for (the description's reader)."""
        return self.read(request)

    @property
    def stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """``(mean, std)`` when the description fixes them."""
        return (self.mean, self.std) if self.mean is not None and self.std is not None else None

    def model(self, kind: str) -> Path | None:
        """The shipped model folder of ``kind`` (None when none ships or it is not on disk)."""
        folder = self.models.get(kind)
        return Path(folder) if folder is not None and Path(folder).is_dir() else None

    def words(self, class_names: tuple[str, ...]) -> tuple[str, ...]:
        """The class names as people say them (see ``class_words``)."""
        if self.class_words is not None:
            return tuple(self.class_words(class_names))
        return tuple(" ".join(n.replace("_", " ").split()) for n in class_names)

    def ids(self, class_names: tuple[str, ...]) -> tuple[int, ...]:
        """The classes' ids in :attr:`label_space` (empty when it has none)."""
        return tuple(self.class_ids(class_names)) if self.class_ids is not None else ()

    def recipe_for(self, ipc: int) -> str:
        """The default recipe for ``ipc`` (see ``recipes``)."""
        if not self.recipes:
            return "paper"
        nearest = min(self.recipes, key=lambda k: (abs(k - ipc), k))
        return self.recipes[nearest]
