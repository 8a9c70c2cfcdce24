"""The ``--dataset``/``--data-dir``/``-o dataset.KEY=VALUE`` options the training commands share."""
from __future__ import annotations

from typing import Any, Callable

import click

from dgr.config import DATA_DIR_HELP, DATASET_HELP, DEFAULTS


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
