"""Labelled image datasets as numpy arrays ``[N, C, H, W]`` in [0, 1].

Built in: ``digits`` (scikit-learn's bundled 8×8 digits, fixed stratified split),
``fashion-mnist`` (idx .gz files from ``--data-dir``, Debian's
``/usr/share/datasets/fashion-mnist`` or ``$DGR_DATA_DIR/fashion-mnist``), and any
ImageFolder (one sub-folder per class; ``train/`` and ``test/`` sub-folders if present).

Image size: ``image_size=N`` (``--image-size N``) resizes every image on load as torchvision's
ImageNet transforms do, ``Resize(N)`` then ``CenterCrop(N)``: the short side becomes N
(antialiased bilinear, the aspect ratio kept) and the centre N×N square is cut out. Without it
an ImageFolder loads at its native size up to :data:`DEFAULT_MAX_SIDE` (64 px) and larger
images are brought down to that, with one line saying so, so a CPU run stays practical.
"""
from __future__ import annotations

import contextlib
import contextvars
import gzip
import os
import warnings
from pathlib import Path
from typing import Callable, Iterator

import attrs
import numpy as np

from dgr.components import DatasetInfo
from dgr.errors import DgrError
from dgr.network import DOWNLOAD_ENV, downloads_allowed  # noqa: F401  (DOWNLOAD_ENV: re-exported)
from dgr.registry import suggest

SPLITS = ("train", "test")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
FASHION_MNIST_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                         "sneaker", "bag", "ankle-boot")
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DEFAULT_MAX_SIDE = 64
"""An ImageFolder with bigger images loads at this size unless ``image_size`` says otherwise."""
MIN_IMAGE_SIZE = 4
DATASET_HELP = ("a dataset is a built-in name (digits, fashion-mnist) or an ImageFolder: DIR/<class>/<image> "
                "(or DIR/train/<class>/… and DIR/test/<class>/…)")

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
    if size is not None and size < MIN_IMAGE_SIZE:
        raise DgrError(f"--image-size must be at least {MIN_IMAGE_SIZE}, got {size}")
    return size


def resized_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision's ``Resize(size)``: the short side becomes ``size``, the long one keeps the ratio."""
    if width <= height:
        return size, max(size, int(size * height / width))
    return max(size, int(size * width / height)), size


def resize_and_crop(picture, size: int):
    """A PIL image → ``size``×``size``: short side to ``size`` (antialiased bilinear), centre crop."""
    from PIL import Image

    width, height = picture.size
    if (width, height) != (size, size):
        new_w, new_h = resized_shape(width, height, size)
        if (new_w, new_h) != (width, height):
            picture = picture.resize((new_w, new_h), Image.BILINEAR)  # PIL antialiases when it shrinks
        left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
        picture = picture.crop((left, top, left + size, top + size))
    return picture


def resize_array(images: np.ndarray, size: int) -> np.ndarray:
    """``[N, C, H, W]`` float images → ``[N, C, size, size]`` the same way as :func:`resize_and_crop`."""
    import torch
    from torch.nn import functional as F

    _, _, height, width = images.shape
    if (height, width) == (size, size):
        return images
    new_w, new_h = resized_shape(width, height, size)
    x = torch.from_numpy(np.ascontiguousarray(images))
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.ascontiguousarray(x[:, :, top:top + size, left:left + size].clamp(0, 1).numpy())


@attrs.frozen(eq=False)
class LabelledImages:
    """Images ``[N, C, H, W]`` float32 in [0, 1] and integer labels ``[N]``."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    skipped: int = 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def info(self) -> DatasetInfo:
        _, c, h, w = self.images.shape
        return DatasetInfo(name=self.name, class_names=self.class_names, channels=c, height=h, width=w)

    def of_class(self, class_index: int) -> np.ndarray:
        return self.images[self.labels == class_index]

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.class_names))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DgrError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def load_digits(split: str = "train", data_dir: str | None = None) -> LabelledImages:
    """scikit-learn's bundled 8×8 digits (1797 images), split 80/20 stratified with a fixed seed."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    _check_split(split)
    bunch = sk_load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None]
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION,
                                           stratify=labels, random_state=DIGITS_SPLIT_SEED)
    idx = np.sort(train_idx if split == "train" else test_idx)
    return LabelledImages(name="digits", images=images[idx], labels=labels[idx],
                          class_names=tuple(str(i) for i in range(10)))


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)




def cache_root() -> Path:
    """dgr's cache: ``$DGR_CACHE_DIR`` or ``~/.cache/dgr``."""
    return Path(os.environ.get("DGR_CACHE_DIR") or Path.home() / ".cache" / "dgr")


def download_cache() -> Path:
    """Where opt-in downloads go: ``<cache root>/datasets``."""
    return cache_root() / "datasets"


def _download_fashion_mnist() -> Path:
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


