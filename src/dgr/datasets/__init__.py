"""Labelled image datasets: registered descriptions, and the readers they share.

A dataset is a :class:`DatasetDescription` a plugin registers through ``dgr_register_datasets``
(``dgr list datasets``; the built-ins live in ``dgr_plugins.datasets``), or a plain ImageFolder
given by path. A split loads as :class:`LabelledImages` (``[N, C, H, W]`` float32 in [0, 1] and
labels) or, when large, as an :class:`ImageFolderIndex` with the same face that reads on demand.

Modules: :mod:`~dgr.datasets.description` (what a dataset is), :mod:`~dgr.datasets.loading`
(name → split), :mod:`~dgr.datasets.arrays` (in-memory splits and the shared resize),
:mod:`~dgr.datasets.pictures` (one file → 8-bit pixels), :mod:`~dgr.datasets.folders` (file
listings read into memory or streamed), :mod:`~dgr.datasets.cache` (where downloads go).
"""
from dgr.datasets.arrays import LabelledImages, compact_pixels, resize_and_crop, resize_array, unit_pixels
from dgr.datasets.cache import cache_root, download_cache
from dgr.datasets.description import SPLITS, DataRequest, DatasetDescription
from dgr.datasets.folders import (FileListing, ImageFolderIndex, class_folders, image_folder_listing,
                                  load_image_folder, read_listing)
from dgr.datasets.loading import (check_image_size, describe, flips_allowed, known_description, load_dataset,
                                  loading_size)
from dgr.datasets.pictures import read_picture

__all__ = [
    "SPLITS", "DataRequest", "DatasetDescription", "FileListing", "ImageFolderIndex", "LabelledImages",
    "cache_root", "check_image_size", "class_folders", "compact_pixels", "describe", "download_cache", "flips_allowed",
    "image_folder_listing", "known_description",
    "load_dataset", "load_image_folder", "loading_size", "read_listing", "read_picture", "resize_and_crop",
    "resize_array", "unit_pixels",
]
