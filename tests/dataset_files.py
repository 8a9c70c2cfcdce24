"""Small datasets written in the real on-disk formats their users have: CIFAR's python pickles
(the release's keys and dtypes), ImageNet wnid trees, Tiny-ImageNet's release layout, a Hugging
Face ``save_to_disk`` folder and its parquet files. Pixels are class-coloured noise."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# wnids with known ImageNet-1K indices and names (the first, second and last class; parachute; a Shih-Tzu)
WNIDS = ("n01440764", "n01443537", "n03888257", "n15075141")
WNID_INDICES = (0, 1, 701, 999)


def class_pixels(label: int, count: int, size: int, seed: int) -> np.ndarray:
    """``[count, size, size, 3]`` uint8: a colour per class plus noise."""
    rng = np.random.default_rng(seed)
    base = np.array([(37 * label) % 256, (91 * label + 60) % 256, (151 * label + 120) % 256], dtype=np.int64)
    noise = rng.integers(-40, 40, size=(count, size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _pickle(path: Path, obj: dict) -> None:
    with path.open("wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def _cifar_rows(classes: int, per_class: int, seed: int) -> tuple[np.ndarray, list[int]]:
    labels = [c for c in range(classes) for _ in range(per_class)]
    images = np.concatenate([class_pixels(c, per_class, 32, seed + c) for c in range(classes)])
    return images.transpose(0, 3, 1, 2).reshape(len(labels), 3072), labels  # the release's row layout


def write_cifar10(root: Path, per_class: int = 5, test_per_class: int = 2) -> Path:
    """``root/cifar-10-batches-py/``: data_batch_1..5, test_batch, batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data, labels = _cifar_rows(10, per_class, 0)
    order = np.random.default_rng(0).permutation(len(labels))
    for b, part in enumerate(np.array_split(order, 5), 1):
        _pickle(folder / f"data_batch_{b}", {"batch_label": f"training batch {b} of 5", "labels": [labels[i] for i in part],
                                              "data": data[part], "filenames": [f"img_{i}.png" for i in part]})
    test, test_labels = _cifar_rows(10, test_per_class, 100)
    _pickle(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": test_labels, "data": test,
                                    "filenames": [f"test_{i}.png" for i in range(len(test_labels))]})
    _pickle(folder / "batches.meta", {"num_cases_per_batch": 10000, "label_names": list(CIFAR10_NAMES),
                                      "num_vis": 3072})
    return folder


def write_cifar100(root: Path, classes: int = 100, per_class: int = 1) -> Path:
    """``root/cifar-100-python/``: train, test, meta (fine and coarse labels)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    fine = [f"class_{i:03d}" for i in range(classes)]
    for split, seed in (("train", 0), ("test", 100)):
        data, labels = _cifar_rows(classes, per_class, seed)
        _pickle(folder / split, {"filenames": [f"{split}_{i}.png" for i in range(len(labels))], "batch_label": split,
                                 "fine_labels": labels, "coarse_labels": [c // 5 for c in labels], "data": data})
    _pickle(folder / "meta", {"fine_label_names": fine, "coarse_label_names": [f"super_{i}" for i in range(20)]})
    return folder


def write_jpegs(folder: Path, label: int, count: int, size: int, seed: int, prefix: str = "img") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, pixels in enumerate(class_pixels(label, count, size, seed)):
        name = f"{prefix}_{i}.JPEG"
        Image.fromarray(pixels).save(folder / name, quality=95)
        names.append(name)
    return names


def write_imagenet(root: Path, wnids: Sequence[str] = WNIDS, per_class: int = 4, size: int = 16) -> Path:
    """``root/train/<wnid>/*.JPEG`` and ``root/val/<wnid>/*.JPEG``."""
    for c, wnid in enumerate(wnids):
        write_jpegs(root / "train" / wnid, c, per_class, size, c)
        write_jpegs(root / "val" / wnid, c, 2, size, 100 + c)
    return root


def write_tiny_imagenet(root: Path, wnids: Sequence[str] = WNIDS[:3], per_class: int = 4, size: int = 16) -> Path:
    """Tiny-ImageNet's release layout: wnids.txt, words.txt, train/<wnid>/images, val/images +
    val/val_annotations.txt (tab-separated: file, wnid, box)."""
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("".join(f"{w}\n" for w in reversed(wnids)))  # the release's order is not sorted
    (root / "words.txt").write_text("".join(f"{w}\tsome words\n" for w in wnids))
    lines = []
    for c, wnid in enumerate(wnids):
        names = write_jpegs(root / "train" / wnid / "images", c, per_class, size, c, prefix=wnid)
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(f"{n}\t0\t0\t8\t8\n" for n in names))
        for name in write_jpegs(root / "val" / "images", c, 2, size, 100 + c, prefix=f"val_{c}"):
            lines.append(f"{name}\t{wnid}\t0\t0\t8\t8\n")
    (root / "val" / "val_annotations.txt").write_text("".join(lines))
    (root / "test" / "images").mkdir(parents=True)  # the release's unlabelled test split
    return root


def hf_dataset(classes: Sequence[str] = ("cat", "dog", "fish"), per_class: int = 4, size: int = 16, seed: int = 0,
               image_column: str = "img"):
    """A ``datasets.Dataset`` with an Image column and a ClassLabel column."""
    import datasets

    pictures, labels = [], []
    for c in range(len(classes)):
        pictures += [Image.fromarray(p) for p in class_pixels(c, per_class, size, seed + c)]
        labels += [c] * per_class
    features = datasets.Features({image_column: datasets.Image(), "label": datasets.ClassLabel(names=list(classes))})
    return datasets.Dataset.from_dict({image_column: pictures, "label": labels}, features=features)


def write_hf(root: Path, image_column: str = "img") -> Path:
    """``DatasetDict({"train", "test"}).save_to_disk(root)``."""
    import datasets

    datasets.DatasetDict({"train": hf_dataset(image_column=image_column),
                          "test": hf_dataset(per_class=2, seed=100, image_column=image_column)}).save_to_disk(str(root))
    return root