def find_fashion_mnist(data_dir: str | None) -> Path:
    candidates = [Path(data_dir)] if data_dir else []
    if os.environ.get("DGR_DATA_DIR"):
        candidates.append(Path(os.environ["DGR_DATA_DIR"]) / "fashion-mnist")
    candidates += [Path(p) for p in FASHION_MNIST_DIRS]
    candidates.append(download_cache() / "FashionMNIST" / "raw")
    for c in candidates:
        if (c / "train-images-idx3-ubyte.gz").exists():
            return c
    if downloads_allowed():
        return _download_fashion_mnist()
    tried = ", ".join(str(c) for c in candidates)
    raise DgrError(f"Fashion-MNIST idx files not found (tried {tried}); pass --data-dir DIR, "
                   f"`apt-get install dataset-fashion-mnist`, or set {DOWNLOAD_ENV}=1 where a network exists")


def load_fashion_mnist(split: str = "train", data_dir: str | None = None) -> LabelledImages:
    """Fashion-MNIST from its four idx .gz files (60k train / 10k test, 28×28 grey)."""
    _check_split(split)
    root = find_fashion_mnist(data_dir)
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(root / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    labels = _read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return LabelledImages(name="fashion-mnist", images=images, labels=labels,
                          class_names=FASHION_MNIST_CLASSES)


def load_image_folder(path: str | Path, split: str = "train", image_size: int | None = None) -> LabelledImages:
    """An ImageFolder: one sub-folder per class. Unreadable files are skipped with a warning.

    ``image_size``: see the module's docstring; without it images larger than
    :data:`DEFAULT_MAX_SIDE` load at that size (one warning line says so).
    """
    from PIL import Image, UnidentifiedImageError

    _check_split(split)
    root = Path(path)
    if (root / "train").is_dir():
        root = root / split
        if not root.is_dir():
            raise DgrError(f"{path} has a train/ folder but no {split}/ folder")
    if not root.is_dir():
        raise DgrError(f"dataset folder {root} does not exist; {DATASET_HELP}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DgrError(f"{root} holds no class sub-folders; {DATASET_HELP}")
    pictures: list[Image.Image] = []
    labels: list[int] = []
    skipped = 0
    size = image_size
    native: tuple[int, int] | None = None
    for class_index, class_dir in enumerate(class_dirs):
        files = sorted(f for f in class_dir.iterdir() if f.is_file() and not f.name.startswith("."))
        kept = 0
        for file in files:
            try:
                with Image.open(file) as im:
                    im.load()
                    picture = im.convert("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                skipped += 1
                warnings.warn(f"skipping {file}: not a readable image ({type(exc).__name__})", stacklevel=2)
                continue
            if native is None:  # the first image decides the size when none is given
                native = picture.size
                if size is None and max(native) > DEFAULT_MAX_SIDE:
                    size = DEFAULT_MAX_SIDE
                    warnings.warn(f"{path}: images are {native[0]}×{native[1]} px; loading them at "
                                  f"{size}×{size} (short side resized, centre crop) to keep a CPU run practical; "
                                  "pass --image-size N to choose", stacklevel=2)
            pictures.append(resize_and_crop(picture, size) if size else picture)
            labels.append(class_index)
            kept += 1
        if kept == 0:
            raise DgrError(f"class folder {class_dir} holds no readable images; add images or remove the folder")
    grey = all(p.mode == "L" for p in pictures)
    mode = "L" if grey else "RGB"
    first = pictures[0].size
    arrays = [np.asarray(p.convert(mode).resize(first) if p.size != first else p.convert(mode), dtype=np.float32)
              for p in pictures]
    images = np.stack(arrays) / 255.0
    images = images[:, None] if grey else images.transpose(0, 3, 1, 2)
    return LabelledImages(name=str(path), images=np.ascontiguousarray(images),
                          labels=np.asarray(labels, dtype=np.int64),
                          class_names=tuple(d.name for d in class_dirs), skipped=skipped)


DATASETS: dict[str, Callable[..., LabelledImages]] = {
    "digits": load_digits,
    "fashion-mnist": load_fashion_mnist,
}


def load_dataset(name: str, split: str = "train", data_dir: str | None = None,
                 image_size: int | None = None) -> LabelledImages:
    """A built-in dataset by name, or an ImageFolder by path; ``image_size`` resizes on load
    (short side, then a centre crop; default: see :func:`loading_size` and the module's docstring)."""
    size = check_image_size(image_size if image_size is not None else _IMAGE_SIZE.get())
    if name in DATASETS:
        data = DATASETS[name](split=split, data_dir=data_dir)
        if size is None or data.images.shape[2:] == (size, size):
            return data
        return attrs.evolve(data, images=resize_array(data.images, size))
    if os.sep in name or Path(name).exists():
        return load_image_folder(name, split=split, image_size=size)
    raise DgrError(f"unknown dataset {name!r}{suggest(name, DATASETS)}; available: "
                   f"{', '.join(DATASETS)}, or a path to an ImageFolder (DIR/<class>/<image>)")
