"""The image sets a distilled set is compared with, and the loader for a distilled set.

``random-real``         ``ipc`` real training images per class, a new draw for each repeat.
``kmeans-real``         per class, the real images nearest to ``ipc`` k-means centroids of the pixels
                        (a coreset, the strongest cheap real-image baseline).
``kmeans-real-polish``  those images through the same distribution-matching polish as a run
                        (:func:`polish_image_set`): the baseline for a method that ends with DM.
``unrefined``           a run's ``initial/`` images: the synthesis before detector-guided refinement.
``full``                the whole training split (its score is cached, see :func:`full_cache_file`).

The baselines ``dgr evaluate --baselines`` takes are registered by plugins
(``dgr_register_baselines``; dgr's own in ``dgr_plugins.evaluation``): a factory gets a
:class:`BaselineContext` and returns a :class:`Baseline`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import attrs
import numpy as np

from dgr.datasets import cache_root, unit_pixels
from dgr.datasets.description import Data
from dgr.errors import DgrError
from dgr.evaluation.source import Source

if TYPE_CHECKING:  # pragma: no cover
    from dgr.datasets.folders import FolderImages



@attrs.frozen(eq=False)
class ImageSet:
    """Images ``[N, C, H, W]`` float32 in [0, 1] (or, after :meth:`compact`, 8-bit pixels) with
    integer labels; the ``full`` baseline of a streamed ImageFolder holds its
    :class:`~dgr.datasets.folders.FolderImages`, read a batch at a time."""

    images: "np.ndarray | FolderImages"
    labels: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))

    def compact(self) -> "ImageSet":
        """The same set held as 8-bit pixels when its images are 8-bit (a quarter of the memory; the
        students read either, with the same floats): what ``dgr evaluate`` keeps between students."""
        from dgr.datasets import compact_pixels

        if not isinstance(self.images, np.ndarray):  # streamed: stays on disk
            return self
        pixels = compact_pixels(self.images)
        return self if pixels is self.images else ImageSet(images=pixels, labels=self.labels)

    def unit_images(self) -> np.ndarray:
        """The images as float32 in [0, 1], whichever way they are held (a streamed set: read whole)."""
        return unit_pixels(np.asarray(self.images))

    def ipc(self) -> int:
        """The images of the largest class (0 for an empty set)."""
        return int(np.bincount(self.labels).max()) if len(self) else 0


@attrs.frozen(eq=False)
class Baseline:
    """What a baseline factory returns: the image set repeat ``r`` trains on (``sets(r)``; repeat r
    of every set shares its student seed), and how its students differ from the distilled set's."""

    sets: Callable[[int], ImageSet]
    epochs: int | None = None  # train for this many epochs instead of the protocol's (full: --full-epochs)
    cache: bool = False  # keep the score in dgr's cache, keyed by dataset, settings, repeats and seed


@attrs.frozen(eq=False)
class BaselineContext:
    """What a baseline factory gets."""

    source: Source  # the run folder or ImageFolder evaluated
    train: Data  # the training split (in memory, or a large ImageFolder read on demand)
    distilled: ImageSet  # the distilled set (its ipc() is the size random draws match)
    run_seed: int  # the run's --seed (0 for an ImageFolder)
    seed: int  # dgr evaluate's --seed
    full_epochs: int  # dgr evaluate's --full-epochs


def read_image_folder(folder: Path, class_names: Sequence[str], shape: tuple[int, int, int]) -> ImageSet:
    """A distilled ImageFolder whose sub-folders are (safe) class names of the dataset."""
    from PIL import Image

    from dgr.loading import reading
    from dgr.rundir import safe_name

    if not folder.is_dir():
        raise DgrError(f"{folder} is not a folder; pass a run folder or an ImageFolder of distilled images")
    index = {safe_name(n): i for i, n in enumerate(class_names)} | {str(n): i for i, n in enumerate(class_names)}
    channels, height, width = shape
    mode = "L" if channels == 1 else "RGB"
    images, labels = [], []
    for sub in sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")):
        if sub.name not in index:
            raise DgrError(f"{sub} is not a class of the dataset ({', '.join(map(str, class_names))}); "
                           "pass the --dataset the images were distilled from")
        for file in sorted(f for f in sub.iterdir() if f.is_file() and not f.name.startswith(".")):
            with reading(file, "remove it (in a run folder, with its class folder: `dgr distill --resume` "
                               "makes the class again)"), Image.open(file) as im:
                picture = im.convert(mode)
            if picture.size != (width, height):
                picture = picture.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(picture, dtype=np.float32) / 255.0
            images.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
            labels.append(index[sub.name])
    if not images:
        raise DgrError(f"{folder} holds no images in class sub-folders; pass a run folder (with images/) "
                       "or an ImageFolder")
    return ImageSet(images=np.stack(images), labels=np.asarray(labels, dtype=np.int64))


