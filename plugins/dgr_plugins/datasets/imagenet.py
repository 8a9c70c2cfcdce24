"""ImageNet-1K and any subset of it (ImageNette, ImageWoof, ImageNet-100, any list of wnids): a
``train/`` and ``val/`` (or ``test/``) tree of wnid folders, ``train/n01440764/*.JPEG``.

The 1000 wnids, their indices and their names come from timm's ``ImageNetInfo`` (timm ships
with open_clip): every folder is checked against it, each class is named as people say it
("tench") for prompts, and its ImageNet index is the class id a DiT trained on ImageNet is given.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from dgr.datasets import DataRequest, FileListing, class_folders, read_listing
from dgr.datasets.folders import folder_contents, same_classes, visible_files
from dgr.datasets.description import Data
from dgr.errors import DgrError

LABEL_SPACE = "imagenet-1k"
WNID = re.compile(r"n\d{8}")
TEST_FOLDERS = ("val", "test")


@lru_cache(maxsize=1)
def _info():  # type: ignore[no-untyped-def]
    from timm.data import ImageNetInfo

    return ImageNetInfo()


@lru_cache(maxsize=1)
def wnid_table() -> dict[str, int]:
    """wnid → ImageNet-1K index, e.g. ``n01440764`` → 0."""
    info = _info()
    return {info.index_to_label_name(i): i for i in range(info.num_classes())}


def words(wnids: tuple[str, ...]) -> tuple[str, ...]:
    """Each wnid's common name ("tench"), from WordNet's lemmas of the ImageNet-21K synsets."""
    info = _info()
    out = []
    for w in wnids:
        try:
            out.append(info.label_name_to_description(w).split(",")[0].strip())
        except KeyError:
            out.append(w)
    return tuple(out)


def indices(wnids: tuple[str, ...]) -> tuple[int, ...]:
    """The ImageNet-1K index of each wnid (empty when one is not an ImageNet-1K class)."""
    table = wnid_table()
    return tuple(table[w] for w in wnids) if all(w in table for w in wnids) else ()


def all_wnids(class_names: tuple[str, ...]) -> bool:
    """Whether every class is an ImageNet-1K wnid (a plain ImageFolder of them is an ImageNet subset)."""
    if not class_names or not all(WNID.fullmatch(n) for n in class_names):
        return False  # decided without loading the table
    table = wnid_table()
    return all(n in table for n in class_names)


def split_folder(data_dir: str | None, split: str) -> Path:
    """The folder of ``split`` under --data-dir (train/, or val/ or test/ for the test split)."""
    if data_dir is None:
        raise DgrError("imagenet needs --data-dir DIR holding train/<wnid>/… and val/<wnid>/… "
                       "(ImageNet-1K, ImageNette, ImageWoof or any subset of wnids)")
    root = Path(data_dir).expanduser()
    names = ("train",) if split == "train" else TEST_FOLDERS
    for name in names:
        if (root / name).is_dir():
            return root / name
    found = folder_contents(root)
    looked = " or ".join(f"{n}/" for n in names)
    where = f"found: {', '.join(found) or 'nothing'}" if root.is_dir() else "it does not exist"
    raise DgrError(f"imagenet: no {looked} in {root} ({where}); the layout is DIR/train/<wnid>/… and "
                   "DIR/val/<wnid>/…")


def read_imagenet(request: DataRequest) -> Data:
    """A split of ImageNet (or a subset of its wnids) as a listing read on demand."""
    folder = split_folder(request.data_dir, request.split)
    dirs = class_folders(folder, "imagenet split folder")
    table = wnid_table()
    foreign = [d.name for d in dirs if d.name not in table]
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        verb = "is not an ImageNet-1K wnid" if len(foreign) == 1 else "are not ImageNet-1K wnids"
        raise DgrError(f"imagenet: {listed} in {folder} {verb}; "
                       f"use --dataset {request.data_dir} for a plain ImageFolder")
    if request.split == "test":
        same_classes(dirs, class_folders(split_folder(request.data_dir, "train"), "imagenet split folder"))
    listing = FileListing(name="imagenet", class_names=tuple(d.name for d in dirs), dirs=tuple(str(d) for d in dirs),
                          files=tuple(tuple(visible_files(d)) for d in dirs))
    return read_listing(listing, request.image_size)
