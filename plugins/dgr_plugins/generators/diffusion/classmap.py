"""Dataset class names → a pretrained model's classes (pure Python, no torch).

Used by ``dit`` (dataset class → model class id) and ``sd`` (dataset class → prompt text).
Sources, in order: ``-o class_map=FILE.json``, a dgr-trained model's ``dgr_model.json``, the
ids the dataset gives in the model's label space (``--dataset imagenet``: every wnid's ImageNet
index), the model's ``id2label`` (ImageNet names and their comma-separated synonyms, as
DiTPipeline saves them in ``model_index.json``), and identity where the model has exactly as
many classes as the dataset.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

from dgr.components import DatasetInfo
from dgr.errors import DgrError

IMAGENET_CLASSES = 1000
IMAGENET_SPACE = "imagenet-1k"
"""The label space of DiT's ImageNet models, as a dataset description names it."""


def normalise(name: str) -> str:
    """Case, underscores, hyphens and spacing do not matter: "French_horn" == "french horn"."""
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def read_class_map(path: str | None) -> dict[str, object]:
    """The ``class_map`` file: a JSON object {dataset class: model class id or label}."""
    if not path:
        return {}
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise DgrError(f"class_map file {file} does not exist; pass -o class_map=FILE.json") from None
    except (OSError, ValueError) as exc:
        raise DgrError(f"class_map file {file} is not readable JSON ({exc}); write an object "
                       '{"dataset class": model id or name}') from None
    if not isinstance(data, dict):
        raise DgrError(f"class_map file {file} must hold a JSON object {{\"dataset class\": model id or name}}")
    return {str(k): v for k, v in data.items()}


def read_id2label(folder: Path) -> dict[int, str]:
    """``id2label`` from a pipeline folder's model_index.json (or a transformer config), or {}."""
    for path in (folder / "model_index.json", folder / "transformer" / "config.json"):
        if path.exists():
            try:
                raw = json.loads(path.read_text()).get("id2label")
            except (OSError, ValueError):
                continue
            if isinstance(raw, dict) and raw:
                return {int(k): str(v) for k, v in raw.items()}
    return {}


def label_index(id2label: Mapping[int, str]) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """(primary name → ids, any synonym → ids), both by normalised name."""
    primary: dict[str, set[int]] = {}
    synonyms: dict[str, set[int]] = {}
    for key, value in id2label.items():
        parts = [normalise(p) for p in value.split(",") if p.strip()]
        if parts:
            primary.setdefault(parts[0], set()).add(int(key))
        for p in parts:
            synonyms.setdefault(p, set()).add(int(key))
    return primary, synonyms


def _lookup(name: str, primary: Mapping[str, set[int]], synonyms: Mapping[str, set[int]]) -> tuple[int | None, str]:
    """The id a name denotes, or (None, why)."""
    key = normalise(name)
    for table in (primary, synonyms):
        ids = table.get(key, set())
        if len(ids) == 1:
            return next(iter(ids)), ""
        if len(ids) > 1:
            return None, f"ambiguous: ids {', '.join(map(str, sorted(ids)))}"
    return None, "no such label"


def map_to_ids(class_names: Sequence[str], num_model_classes: int, *, id2label: Mapping[int, str] | None = None,
               trained_names: Sequence[str] | None = None, class_map: Mapping[str, object] | None = None,
               known_ids: Sequence[int] = (), model: str = "the model") -> list[int]:
    """Dataset class index → model class id; every unmapped class is named in one DgrError.
    ``known_ids``: the dataset's own ids of its classes in the model's label space (or empty)."""
    class_map = dict(class_map or {})
    id2label = dict(id2label or {})
    primary, synonyms = label_index(id2label)
    result: list[int | None] = []
    unmapped: list[str] = []
    for index, name in enumerate(class_names):
        target: int | None = None
        why = ""
        if name in class_map:
            value = class_map[name]
            if isinstance(value, int) and not isinstance(value, bool):
                target = value
            elif isinstance(value, str) and value.strip().isdigit():
                target = int(value)
            elif isinstance(value, str):
                target, why = _lookup(value, primary, synonyms)
                why = f"class_map value {value!r}: {why}" if target is None else ""
            else:
                why = f"class_map value {value!r} is neither an id nor a label"
        elif trained_names is not None:
            if name in trained_names:
                target = list(trained_names).index(name)
        elif known_ids:
            target = int(known_ids[index])
        elif id2label:
            target, why = _lookup(name, primary, synonyms)
        if target is not None and not 0 <= target < num_model_classes:
            why, target = f"id {target} outside 0..{num_model_classes - 1}", None
        result.append(target)
        if target is None:
            unmapped.append(f"{name} ({why})" if why else name)

    if unmapped and trained_names is not None and not class_map:
        raise DgrError(f"{model} was trained on classes {', '.join(trained_names)}, not "
                       f"{', '.join(n for n, t in zip(class_names, result) if t is None)}; "
                       "train one on this dataset with `dgr train generator` or pass -o class_map=FILE.json")
    if unmapped and not class_map and num_model_classes == len(class_names) and \
            all(t is None for t in result):
        return list(range(len(class_names)))  # the model has exactly the dataset's classes: by index
    if unmapped:
        raise DgrError(f"cannot map {len(unmapped)} dataset class(es) to the {num_model_classes} classes of "
                       f"{model}: {'; '.join(unmapped)}; pass -o class_map=FILE.json "
                       '({"dataset class": model id or label})')
    return [int(t) for t in result]  # type: ignore[arg-type]


def prompt_names(dataset: DatasetInfo, class_map: Mapping[str, object] | None = None) -> list[str]:
    """Dataset class → the words a text-conditioned model is prompted with: the ``class_map`` value
    where it names one, else the class as people say it (``DatasetInfo.words``: an ImageNet wnid →
    "tench"), underscores read as spaces ("golden_retriever" → "golden retriever")."""
    class_map = dict(class_map or {})
    return [str(class_map[name]) if name in class_map else re.sub(r"[_\s]+", " ", word).strip()
            for name, word in zip(dataset.class_names, dataset.words)]
