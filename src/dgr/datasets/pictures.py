"""One image file → an 8-bit PIL image in mode ``L`` or ``RGB`` → a ``[C, H, W]`` array.

Every PIL mode is brought to 8 bits by its meaning, not by clipping: 16-bit greys (``I;16*``, and
``I`` holding 16-bit values, as PNG readers give them) are scaled 0–65535 → 0–255; bilevel,
grey-with-alpha, palette, CMYK, YCbCr, LAB and HSV images go through PIL's own conversions (alpha
is dropped, as torchvision's readers drop it). Floating-point images and 32-bit integers beyond
16 bits have no agreed range: they are skipped with a warning that says so.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = ("L", "1", "LA", "I;16", "I;16L", "I;16B", "I;16N", "I")
"""Modes read as one grey channel."""
SIXTEEN_BIT = 65535


class UnsupportedPicture(ValueError):
    """An image whose pixel values have no agreed 8-bit meaning (float, 32-bit integer)."""


def eight_bit(picture: "Image.Image") -> "Image.Image":
    """``picture`` as mode ``L`` (grey modes) or ``RGB`` (every other), values scaled, not clipped."""
    from PIL import Image

    mode = picture.mode
    if mode.startswith("I"):
        values = np.asarray(picture).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > SIXTEEN_BIT):
            raise UnsupportedPicture(f"{mode} values {values.min()}..{values.max()} exceed 16 bits")
        return Image.fromarray(((values * 255 + SIXTEEN_BIT // 2) // SIXTEEN_BIT).astype(np.uint8), "L")
    if mode == "F":
        raise UnsupportedPicture("32-bit floating-point pixels have no agreed range")
    return picture.convert("L" if mode in GREY_MODES else "RGB")


def read_picture(file: str | Path) -> "Image.Image | None":
    """One image file as an 8-bit PIL image in mode L or RGB, or None (with a warning) when unreadable
    or of a kind with no 8-bit meaning."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im.load()
            return eight_bit(im)
    except UnsupportedPicture as exc:
        warnings.warn(f"skipping {file}: {exc}; save it as an 8- or 16-bit PNG", stacklevel=3)
        return None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        warnings.warn(f"skipping {file}: not a readable image ({type(exc).__name__})", stacklevel=3)
        return None


def picture_array(picture: "Image.Image", size: int | None, mode: str, first: tuple[int, int]) -> np.ndarray:
    """A picture as ``[C, H, W]`` float32 in [0, 1], exactly as the in-memory folder reader stacks it."""
    from dgr.datasets.arrays import resize_and_crop

    if size:
        picture = resize_and_crop(picture, size)
    picture = picture.convert(mode)
    if picture.size != first:
        picture = picture.resize(first)
    array = np.asarray(picture, dtype=np.float32) / np.float32(255.0)
    planes: np.ndarray = array[None] if mode == "L" else array.transpose(2, 0, 1)
    return planes
