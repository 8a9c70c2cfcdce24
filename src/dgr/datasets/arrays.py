"""A split held in memory: images ``[N, C, H, W]`` float32 in [0, 1] and labels, and the resize
every reader shares (torchvision's ``Resize(N)`` then ``CenterCrop(N)``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from dgr.components import DatasetInfo

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from dgr.datasets.description import DatasetDescription


COMPACT_CHUNK = 1024  # images checked at a time by compact_pixels (bounds its temporary arrays)


def compact_pixels(images: np.ndarray) -> np.ndarray:
    """``images`` (float32 in [0, 1]) as 8-bit pixels (uint8, a quarter of the memory) when every value
    is one of the 256 floats ``k / 255`` that 8-bit files are read as, so ``pixels / 255`` gives back
    the same floats exactly; else ``images`` unchanged (digits' 17 grey levels, resized images)."""
    if images.dtype == np.uint8 or images.dtype != np.float32:
        return images
    pixels = np.empty(images.shape, np.uint8)
    for start in range(0, len(images), COMPACT_CHUNK):
        chunk = images[start:start + COMPACT_CHUNK]
        levels = np.rint(chunk * 255.0)
        if not np.array_equal(levels / 255.0, chunk):
            return images
        pixels[start:start + COMPACT_CHUNK] = levels
    return pixels


def unit_pixels(images: np.ndarray) -> np.ndarray:
    """The inverse of :func:`compact_pixels`: 8-bit pixels as the float32 in [0, 1] they were read as;
    float images unchanged."""
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images


def resized_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision's ``Resize(size)``: the short side becomes ``size``, the long one keeps the ratio."""
    if width <= height:
        return size, max(size, int(size * height / width))
    return max(size, int(size * width / height)), size


def resize_and_crop(picture: "Image.Image", size: int) -> "Image.Image":
    """A PIL image → ``size``×``size``: short side to ``size`` (antialiased bilinear), centre crop."""
    from PIL import Image

    width, height = picture.size
    if (width, height) != (size, size):
        new_w, new_h = resized_shape(width, height, size)
        if (new_w, new_h) != (width, height):
            picture = picture.resize((new_w, new_h), Image.Resampling.BILINEAR)  # PIL antialiases when it shrinks
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


def dataset_info(name: str, class_names: tuple[str, ...], channels: int, height: int, width: int,
                 description: "DatasetDescription | None") -> DatasetInfo:
    """The :class:`DatasetInfo` of a split, with the words and label ids its description gives."""
    if description is None:
        return DatasetInfo(name=name, class_names=class_names, channels=channels, height=height, width=width)
    words = description.words(class_names)
    return DatasetInfo(name=name, class_names=class_names, channels=channels, height=height, width=width,
                       class_words=words if words != class_names else (),
                       label_space=description.label_space, label_ids=description.ids(class_names))


@attrs.frozen(eq=False)
class LabelledImages:
    """Images ``[N, C, H, W]`` float32 in [0, 1] and integer labels ``[N]``; ``description`` is the
    registered dataset they came from (None for a plain ImageFolder)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    skipped: int = 0
    description: "DatasetDescription | None" = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def info(self) -> DatasetInfo:
        """The dataset's description as the components see it: name, classes and image shape."""
        _, c, h, w = self.images.shape
        return dataset_info(self.name, self.class_names, c, h, w, self.description)

    def of_class(self, class_index: int) -> np.ndarray:
        """The images of class ``class_index``."""
        return np.asarray(self.images[self.labels == class_index])

    def counts(self) -> np.ndarray:
        """The number of images of each class."""
        return np.bincount(self.labels, minlength=len(self.class_names))
