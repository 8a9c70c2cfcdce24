"""``csv-images``: image files listed in ``DIR/train.csv`` and ``DIR/test.csv`` (``file,label``)."""
from __future__ import annotations

import csv
from pathlib import Path

import dgr


def _rows(root: Path, split: str) -> list[tuple[str, str]]:
    table = root / f"{split}.csv"
    if not table.is_file():
        raise dgr.DgrError(f"csv-images: no {table.name} in {root}; write one with the columns file,label")
    with table.open(newline="") as fh:
        return [(row["file"], row["label"]) for row in csv.DictReader(fh)]


def read_csv_images(request: dgr.DataRequest) -> "dgr.LabelledImages | dgr.ImageFolderIndex":
    if request.data_dir is None:
        raise dgr.DgrError("csv-images needs --data-dir DIR holding train.csv and test.csv")
    root = Path(request.data_dir)
    rows = _rows(root, request.split)
    classes = tuple(sorted({label for _, label in _rows(root, "train")}))  # both splits: the training classes
    files = tuple(tuple(sorted(f for f, label in rows if label == c)) for c in classes)
    listing = dgr.FileListing(name="csv-images", class_names=classes, dirs=tuple(str(root) for _ in classes),
                              files=files)
    return dgr.read_listing(listing, request.image_size)


CSV_IMAGES = dgr.DatasetDescription(
    name="csv-images", read=read_csv_images, summary="image files listed in train.csv / test.csv (file,label)",
    layout="DIR/train.csv and DIR/test.csv with the columns file,label (file relative to DIR)")


@dgr.hookimpl
def dgr_register_datasets(register):
    register("csv-images", CSV_IMAGES)
