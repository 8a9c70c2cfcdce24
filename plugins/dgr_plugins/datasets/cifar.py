"""CIFAR-10 and CIFAR-100 from the python pickle batches torchvision downloads
(``cifar-10-batches-py/``, ``cifar-100-python/``), read by torchvision's own dataset classes.

``--data-dir`` is the batches folder itself or the folder holding it (torchvision's ``root``).
torchvision's classes check each file's MD5 against the official release; here only their
presence is checked, so a re-packed or subset copy reads too, and a damaged file is one line.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dgr.datasets import DataRequest, LabelledImages, download_cache
from dgr.datasets.folders import folder_contents
from dgr.errors import DgrError
from dgr.network import DOWNLOAD_ENV, downloads_allowed


@attrs.frozen
class CifarFormat:
    """What tells one CIFAR release from the other."""

    name: str
    folder: str  # torchvision's base_folder
    first_file: str  # the file whose presence marks the folder
    torchvision_class: str


CIFAR10 = CifarFormat("cifar10", "cifar-10-batches-py", "data_batch_1", "CIFAR10")
CIFAR100 = CifarFormat("cifar100", "cifar-100-python", "train", "CIFAR100")


def _found(folder: Path) -> str:
    entries = folder_contents(folder)
    hint = " — an ImageFolder? use --dataset DIR" if {"train/", "test/"} <= set(entries) else ""
    return f"found: {', '.join(entries) or 'nothing'}{hint}"


def locate(fmt: CifarFormat, data_dir: str | None) -> Path:
    """The folder holding ``fmt``'s batches (one line naming what was looked for and found)."""
    if data_dir is None:
        if downloads_allowed():
            return _download(fmt)
        raise DgrError(f"{fmt.name} needs --data-dir DIR holding {fmt.folder}/ (torchvision's download), "
                       f"or set {DOWNLOAD_ENV}=1 where a network exists")
    root = Path(data_dir).expanduser()
    for folder in (root, root / fmt.folder):
        if (folder / fmt.first_file).is_file():
            return folder
    if not root.is_dir():
        raise DgrError(f"{fmt.name}: --data-dir {root} does not exist; pass the folder holding {fmt.folder}/")
    raise DgrError(f"{fmt.name}: no {fmt.first_file} in {root} or {root / fmt.folder} ({_found(root)})")


def _download(fmt: CifarFormat) -> Path:
    import torchvision.datasets

    root = download_cache()
    try:
        getattr(torchvision.datasets, fmt.torchvision_class)(str(root), train=True, download=True)
    except (OSError, RuntimeError) as exc:
        raise DgrError(f"downloading {fmt.name} into {root} failed ({type(exc).__name__}); "
                       f"pass --data-dir DIR holding {fmt.folder}/ instead") from None
    return root / fmt.folder


def _reader_class(fmt: CifarFormat) -> Any:
    """torchvision's class for ``fmt`` with its MD5 sums dropped (presence is checked instead)."""
    import torchvision.datasets

    base = getattr(torchvision.datasets, fmt.torchvision_class)
    return type(f"Unchecked{base.__name__}", (base,), {
        "train_list": [[name, None] for name, _ in base.train_list],
        "test_list": [[name, None] for name, _ in base.test_list],
        "meta": {**base.meta, "md5": None},
    })


def read_cifar(fmt: CifarFormat, request: DataRequest) -> LabelledImages:
    """A split of the CIFAR release ``fmt`` (python batches), refused in one line when files are missing or damaged."""
    folder = locate(fmt, request.data_dir)
    reader = _reader_class(fmt)
    reader.base_folder = folder.name
    try:
        data = reader(str(folder.parent), train=request.split == "train", download=False)
    except RuntimeError:
        files = [n for n, _ in (reader.train_list + reader.test_list)] + [reader.meta["filename"]]
        missing = [n for n in files if not (folder / n).is_file()]
        raise DgrError(f"{fmt.name}: {folder} lacks {', '.join(missing)}; download the release again") from None
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise DgrError(f"{fmt.name}: a batch file in {folder} is damaged or not a CIFAR pickle "
                       f"({type(exc).__name__}: {str(exc)[:80]}); download the release again") from None
    images = np.ascontiguousarray(np.asarray(data.data, dtype=np.float32).transpose(0, 3, 1, 2) / np.float32(255.0))
    return LabelledImages(name=fmt.name, images=images, labels=np.asarray(data.targets, dtype=np.int64),
                          class_names=tuple(str(c) for c in data.classes))


def read_cifar10(request: DataRequest) -> LabelledImages:
    """A split of CIFAR-10."""
    return read_cifar(CIFAR10, request)


def read_cifar100(request: DataRequest) -> LabelledImages:
    """A split of CIFAR-100."""
    return read_cifar(CIFAR100, request)
