"""Image files listed class by class, read into memory or on demand.

A :class:`FileListing` names each class's folder and files; the plain ImageFolder layout
(``DIR/<class>/<image>``, or ``DIR/train/<class>/…`` and ``DIR/test/<class>/…``) is one way to
make one, and readers of other layouts (ImageNet's ``val/``, Tiny-ImageNet's
``val_annotations.txt``) make theirs. :func:`read_listing` then loads it.

Image size: ``image_size=N`` resizes every image on load as torchvision's ImageNet transforms do,
``Resize(N)`` then ``CenterCrop(N)``. Without it a folder loads at its native size up to
:data:`DEFAULT_MAX_SIDE` (64 px) and larger images are brought down to that, with one line saying
so, so a CPU run stays practical.

Streaming: a listing whose images would take more than :data:`STREAM_ABOVE_BYTES` as float32
(or any with ``DGR_STREAM=1``; ``DGR_STREAM=0`` never streams) loads as an :class:`ImageFolderIndex`:
the file names of each class, and every read goes through a ``torch.utils.data.DataLoader`` over
just the files asked for (one class, one batch), so memory follows the largest class, not the
split. It has the same face as :class:`~dgr.datasets.arrays.LabelledImages` (``info``,
``class_names``, ``counts()``, ``of_class(c)``, ``labels``, and ``images``, a lazy view that reads
only the rows indexed) and the same pixels.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import attrs
import numpy as np

from dgr.components import DatasetInfo
from dgr.datasets.arrays import LabelledImages, dataset_info, resize_and_crop
from dgr.datasets.description import SPLITS
from dgr.datasets.pictures import GREY_MODES, IMAGE_SUFFIXES, picture_array, read_picture
from dgr.errors import DgrError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from dgr.datasets.description import DatasetDescription

DEFAULT_MAX_SIDE = 64
"""A folder with bigger images loads at this size unless ``image_size`` says otherwise."""
STREAM_ENV = "DGR_STREAM"
STREAM_ABOVE_BYTES = 256 * 2 ** 20
"""A listing larger than this as float32 streams (see the module's docstring)."""
FOLDER_LAYOUT = "DIR/<class>/<image> (or DIR/train/<class>/… and DIR/test/<class>/…)"
LOADER_BATCH = 256
LOADER_WORKERS = 4
LOADER_WORKERS_FROM = 1024
"""Reads of this many files or more use worker processes (at most :data:`LOADER_WORKERS`)."""


@attrs.frozen
class FileListing:
    """The files of one split: class ``c`` is ``class_names[c]``, its files ``files[c]`` (names
    inside the folder ``dirs[c]``), in the order they are read."""

    name: str
    class_names: tuple[str, ...]
    dirs: tuple[str, ...]
    files: tuple[tuple[str, ...], ...]
    description: "DatasetDescription | None" = None


def check_split(split: str) -> None:
    """Refuse a split that is not one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise DgrError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def visible_files(folder: Path) -> list[str]:
    """The names of the files in ``folder`` (hidden ones left out); an entry that cannot be followed
    (a symlink loop, a dangling link) is skipped with a warning."""
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_file = entry.is_file()
            except OSError as exc:  # ELOOP: is_file() follows the link and raises
                warnings.warn(f"skipping {entry.path}: {exc.strerror or type(exc).__name__}", stacklevel=2)
                continue
            if is_file:
                names.append(entry.name)
    return sorted(names)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a symlink loop among the class folders: not a class
        warnings.warn(f"skipping {path}: a link that cannot be followed", stacklevel=3)
        return False


def folder_contents(root: Path, most: int = 6) -> list[str]:
    """The first ``most`` entries of ``root`` (folders with a trailing ``/``), for errors that say what
    a ``--data-dir`` holds instead of the layout looked for; empty when it is no folder."""
    if not root.is_dir():
        return []
    return sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())[:most]


def class_folders(root: Path, what: str) -> list[Path]:
    """The class sub-folders of ``root`` (sorted); ``what`` names the folder in errors."""
    if not root.is_dir():
        kind = "is a file, not a folder" if root.exists() else "does not exist"
        raise DgrError(f"{what} {root} {kind}; {dataset_help()}")
    dirs = sorted(d for d in root.iterdir() if not d.name.startswith(".") and _is_dir(d))
    if not dirs:
        raise DgrError(f"{root} holds no class sub-folders; {dataset_help()}")
    return dirs


def same_classes(test_dirs: Sequence[Path], train_dirs: Sequence[Path]) -> None:
    """Refuse a test split whose class folders differ from the training split's (the labels
    would silently mean other classes)."""
    test, train = [d.name for d in test_dirs], [d.name for d in train_dirs]
    if test != train:
        extra, missing = sorted(set(test) - set(train)), sorted(set(train) - set(test))
        what = "; ".join(p for p in (f"only in {test_dirs[0].parent}: {', '.join(extra[:5])}" if extra else "",
                                     f"missing there: {', '.join(missing[:5])}" if missing else "") if p)
        raise DgrError(f"the test split's class folders differ from the training split's ({what}); give both "
                       "splits the same class folders")


def dataset_help() -> str:
    """What a dataset may be, naming the registered ones (for errors)."""
    from dgr.plugins import build_registry

    names = ", ".join(build_registry().names("dataset"))
    return f"a dataset is a registered name ({names}; dgr list datasets) or an ImageFolder: {FOLDER_LAYOUT}"


def image_folder_listing(path: str | Path, split: str = "train") -> FileListing:
    """A plain ImageFolder's split: ``DIR/<class>/…`` serves both splits, ``DIR/train`` and
    ``DIR/test`` one each (a ``train/`` without ``test/`` is refused, naming the fix)."""
    check_split(split)
    root = Path(path)
    split_folders = (root / "train").is_dir()
    if split_folders:
        if not (root / "test").is_dir():
            raise DgrError(f"{path} has a train/ folder but no test/ folder; add {Path(path) / 'test'}/<class>/… "
                           f"(the split dgr evaluate scores on), or pass --dataset {Path(path) / 'train'} to "
                           "use the training images for both")
        root = root / split
    dirs = class_folders(root, "dataset folder")
    if split == "test" and split_folders:
        same_classes(dirs, class_folders(root.parent / "train", "dataset folder"))
    return FileListing(name=str(path), class_names=tuple(d.name for d in dirs), dirs=tuple(str(d) for d in dirs),
                       files=tuple(tuple(visible_files(d)) for d in dirs))


def _default_size(name: str, native: tuple[int, int] | None, size: int | None) -> int | None:
    if size is None and native is not None and max(native) > DEFAULT_MAX_SIDE:
        size = DEFAULT_MAX_SIDE
        warnings.warn(f"{name}: images are {native[0]}×{native[1]} px; loading them at "
                      f"{size}×{size} (short side resized, centre crop) to keep a CPU run practical; "
                      "pass --image-size N to choose", stacklevel=5)
    return size


def _no_images(folder: str) -> DgrError:
    return DgrError(f"class folder {folder} holds no readable images; add images or remove the folder")


def load_listing(listing: FileListing, image_size: int | None = None) -> LabelledImages:
    """Every file of ``listing`` in memory. Unreadable files are skipped with a warning."""
    skipped = 0

    def pictures() -> Iterator[tuple["Image.Image", int]]:
        nonlocal skipped
        for class_index, (folder, names) in enumerate(zip(listing.dirs, listing.files)):
            kept = 0
            for name in names:
                picture = read_picture(os.path.join(folder, name))
                if picture is None:
                    skipped += 1
                    continue
                kept += 1
                yield picture, class_index
            if kept == 0:
                raise _no_images(folder)

    data = stack_pictures(listing.name, pictures(), listing.class_names, image_size, listing.description)
    return attrs.evolve(data, skipped=skipped)


def stack_pictures(name: str, pictures: Iterable[tuple["Image.Image", int]], class_names: tuple[str, ...],
                   image_size: int | None, description: "DatasetDescription | None" = None) -> LabelledImages:
    """8-bit pictures (mode L or RGB) and their labels as one in-memory split: at ``image_size``, or
    at the first picture's size (brought down to :data:`DEFAULT_MAX_SIDE`); grey when all are."""
    kept: list["Image.Image"] = []
    labels: list[int] = []
    size = image_size
    native: tuple[int, int] | None = None
    for picture, label in pictures:
        if native is None:  # the first image decides the size when none is given
            native = picture.size
            size = _default_size(name, native, size)
        kept.append(resize_and_crop(picture, size) if size else picture)
        labels.append(label)
    if not kept:
        raise DgrError(f"{name} holds no readable images")
    grey = all(p.mode == "L" for p in kept)
    mode = "L" if grey else "RGB"
    first = kept[0].size
    arrays = [np.asarray(p.convert(mode).resize(first) if p.size != first else p.convert(mode), dtype=np.float32)
              for p in kept]
    images = np.stack(arrays) / 255.0
    images = images[:, None] if grey else images.transpose(0, 3, 1, 2)
    return LabelledImages(name=name, images=np.ascontiguousarray(images), labels=np.asarray(labels, dtype=np.int64),
                          class_names=class_names, description=description)


