"""Models that ship inside the package, trained by ``dgr train`` (see README)."""
from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "assets"


def embedded_model(kind: str, dataset: str) -> Path | None:
    """The shipped ``generator`` or ``detector`` folder for a dataset, if there is one."""
    folder = ASSETS_DIR / f"{dataset}-{kind}"
    return folder if folder.is_dir() else None
