"""``load_dataset``: a registered dataset by name (``dgr list datasets``), or an ImageFolder by path."""
from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, cast

import attrs

from dgr.datasets.arrays import LabelledImages, resize_array
from dgr.datasets.description import Data, DataRequest, DatasetDescription
from dgr.datasets.folders import check_split, image_folder_listing, read_listing
from dgr.errors import DgrError, UnknownNameError

MIN_IMAGE_SIZE = 4
MAX_IMAGE_SIZE = 4096
INSTALL_AS = {"datasets": "'dgr[hf]'"}
"""What to ``pip install`` for a module a dataset needs (dgr's extra when it has one)."""

_IMAGE_SIZE: contextvars.ContextVar[int | None] = contextvars.ContextVar("dgr_image_size", default=None)


@contextlib.contextmanager
def loading_size(size: int | None) -> Iterator[None]:
    """Inside, :func:`load_dataset` calls that pass no ``image_size`` load at ``size`` (None: as
    usual). ``dgr evaluate`` uses it to load the dataset at the size of the run it scores."""
    token = _IMAGE_SIZE.set(size)
    try:
        yield
    finally:
        _IMAGE_SIZE.reset(token)


def check_image_size(size: int | None) -> int | None:
    """``size`` as it is when None or between MIN_IMAGE_SIZE and MAX_IMAGE_SIZE; else a DgrError."""
    if size is not None and not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise DgrError(f"--image-size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}, got {size}")
    return size


def is_path(name: str) -> bool:
    """Whether ``name`` means a folder rather than a registered dataset."""
    return os.sep in name or Path(name).exists()


def dataset_entry(name: str) -> Any:
    """The registry entry of dataset ``name`` (None for a path to an ImageFolder); an unknown name
    is one line listing the registered ones."""
    from dgr.plugins import build_registry

    registry = build_registry()
    if name in registry.names("dataset") or not is_path(name):
        try:
            return registry.get("dataset", name)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{exc}, or a path to an ImageFolder (DIR/<class>/<image>)") from None
    return None


def describe(name: str) -> DatasetDescription | None:
    """The registered description of ``name``; None for a plain ImageFolder path."""
    entry = dataset_entry(name)
    return cast(DatasetDescription, entry.factory) if entry is not None else None


def adopting(class_names: tuple[str, ...]) -> DatasetDescription | None:
    """The registered description whose ``adopts_folders`` accepts these ImageFolder classes, if any."""
    from dgr.plugins import build_registry

    for entry in build_registry().entries("dataset"):
        description = cast(DatasetDescription, entry.factory)
        if description.adopts_folders is not None and description.adopts_folders(class_names):
            return description
    return None


def known_description(name: str) -> DatasetDescription | None:
    """:func:`describe`, but None also for an empty name and for a name no installed plugin
    registers (a run made with a dataset plugin that is not installed here): for the code that
    asks a dataset's facts (flips, normalisation, prompts, shipped models) and falls back to the
    defaults of a plain ImageFolder."""
    if not name:
        return None
    try:
        return describe(name)
    except UnknownNameError:
        return None


def flips_allowed(name: str) -> bool:
    """Whether a horizontal flip keeps the label of dataset ``name`` (an ImageFolder: yes)."""
    description = known_description(name)
    return description.flips if description is not None else True


def dataset_options(entry: Any, name: str, options: Mapping[str, str] | None) -> Any:
    """Dataset ``name``'s ``-o dataset.KEY=VALUE`` options parsed by its registry ``entry``'s config
    class (one line for a bad key or value, or for options given to a dataset that takes none)."""
    from dgr.options import build_config

    if entry is None:
        if options:
            raise DgrError(f"an ImageFolder takes no dataset options, got: {', '.join(sorted(options))}")
        return None
    return build_config(entry.config, dict(options or {}), f"dataset {name!r}")


def load_dataset(name: str, split: str = "train", data_dir: str | None = None, image_size: int | None = None,
                 options: Mapping[str, str] | None = None) -> Data:
    """A split of a registered dataset, or of an ImageFolder by path; ``image_size`` resizes on load
    (short side, then a centre crop; default: see :func:`loading_size` and :mod:`dgr.datasets.folders`);
    ``options`` are the dataset's ``-o dataset.KEY=VALUE`` pairs (without the prefix)."""
    check_split(split)
    size = check_image_size(image_size if image_size is not None else _IMAGE_SIZE.get())
    entry = dataset_entry(name)
    if entry is None:
        dataset_options(entry, name, options)  # an ImageFolder takes none: refused in one line
        listing = image_folder_listing(name, split)
        return read_listing(attrs.evolve(listing, description=adopting(listing.class_names)), size)
    missing = entry.missing_requirements()
    if missing:
        packages = " ".join(dict.fromkeys(INSTALL_AS.get(m, m) for m in missing))
        raise DgrError(f"dataset {name!r} needs {', '.join(missing)}; install it (pip install {packages})")
    description = cast(DatasetDescription, entry.factory)
    parsed = dataset_options(entry, name, options)
    data = description(DataRequest(split=split, data_dir=data_dir, image_size=size, options=parsed))
    return attach(data, description, size)


def attach(data: Data, description: DatasetDescription, size: int | None) -> Data:
    """``data`` at ``size`` (in-memory splits are resized here, so a reader may ignore the size)
    with its description attached."""
    if isinstance(data, LabelledImages):
        changes: dict[str, Any] = {}
        if size is not None and data.images.shape[2:] != (size, size):
            changes["images"] = resize_array(data.images, size)
        if data.description is None:
            changes["description"] = description
        return attrs.evolve(data, **changes) if changes else data
    if data.description is None:
        data.description = description
    return data