def load_image_folder(path: str | Path, split: str = "train", image_size: int | None = None) -> LabelledImages:
    """A plain ImageFolder's split in memory (see :func:`image_folder_listing`)."""
    return load_listing(image_folder_listing(path, split), image_size)


class _Files:
    """A ``torch.utils.data.Dataset`` over image files: item ``i`` is ``(array or None, i, warning)``."""

    def __init__(self, paths: list[str], size: int | None, mode: str, first: tuple[int, int]) -> None:
        self.paths, self.size, self.mode, self.first = paths, size, mode, first

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[np.ndarray | None, int, str | None]:
        with warnings.catch_warnings(record=True) as caught:  # said once, in the main process
            warnings.simplefilter("always")
            picture = read_picture(self.paths[i])
        if picture is None:
            return None, i, str(caught[0].message) if caught else f"skipping {self.paths[i]}"
        return picture_array(picture, self.size, self.mode, self.first), i, None


def _keep(batch: list[Any]) -> list[Any]:
    return batch  # a list of (array or None, index, warning); stacked in the main process


def _private_generator() -> Any:
    """A DataLoader's own generator: without one it draws its workers' seed from torch's global
    random state, so reading files would change what a training loop draws next."""
    import torch

    return torch.Generator()


def _workers(n: int) -> int:
    """DataLoader workers: none for a few files (starting them costs more than they save)."""
    if n < LOADER_WORKERS_FROM:
        return 0
    return max(0, min(LOADER_WORKERS, (os.cpu_count() or 1) - 1))


