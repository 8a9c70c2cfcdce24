"""A Hugging Face dataset on disk: a ``save_to_disk`` folder (a ``DatasetDict`` with ``train`` and
``test``/``validation``, or one ``Dataset`` that serves both splits), or a folder of its parquet or
arrow files named by split (``train-00000-of-00001.parquet``, the hub's ``data/`` layout).
Read by the ``datasets`` library (``pip install 'dgr[hf]'``), images decoded to 8 bits as every
dgr reader does, class names from the label column's ``ClassLabel``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from dgr.datasets import DataRequest, LabelledImages
from dgr.datasets.folders import stack_pictures
from dgr.datasets.pictures import UnsupportedPicture, eight_bit
from dgr.errors import DgrError

IMAGE_COLUMNS = ("img", "image")
LABEL_COLUMNS = ("label", "labels")
SPLIT_NAMES = {"train": ("train",), "test": ("test", "validation", "valid", "val")}
FILE_SUFFIXES = {".parquet": "parquet", ".arrow": "arrow"}


@attrs.frozen
class HfOptions:
    """``-o dataset.image_column=…`` / ``-o dataset.label_column=…``."""

    image_column: str | None = None  # default: img, else image
    label_column: str | None = None  # default: label, else labels


def _splits_on_disk(root: Path) -> dict[str, Any]:
    """Split name → ``datasets.Dataset`` (``""`` for a lone Dataset that serves every split)."""
    import datasets

    from dgr.network import offline_unless_opted_in

    with offline_unless_opted_in():
        if (root / "dataset_dict.json").is_file() or (root / "state.json").is_file():
            try:
                loaded = datasets.load_from_disk(str(root))
            except (OSError, ValueError, KeyError, FileNotFoundError) as exc:
                raise DgrError(f"hf: {root} is not a readable save_to_disk folder ({type(exc).__name__}: "
                               f"{str(exc)[:80]})") from None
            return {"": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)
        files = sorted(p for p in root.rglob("*") if p.suffix in FILE_SUFFIXES and p.is_file())
        if not files:
            raise DgrError(f"hf: {root} holds neither a save_to_disk dataset (dataset_dict.json, state.json) nor "
                           ".parquet/.arrow files; save one with dataset.save_to_disk(DIR)")
        by_split: dict[str, list[str]] = {}
        for f in files:
            split = f.name.split("-")[0].split(".")[0].split("_")[0]
            by_split.setdefault(split, []).append(str(f))
        builder = FILE_SUFFIXES[files[0].suffix]
        try:
            return dict(datasets.load_dataset(builder, data_files=by_split))
        except (OSError, ValueError) as exc:
            raise DgrError(f"hf: the {builder} files in {root} are not readable ({type(exc).__name__}: "
                           f"{str(exc)[:80]})") from None


def _split(splits: dict[str, Any], split: str, root: Path) -> Any:
    if "" in splits:
        return splits[""]
    for name in SPLIT_NAMES[split]:
        if name in splits:
            return splits[name]
    raise DgrError(f"hf: {root} has no {split} split (splits: {', '.join(sorted(splits)) or 'none'}; looked for "
                   f"{', '.join(SPLIT_NAMES[split])})")


def _column(table: Any, asked: str | None, defaults: tuple[str, ...], what: str, root: Path) -> str:
    columns = list(table.column_names)
    if asked is not None:
        if asked not in columns:
            raise DgrError(f"hf: {root} has no column {asked!r} (columns: {', '.join(columns)}); "
                           f"pass -o dataset.{what}_column=NAME")
        return asked
    for name in defaults:
        if name in columns:
            return name
    raise DgrError(f"hf: {root} has none of the {what} columns {', '.join(defaults)} (columns: {', '.join(columns)}); "
                   f"pass -o dataset.{what}_column=NAME")


def read_hf(request: DataRequest) -> LabelledImages:
    """A split of a Hugging Face dataset that save_to_disk (or its parquet/arrow files) left in --data-dir."""
    import datasets

    if request.data_dir is None:
        raise DgrError("hf needs --data-dir DIR holding a dataset saved with save_to_disk (or its parquet files)")
    root = Path(request.data_dir).expanduser()
    if not root.is_dir():
        raise DgrError(f"hf: --data-dir {root} does not exist; pass the folder save_to_disk wrote")
    options = request.options or HfOptions()
    table = _split(_splits_on_disk(root), request.split, root)
    image_column = _column(table, options.image_column, IMAGE_COLUMNS, "image", root)
    label_column = _column(table, options.label_column, LABEL_COLUMNS, "label", root)
    feature = table.features[label_column]
    if not isinstance(feature, datasets.ClassLabel):
        raise DgrError(f"hf: column {label_column!r} of {root} is {type(feature).__name__}, not a ClassLabel, so "
                       f"its class names are unknown; save it after dataset.class_encode_column({label_column!r})")
    if not isinstance(table.features[image_column], datasets.Image):
        raise DgrError(f"hf: column {image_column!r} of {root} holds {type(table.features[image_column]).__name__}, "
                       "not images; pass -o dataset.image_column=NAME")

    def pictures() -> Any:
        for row in table.select_columns([image_column, label_column]):
            try:
                picture = eight_bit(row[image_column])
            except UnsupportedPicture as exc:
                raise DgrError(f"hf: an image of {root} cannot be read as 8 bits ({exc})") from None
            yield picture, int(row[label_column])

    return stack_pictures("hf", pictures(), tuple(str(n) for n in feature.names), request.image_size)
