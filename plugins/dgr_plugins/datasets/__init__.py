"""dgr's built-in datasets: ``digits``, ``fashion-mnist``, ``cifar10``, ``cifar100``, ``imagenet``
(and any subset of its wnids), ``tiny-imagenet`` and ``hf`` (a Hugging Face dataset on disk).
Each is a :class:`dgr.DatasetDescription`; the readers import their libraries (scikit-learn,
torchvision, timm, datasets) only when a split is read. docs/datasets.md shows every layout."""
from __future__ import annotations

from pathlib import Path

import dgr
from dgr.assets import ASSETS_DIR
from dgr.datasets import DatasetDescription
from dgr_plugins.datasets import imagenet
from dgr_plugins.datasets.cifar import read_cifar10, read_cifar100
from dgr_plugins.datasets.digits import TEMPLATES as DIGIT_TEMPLATES
from dgr_plugins.datasets.digits import read_digits
from dgr_plugins.datasets.fashion_mnist import read_fashion_mnist
from dgr_plugins.datasets.huggingface import HfOptions, read_hf
from dgr_plugins.datasets.tiny_imagenet import read_tiny_imagenet

# Per-channel mean/std that the DC/DSA reference code normalises with (utils.get_dataset).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _shipped(dataset: str, *kinds: str) -> dict[str, Path]:
    return {kind: ASSETS_DIR / f"{dataset}-{kind}" for kind in kinds}


DATASETS = (
    DatasetDescription(
        name="digits", read=read_digits, channels=1, native_size=8, flips=False, prompt_templates=DIGIT_TEMPLATES,
        models=_shipped("digits", "generator", "detector", "clip"),
        recipes={1: "polish", 10: "medoids-polish", 50: "medoids-low"},  # measured: `dgr recipes`
        summary="scikit-learn's bundled 8×8 digits, 10 classes, fixed 80/20 split (no --data-dir)",
        layout="bundled with scikit-learn"),
    DatasetDescription(
        name="fashion-mnist", read=read_fashion_mnist, channels=1, native_size=28, mean=(0.2861,), std=(0.3530,),
        models=_shipped("fashion-mnist", "generator", "detector"),
        recipes={1: "polish", 10: "polish", 50: "polish"},
        summary="Fashion-MNIST, 10 classes, 28×28 grey, from its four idx .gz files",
        layout="DIR/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
               "t10k-labels-idx1-ubyte.gz"),
    DatasetDescription(
        name="cifar10", read=read_cifar10, channels=3, native_size=32,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
        summary="CIFAR-10, 10 classes, 32×32 RGB, torchvision's python batches",
        layout="DIR/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} (or DIR is that folder)"),
    DatasetDescription(
        name="cifar100", read=read_cifar100, channels=3, native_size=32,
        mean=(0.5071, 0.4866, 0.4409), std=(0.2673, 0.2564, 0.2762),
        summary="CIFAR-100, 100 fine classes, 32×32 RGB, torchvision's python batches",
        layout="DIR/cifar-100-python/{train, test, meta} (or DIR is that folder)"),
    DatasetDescription(
        name="imagenet", read=imagenet.read_imagenet, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        class_words=imagenet.words, label_space=imagenet.LABEL_SPACE, class_ids=imagenet.indices,
        adopts_folders=imagenet.all_wnids,
        summary="ImageNet-1K or any subset of its wnids (ImageNette, ImageWoof, ImageNet-100)",
        layout="DIR/train/<wnid>/<image> and DIR/val/<wnid>/<image> (or DIR/test/<wnid>/…)"),
    DatasetDescription(
        name="tiny-imagenet", read=read_tiny_imagenet, channels=3, native_size=64, mean=IMAGENET_MEAN,
        std=IMAGENET_STD, class_words=imagenet.words, label_space=imagenet.LABEL_SPACE, class_ids=imagenet.indices,
        summary="Tiny-ImageNet, 200 classes, 64×64 RGB, its release layout (val/ is the test split)",
        layout="DIR/wnids.txt, DIR/train/<wnid>/images/*.JPEG, DIR/val/images/*.JPEG, DIR/val/val_annotations.txt"),
    DatasetDescription(
        name="hf", read=read_hf,
        summary="a Hugging Face dataset saved with save_to_disk (or its parquet/arrow files); needs dgr[hf]",
        layout="DIR from dataset.save_to_disk(DIR) with train and test (or validation) splits"),
)
REQUIRES = {"imagenet": ("timm",), "tiny-imagenet": ("timm",), "hf": ("datasets",)}
CONFIGS = {"hf": HfOptions}


@dgr.hookimpl
def dgr_register_datasets(register: dgr.Register) -> None:
    """Register the built-in datasets (:data:`DATASETS`) with their options and requirements."""
    for description in DATASETS:
        register(description.name, description, config=CONFIGS.get(description.name),
                 requires=REQUIRES.get(description.name, ()))
