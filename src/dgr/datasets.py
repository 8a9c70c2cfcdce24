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

Streaming: an ImageFolder whose images would take more than :data:`STREAM_ABOVE_BYTES` as
float32 (or any ImageFolder with ``DGR_STREAM=1``; ``DGR_STREAM=0`` never streams) loads as an
:class:`ImageFolderIndex`: the file names of each class, listed once, and every read goes
through a ``torch.utils.data.DataLoader`` over just the files asked for (one class, one batch),
so memory follows the largest class, not the split. It has the same face as
:class:`LabelledImages` (``info``, ``class_names``, ``counts()``, ``of_class(c)``, ``labels``,
and ``images``, a lazy view that reads only the rows indexed) and the same pixels.
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
STREAM_ENV = "DGR_STREAM"
STREAM_ABOVE_BYTES = 512 * 2 ** 20
"""An ImageFolder larger than this as float32 streams (see the module's docstring)."""
GREY_MODES = ("L", "1", "I;16", "I")
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


def read_picture(file: str | Path):
    """One image file as a PIL image in mode L or RGB, or None (with a warning) when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im.load()
            return im.convert("L" if im.mode in GREY_MODES else "RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        warnings.warn(f"skipping {file}: not a readable image ({type(exc).__name__})", stacklevel=3)
        return None


def picture_array(picture, size: int | None, mode: str, first: tuple[int, int]) -> np.ndarray:
    """A picture as ``[C, H, W]`` float32 in [0, 1], exactly as :func:`load_image_folder` stacks it."""
    if size:
        picture = resize_and_crop(picture, size)
    picture = picture.convert(mode)
    if picture.size != first:
        picture = picture.resize(first)
    array = np.asarray(picture, dtype=np.float32) / np.float32(255.0)
    return array[None] if mode == "L" else array.transpose(2, 0, 1)


def _default_size(path: str | Path, native: tuple[int, int], size: int | None) -> int | None:
    if size is None and max(native) > DEFAULT_MAX_SIDE:
        size = DEFAULT_MAX_SIDE
        warnings.warn(f"{path}: images are {native[0]}×{native[1]} px; loading them at "
                      f"{size}×{size} (short side resized, centre crop) to keep a CPU run practical; "
                      "pass --image-size N to choose", stacklevel=4)
    return size


def _class_dirs(path: str | Path, split: str) -> list[Path]:
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
    return class_dirs


def load_image_folder(path: str | Path, split: str = "train", image_size: int | None = None) -> LabelledImages:
    """An ImageFolder: one sub-folder per class. Unreadable files are skipped with a warning.

    ``image_size``: see the module's docstring; without it images larger than
    :data:`DEFAULT_MAX_SIDE` load at that size (one warning line says so).
    """
    from PIL import Image

    class_dirs = _class_dirs(path, split)
    pictures: list[Image.Image] = []
    labels: list[int] = []
    skipped = 0
    size = image_size
    native: tuple[int, int] | None = None
    for class_index, class_dir in enumerate(class_dirs):
        files = sorted(f for f in class_dir.iterdir() if f.is_file() and not f.name.startswith("."))
        kept = 0
        for file in files:
            picture = read_picture(file)
            if picture is None:
                skipped += 1
                continue
            if native is None:  # the first image decides the size when none is given
                native = picture.size
                size = _default_size(path, native, size)
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


class _Files:
    """A ``torch.utils.data.Dataset`` over image files: item ``i`` is ``(array or None, i)``."""

    def __init__(self, paths: list[str], size: int | None, mode: str, first: tuple[int, int]) -> None:
        self.paths, self.size, self.mode, self.first = paths, size, mode, first

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with warnings.catch_warnings(record=True) as caught:  # said once, in the main process
            warnings.simplefilter("always")
            picture = read_picture(self.paths[i])
        if picture is None:
            return None, i, str(caught[0].message) if caught else f"skipping {self.paths[i]}"
        return picture_array(picture, self.size, self.mode, self.first), i, None


def _keep(batch):
    return batch  # a list of (array or None, index, warning); stacked in the main process


def _workers(n: int) -> int:
    """DataLoader workers: none for a few files (starting them costs more than they save)."""
    if n < LOADER_WORKERS_FROM:
        return 0
    return max(0, min(LOADER_WORKERS, (os.cpu_count() or 1) - 1))


LOADER_BATCH = 256
LOADER_WORKERS = 4
LOADER_WORKERS_FROM = 1024
"""Reads of this many files or more use worker processes (at most :data:`LOADER_WORKERS`)."""


class ImageFolderIndex:
    """An ImageFolder read on demand: the sorted file names of each class, and nothing else in memory.

    The same face as :class:`LabelledImages` and the same pixels, class by class; differences:
    files without an image suffix are skipped (and counted) when listed, other unreadable files
    when their class is read (a warning each, then counted in :attr:`skipped`); ``len`` and
    :meth:`counts` count the files listed; the channels follow the first image of each class.
    """

    def __init__(self, name: str, class_dirs: list[Path], names: list[list[str]], size: int | None,
                 mode: str, first: tuple[int, int], skipped: int = 0) -> None:
        self.name = name
        self.class_names = tuple(d.name for d in class_dirs)
        self._dirs = [str(d) for d in class_dirs]
        self._names = ["\n".join(n) for n in names]  # one string a class: ~the bytes of the names
        self._counts = np.asarray([len(n) for n in names], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._counts)])
        self.size, self.mode, self.first = size, mode, first
        self.skipped = skipped
        self.files_read = 0  # how many image files this index has opened (tests, benchmarks)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo(name=self.name, class_names=self.class_names, channels=1 if self.mode == "L" else 3,
                           height=self.first[1], width=self.first[0])

    def counts(self) -> np.ndarray:
        return self._counts.copy()

    @property
    def labels(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.class_names), dtype=np.int64), self._counts)

    @property
    def images(self) -> "FolderImages":
        return FolderImages(self)

    def paths(self, class_index: int) -> list[str]:
        folder = self._dirs[class_index]
        return [os.path.join(folder, n) for n in self._names[class_index].split("\n")] if self._counts[class_index] else []

    def of_class(self, class_index: int) -> np.ndarray:
        """The readable images of one class ``[n, C, H, W]``, read in batches through a DataLoader."""
        images, _ = self.read(self.paths(class_index))
        if len(images) == 0:
            raise DgrError(f"class folder {self._dirs[class_index]} holds no readable images; "
                           "add images or remove the folder")
        return images

    def batches(self, rows: "list[np.ndarray]", workers: int | None = None) -> "Iterator[tuple[np.ndarray, np.ndarray]]":
        """For each array of row indices (into the whole split), ``(images, rows kept)``, read by one
        DataLoader (workers prefetch the next batches); unreadable files drop out of ``rows kept``."""
        from torch.utils.data import DataLoader

        paths = self._paths(np.concatenate([np.asarray(g, dtype=np.int64) for g in rows]) if rows else np.zeros(0, int))
        starts = np.concatenate([[0], np.cumsum([len(g) for g in rows])]).astype(int)
        sampler = [list(range(a, b)) for a, b in zip(starts[:-1], starts[1:])]
        loader = DataLoader(_Files(paths, self.size, self.mode, self.first), batch_sampler=sampler,
                            collate_fn=_keep, num_workers=_workers(len(paths) if workers is None else workers))
        for group, batch in zip(rows, loader):
            yield self._stack(batch, np.asarray(group))

    def read(self, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Files as ``[n, C, H, W]`` in batches of :data:`LOADER_BATCH`, and the positions kept."""
        from torch.utils.data import DataLoader

        loader = DataLoader(_Files(paths, self.size, self.mode, self.first), batch_size=LOADER_BATCH,
                            collate_fn=_keep, num_workers=_workers(len(paths)))
        parts = [self._stack(batch, np.asarray([i for _, i, _ in batch])) for batch in loader]
        c = 1 if self.mode == "L" else 3
        if not parts:
            return np.zeros((0, c, self.first[1], self.first[0]), np.float32), np.zeros(0, np.int64)
        images = [p[0] for p in parts]
        out = np.concatenate(images) if len(images) > 1 else images[0]
        return out, np.concatenate([p[1] for p in parts])

    def _stack(self, batch, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.files_read += len(batch)
        kept = [k for k, (array, _, _) in enumerate(batch) if array is not None]
        for array, _, message in batch:
            if array is None:
                self.skipped += 1
                warnings.warn(message, stacklevel=4)
        c = 1 if self.mode == "L" else 3
        arrays = [batch[k][0] for k in kept]
        images = np.stack(arrays) if arrays else np.zeros((0, c, self.first[1], self.first[0]), np.float32)
        return images, rows[kept]

    def _paths(self, rows: np.ndarray) -> list[str]:
        classes = np.searchsorted(self._offsets, rows, side="right") - 1
        split = {int(c): self._names[c].split("\n") for c in np.unique(classes)}
        return [os.path.join(self._dirs[c], split[c][r - int(self._offsets[c])])
                for r, c in zip(rows.tolist(), classes.tolist())]


class FolderImages:
    """``ImageFolderIndex.images``: ``[N, C, H, W]`` that reads only the rows it is indexed with
    (``np.asarray`` of it reads them all). An unreadable file reads as zeros here."""

    def __init__(self, index: ImageFolderIndex) -> None:
        self.index = index
        info = index.info
        self.shape = (len(index), info.channels, info.height, info.width)
        self.dtype = np.dtype(np.float32)
        self.ndim = 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        rows = np.arange(self.shape[0])[key]
        if np.ndim(rows) == 0:
            return self[np.asarray([rows])][0]
        out = np.zeros((len(rows), *self.shape[1:]), np.float32)
        order = np.argsort(rows, kind="stable")  # read in folder order, place in the order asked
        for start in range(0, len(rows), LOADER_BATCH):
            chunk = order[start:start + LOADER_BATCH]
            images, kept = next(iter(self.index.batches([rows[chunk]], workers=0)))
            position = {int(r): k for k, r in enumerate(kept)}
            for k, j in enumerate(chunk):
                if int(rows[j]) in position:
                    out[j] = images[position[int(rows[j])]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[np.arange(self.shape[0])]
        return out if dtype is None else out.astype(dtype)


def index_image_folder(path: str | Path, split: str = "train", image_size: int | None = None) -> ImageFolderIndex:
    """An :class:`ImageFolderIndex`: lists the class folders (no image is decoded; the first file
    of each class is opened for its size and mode)."""
    from PIL import Image, UnidentifiedImageError

    class_dirs = _class_dirs(path, split)
    names: list[list[str]] = []
    skipped, grey, native = 0, True, None
    for class_dir in class_dirs:
        with os.scandir(class_dir) as entries:
            listed = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())
        kept = [n for n in listed if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]
        for n in listed:
            if n not in kept:
                warnings.warn(f"skipping {class_dir / n}: not a readable image (no image suffix)", stacklevel=3)
        skipped += len(listed) - len(kept)
        for n in kept:  # the first file that opens: its mode (and, for the first class, its size)
            try:
                with Image.open(class_dir / n) as im:
                    grey = grey and im.mode in GREY_MODES
                    native = native or im.size
                break
            except (UnidentifiedImageError, OSError, ValueError):
                continue
        else:
            raise DgrError(f"class folder {class_dir} holds no readable images; add images or remove the folder")
        names.append(kept)
    size = _default_size(path, native, image_size)
    first = (size, size) if size else native
    return ImageFolderIndex(str(path), class_dirs, names, size, "L" if grey else "RGB", first, skipped)


def stream_image_folder(index: ImageFolderIndex) -> bool:
    """Whether to stream this folder: ``DGR_STREAM`` (1/0), else its float32 size against
    :data:`STREAM_ABOVE_BYTES`."""
    choice = os.environ.get(STREAM_ENV, "").strip()
    if choice in ("0", "1"):
        return choice == "1"
    info = index.info
    return len(index) * info.channels * info.height * info.width * 4 > STREAM_ABOVE_BYTES


DATASETS: dict[str, Callable[..., LabelledImages]] = {
    "digits": load_digits,
    "fashion-mnist": load_fashion_mnist,
}


def load_dataset(name: str, split: str = "train", data_dir: str | None = None,
                 image_size: int | None = None) -> "LabelledImages | ImageFolderIndex":
    """A built-in dataset by name, or an ImageFolder by path; ``image_size`` resizes on load
    (short side, then a centre crop; default: see :func:`loading_size` and the module's docstring)."""
    size = check_image_size(image_size if image_size is not None else _IMAGE_SIZE.get())
    if name in DATASETS:
        data = DATASETS[name](split=split, data_dir=data_dir)
        if size is None or data.images.shape[2:] == (size, size):
            return data
        return attrs.evolve(data, images=resize_array(data.images, size))
    if os.sep in name or Path(name).exists():
        if os.environ.get(STREAM_ENV, "").strip() == "0":
            return load_image_folder(name, split=split, image_size=size)
        with warnings.catch_warnings(record=True) as said:  # said again by the path taken
            warnings.simplefilter("always")
            try:
                index = index_image_folder(name, split=split, image_size=size)
            except DgrError:
                index = None  # the in-memory reader says what is wrong, as it always has
        if index is None or not stream_image_folder(index):
            return load_image_folder(name, split=split, image_size=size)
        for w in said:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return index
    raise DgrError(f"unknown dataset {name!r}{suggest(name, DATASETS)}; available: "
                   f"{', '.join(DATASETS)}, or a path to an ImageFolder (DIR/<class>/<image>)")