def random_real(train: Data, ipc: int, seed: int, *, pixels: bool = False) -> ImageSet:
    """``ipc`` random training images of every class (``pixels``: see :func:`take_rows`)."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(train.labels == c), size=min(ipc, n), replace=False)
                          for c, n in enumerate(train.counts())])
    return take_rows(train, idx, pixels)


def take_rows(train: Data, rows: np.ndarray, pixels: bool = False) -> ImageSet:
    """The training images of ``rows``, in that order; with ``pixels``, read :data:`TAKE_CHUNK` rows at a
    time and held as 8-bit pixels where they are 8-bit (:meth:`ImageSet.compact`), so a large set never
    exists as float32 (10 000 images of 64 px: 491 MB as float32, 123 MB as pixels)."""
    labels = train.labels[rows]
    if not pixels:
        return ImageSet(images=train.images[rows], labels=labels)
    from dgr.datasets import compact_pixels

    parts = [compact_pixels(np.asarray(train.images[rows[i:i + TAKE_CHUNK]], dtype=np.float32))
             for i in range(0, len(rows), TAKE_CHUNK)]
    if any(p.dtype != np.uint8 for p in parts):  # not 8-bit throughout: float32, as without pixels
        parts = [unit_pixels(p) for p in parts]
    return ImageSet(images=np.concatenate(parts) if parts else train.images[rows], labels=labels)


TAKE_CHUNK = 1024


def kmeans_real(train: Data, ipc: int, seed: int, *, pixels: bool = False) -> ImageSet:
    """Per class, the distinct real images nearest to ``ipc`` k-means centroids (pixel space;
    ``pixels``: see :func:`take_rows`). The k-means runs in a child process
    (:mod:`dgr.evaluation.kmeans_worker`), a class at a time, so scikit-learn never loads here."""
    from dgr.evaluation.kmeans_worker import KMeansWorker

    picks = []
    with KMeansWorker() as worker:
        for c in range(len(train.class_names)):
            members = np.flatnonzero(train.labels == c)
            x = train.images[members].reshape(len(members), -1)
            picks.append(members[worker.picks(x, min(ipc, len(members)), seed)])
    return take_rows(train, np.concatenate(picks), pixels)


def polish_image_set(images: ImageSet, train: Any, dataset: str, steps: int, seed: int) -> ImageSet:
    """``images`` through the pipeline's polish, class by class with a run's per-class seeds (``seed``:
    the run's), rounded to 8 bits as a run's PNGs hold them."""
    import torch

    from dgr.polishing import PolishSettings, polish_class
    from dgr.seeds import polish_seed

    settings = PolishSettings.for_dataset(dataset, steps)
    out = np.array(images.unit_images(), dtype=np.float32, copy=True)
    for c in range(len(train.class_names)):
        rows = np.flatnonzero(images.labels == c)
        real = torch.from_numpy(np.ascontiguousarray(train.of_class(c), dtype=np.float32))
        out[rows] = polish_class(torch.from_numpy(out[rows]), real, settings, polish_seed(seed, c)).numpy()
    return ImageSet(images=np.round(out * 255) / 255, labels=images.labels)


def full_cache_file(key: dict[str, Any], name: str = "full") -> Path:
    """Where the ``name`` baseline (``full``, or another with ``cache=True``) for these settings is
    cached (one JSON file per setting)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root() / "evaluate" / f"{name}-{key.get('dataset', 'data')}-{digest}.json"
