"""The ``--dataset``/``--data-dir``/``-o dataset.KEY=VALUE`` options the training commands share."""
from __future__ import annotations

from typing import Any, Callable

import click

from dgr.config import DEFAULTS

DATASET_HELP = ("A registered dataset (dgr list datasets: digits, fashion-mnist, cifar10, cifar100, imagenet, "
                "tiny-imagenet, hf, or a plugin's) or a path to an ImageFolder; docs/datasets.md.")
DATA_DIR_HELP = "Folder with the dataset's files (the layout `dgr list datasets` names for it)."


def dataset_choice(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--dataset``, ``--data-dir`` and ``-o dataset.KEY=VALUE`` (arriving as ``dataset_options``)."""
    func = click.option("-o", "dataset_options", multiple=True, metavar="dataset.KEY=VALUE",
                        help="A dataset option, e.g. -o dataset.image_column=img (--dataset hf).")(func)
    func = click.option("--data-dir", default=None, help=DATA_DIR_HELP)(func)
    return click.option("--dataset", default=DEFAULTS.dataset, show_default=True, help=DATASET_HELP)(func)


def parsed_dataset_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """``-o`` pairs of a training command: each must be a dataset option (``dataset.`` may be left out)."""
    from dgr.options import DATASET_PREFIX, parse_pairs

    return {k[len(DATASET_PREFIX):] if k.startswith(DATASET_PREFIX) else k: v for k, v in parse_pairs(pairs).items()}
