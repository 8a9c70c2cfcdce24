"""Models that ship inside the package (trained by ``dgr train``, see README); a dataset's
description says which of them are its own (``DatasetDescription.models``)."""
from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "assets"


def embedded_model(kind: str, dataset: str) -> Path | None:
    """The shipped ``generator``, ``detector`` or ``clip`` folder of a registered dataset, if it has one."""
    from dgr.datasets import known_description

    description = known_description(dataset)
    return description.model(kind) if description is not None else None