class ImageFolderIndex:
    """A listing read on demand: the file names of each class, and nothing else in memory.

    The same face as :class:`LabelledImages` and the same pixels, class by class; differences:
    files without an image suffix are skipped (and counted) when listed, other unreadable files
    when their class is read (a warning each, then counted in :attr:`skipped`); ``len`` and
    :meth:`counts` count the files listed; the channels follow the first image of each class.
    """

    def __init__(self, name: str, class_names: Sequence[str], dirs: Sequence[str], names: list[list[str]],
                 size: int | None, mode: str, first: tuple[int, int], skipped: int = 0,
                 description: "DatasetDescription | None" = None) -> None:
        self.name = name
        self.class_names = tuple(class_names)
        self._dirs = [str(d) for d in dirs]
        self._names = ["\n".join(n) for n in names]  # one string a class: ~the bytes of the names
        self._counts = np.asarray([len(n) for n in names], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._counts)])
        self.size, self.mode, self.first = size, mode, first
        self.skipped = skipped
        self.description = description
        self.files_read = 0  # how many image files this index has opened (tests, benchmarks)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def info(self) -> DatasetInfo:
        """The dataset's description as the components see it; the shape is the first image's."""
        return dataset_info(self.name, self.class_names, 1 if self.mode == "L" else 3, self.first[1], self.first[0],
                            self.description)

    def counts(self) -> np.ndarray:
        """The number of files listed for each class."""
        counts: np.ndarray = self._counts.copy()
        return counts

    @property
    def labels(self) -> np.ndarray:
        """The label of every listed file, class by class."""
        return np.repeat(np.arange(len(self.class_names), dtype=np.int64), self._counts)

    @property
    def images(self) -> "FolderImages":
        """The images ``[N, C, H, W]``, read from their files only for the rows indexed."""
        return FolderImages(self)

    def paths(self, class_index: int) -> list[str]:
        """The paths of class ``class_index``'s listed files."""
        folder = self._dirs[class_index]
        if not self._counts[class_index]:
            return []
        return [os.path.join(folder, n) for n in self._names[class_index].split("\n")]

    def of_class(self, class_index: int) -> np.ndarray:
        """The readable images of one class ``[n, C, H, W]``, read in batches through a DataLoader."""
        images, _ = self.read(self.paths(class_index))
        if len(images) == 0:
            raise _no_images(self._dirs[class_index])
        return images

    def batches(self, rows: "list[np.ndarray]", workers: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """For each array of row indices (into the whole split), ``(images, rows kept)``, read by one
        DataLoader (workers prefetch the next batches); unreadable files drop out of ``rows kept``."""
        from torch.utils.data import DataLoader

        paths = self._paths(np.concatenate([np.asarray(g, dtype=np.int64) for g in rows]) if rows else np.zeros(0, int))
        starts = np.concatenate([[0], np.cumsum([len(g) for g in rows])]).astype(int)
        sampler = [list(range(a, b)) for a, b in zip(starts[:-1], starts[1:])]
        loader = DataLoader(_Files(paths, self.size, self.mode, self.first), batch_sampler=sampler,
                            collate_fn=_keep, num_workers=_workers(len(paths) if workers is None else workers),
                            generator=_private_generator())
        for group, batch in zip(rows, loader):
            yield self._stack(batch, np.asarray(group))

    def labelled_batches(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The whole split in folder order, ``size`` images at a time: ``(images, labels)`` (a file that
        cannot be read drops out with its label). Memory: a few batches, whatever the split's size."""
        rows = np.arange(len(self))
        labels = self.labels
        for images, kept in self.batches([rows[i:i + size] for i in range(0, len(rows), size)]):
            yield images, labels[kept]

    def read(self, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Files as ``[n, C, H, W]`` in batches of :data:`LOADER_BATCH`, and the positions kept."""
        from torch.utils.data import DataLoader

        loader = DataLoader(_Files(paths, self.size, self.mode, self.first), batch_size=LOADER_BATCH,
                            collate_fn=_keep, num_workers=_workers(len(paths)), generator=_private_generator())
        parts = [self._stack(batch, np.asarray([i for _, i, _ in batch])) for batch in loader]
        if not parts:
            return self._empty(), np.zeros(0, np.int64)
        images = [p[0] for p in parts]
        out = np.concatenate(images) if len(images) > 1 else images[0]
        return out, np.concatenate([p[1] for p in parts])

    def _empty(self) -> np.ndarray:
        return np.zeros((0, 1 if self.mode == "L" else 3, self.first[1], self.first[0]), np.float32)

    def _stack(self, batch: list[Any], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.files_read += len(batch)
        kept = [k for k, (array, _, _) in enumerate(batch) if array is not None]
        for array, _, message in batch:
            if array is None:
                self.skipped += 1
                warnings.warn(message, stacklevel=4)
        arrays = [batch[k][0] for k in kept]
        return (np.stack(arrays) if arrays else self._empty()), rows[kept]

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

    def __getitem__(self, key: Any) -> np.ndarray:
        rows = np.arange(self.shape[0])[key]
        if np.ndim(rows) == 0:
            row: np.ndarray = self[np.asarray([rows])][0]
            return row
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

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[np.arange(self.shape[0])]
        return out if dtype is None else out.astype(dtype)


def index_listing(listing: FileListing, image_size: int | None = None) -> ImageFolderIndex:
    """An :class:`ImageFolderIndex` over ``listing`` (no image is decoded; the first file of each
    class is opened for its size and mode)."""
    from PIL import Image, UnidentifiedImageError

    names: list[list[str]] = []
    skipped, grey = 0, True
    native: tuple[int, int] | None = None
    for folder, listed in zip(listing.dirs, listing.files):
        kept = [n for n in listed if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]
        for n in listed:
            if n not in kept:
                warnings.warn(f"skipping {os.path.join(folder, n)}: not a readable image (no image suffix)",
                              stacklevel=3)
        skipped += len(listed) - len(kept)
        for n in kept:  # the first file that opens: its mode (and, for the first class, its size)
            try:
                with Image.open(os.path.join(folder, n)) as im:
                    grey = grey and im.mode in GREY_MODES
                    native = native or im.size
                break
            except (UnidentifiedImageError, OSError, ValueError):
                continue
        else:
            raise _no_images(folder)
        names.append(kept)
    size = _default_size(listing.name, native, image_size)
    first = (size, size) if size else native
    assert first is not None  # every class opened one file
    return ImageFolderIndex(listing.name, listing.class_names, listing.dirs, names, size, "L" if grey else "RGB",
                            first, skipped, listing.description)


def should_stream(index: ImageFolderIndex) -> bool:
    """Whether to stream: ``DGR_STREAM`` (1/0), else its float32 size against :data:`STREAM_ABOVE_BYTES`."""
    choice = os.environ.get(STREAM_ENV, "").strip()
    if choice in ("0", "1"):
        return choice == "1"
    info = index.info
    return len(index) * info.channels * info.height * info.width * 4 > STREAM_ABOVE_BYTES


def read_listing(listing: FileListing, image_size: int | None = None) -> "LabelledImages | ImageFolderIndex":
    """``listing`` in memory, or as an :class:`ImageFolderIndex` when it is large (see the module's docstring)."""
    if os.environ.get(STREAM_ENV, "").strip() == "0":
        return load_listing(listing, image_size)
    with warnings.catch_warnings(record=True) as said:  # said again by the path taken
        warnings.simplefilter("always")
        try:
            index: ImageFolderIndex | None = index_listing(listing, image_size)
        except DgrError:
            index = None  # the in-memory reader says what is wrong, as it always has
    if index is None or not should_stream(index):
        return load_listing(listing, image_size)
    for w in said:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return index
