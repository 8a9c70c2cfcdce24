"""Fashion-MNIST from its four idx .gz files (60k train / 10k test, 28×28 grey).

Looked for in ``--data-dir``, ``$DGR_DATA_DIR/fashion-mnist``, Debian's
``/usr/share/datasets/fashion-mnist`` and dgr's download cache; downloaded by torchvision only
with ``DGR_DOWNLOAD=1``.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from dgr.datasets import DataRequest, LabelledImages, download_cache
from dgr.errors import DgrError
from dgr.network import DOWNLOAD_ENV, downloads_allowed

CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)
FIRST_FILE = "train-images-idx3-ubyte.gz"


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = int.from_bytes(data[:4], "big") & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _download() -> Path:
    """torchvision's downloader, only when ``DGR_DOWNLOAD=1`` (machines with a network)."""
    from torchvision.datasets import FashionMNIST

    root = download_cache()
    try:
        for train in (True, False):
            FashionMNIST(str(root), train=train, download=True)
    except (OSError, RuntimeError) as exc:
        raise DgrError(f"downloading Fashion-MNIST into {root} failed ({type(exc).__name__}); pass --data-dir DIR "
                       "with the four idx .gz files instead") from None
    return root / "FashionMNIST" / "raw"


def find_files(data_dir: str | None) -> Path:
    """The folder holding the four idx .gz files: --data-dir, DGR_DATA_DIR, the system's, the cache."""
    candidates = [Path(data_dir)] if data_dir else []
    if os.environ.get("DGR_DATA_DIR"):
        candidates.append(Path(os.environ["DGR_DATA_DIR"]) / "fashion-mnist")
    candidates += [Path(p) for p in SYSTEM_DIRS]
    candidates.append(download_cache() / "FashionMNIST" / "raw")
    for c in candidates:
        if (c / FIRST_FILE).exists():
            return c
    if downloads_allowed():
        return _download()
    tried = ", ".join(str(c) for c in candidates)
    raise DgrError(f"Fashion-MNIST idx files not found (tried {tried}); pass --data-dir DIR, "
                   f"`apt-get install dataset-fashion-mnist`, or set {DOWNLOAD_ENV}=1 where a network exists")


def read_fashion_mnist(request: DataRequest) -> LabelledImages:
    """A split of Fashion-MNIST from its idx files, pixels in [0, 1]."""
    root = find_files(request.data_dir)
    prefix = "train" if request.split == "train" else "t10k"
    try:
        images = _read_idx(root / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
        labels = _read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    except (OSError, EOFError, ValueError) as exc:
        raise DgrError(f"fashion-mnist: {root}/{prefix}-*-idx*-ubyte.gz is missing or damaged "
                       f"({type(exc).__name__}); download the four idx .gz files again") from None
    return LabelledImages(name="fashion-mnist", images=images, labels=labels, class_names=CLASS_NAMES)
