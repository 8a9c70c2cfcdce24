"""Tiny-ImageNet (200 classes, 64×64 px) in the layout of its release: ``wnids.txt``,
``train/<wnid>/images/*.JPEG`` and ``val/images/*.JPEG`` labelled by
``val/val_annotations.txt`` (the release's ``test/`` has no labels; ``val/`` is the test split,
as in the dataset-distillation literature). Class names as people say them come from the same
WordNet lemmas as ``words.txt`` (timm's ImageNet-21K table)."""
from __future__ import annotations

from pathlib import Path

from dgr.datasets import DataRequest, FileListing, read_listing
from dgr.datasets.description import Data
from dgr.datasets.folders import folder_contents, visible_files
from dgr.errors import DgrError

REQUIRED = ("wnids.txt", "train", "val/images", "val/val_annotations.txt")


def _root(data_dir: str | None) -> Path:
    if data_dir is None:
        raise DgrError("tiny-imagenet needs --data-dir DIR (the unpacked tiny-imagenet-200/ folder)")
    root = Path(data_dir).expanduser()
    missing = [r for r in REQUIRED if not (root / r).exists()]
    if missing:
        found = folder_contents(root)
        raise DgrError(f"tiny-imagenet: no {', '.join(missing)} in {root} (found: {', '.join(found) or 'nothing'}); "
                       "pass the unpacked tiny-imagenet-200/ folder")
    return root


def _lines(file: Path) -> list[str]:
    try:
        return [line.rstrip("\n") for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DgrError(f"tiny-imagenet: cannot read {file} ({type(exc).__name__})") from None


def wnids(root: Path) -> tuple[str, ...]:
    """The classes, sorted (the order torchvision's ImageFolder gives the train/ folders)."""
    return tuple(sorted(w.strip() for w in _lines(root / "wnids.txt")))


def read_tiny_imagenet(request: DataRequest) -> Data:
    """A split of Tiny-ImageNet in its release layout (val/ is the test split)."""
    root = _root(request.data_dir)
    classes = wnids(root)
    if request.split == "train":
        dirs = [root / "train" / w / "images" for w in classes]
        absent = [str(d) for d in dirs if not d.is_dir()]
        if absent:
            raise DgrError(f"tiny-imagenet: {absent[0]} does not exist ({len(absent)} of {len(dirs)} classes); "
                           "the layout is train/<wnid>/images/*.JPEG")
        files = tuple(tuple(visible_files(d)) for d in dirs)
        folders = tuple(str(d) for d in dirs)
    else:
        by_class: dict[str, list[str]] = {w: [] for w in classes}
        for number, line in enumerate(_lines(root / "val" / "val_annotations.txt"), 1):
            parts = line.split("\t")
            if len(parts) < 2 or parts[1] not in by_class:
                raise DgrError(f"tiny-imagenet: line {number} of val/val_annotations.txt names "
                               f"{parts[1] if len(parts) > 1 else 'no class'!r}, not a wnid of wnids.txt")
            by_class[parts[1]].append(parts[0])
        folders = tuple(str(root / "val" / "images") for _ in classes)
        files = tuple(tuple(sorted(by_class[w])) for w in classes)
    listing = FileListing(name="tiny-imagenet", class_names=classes, dirs=folders, files=files)
    return read_listing(listing, request.image_size)
