"""Reading a file the user handed dgr (weights, a model's config.json, a checkpoint): one that is
truncated, garbage or of another format is one line naming it, never a traceback from the
deserialiser (safetensors, json, torch's unpickler each fail differently)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from dgr.errors import DgrError


class DamagedFileError(DgrError):
    """A file that exists but cannot be read as what it should be."""


@contextlib.contextmanager
def reading(path: str | Path, fix: str) -> Iterator[None]:
    """Wrap exactly one deserialising call: any failure inside is the file's, said in one line
    that ends with ``fix``. Keep the block small so that a bug elsewhere still shows its traceback."""
    try:
        yield
    except DgrError:
        raise
    except Exception as exc:  # noqa: BLE001 - each deserialiser raises its own types for a damaged file
        lines = str(exc).strip().splitlines()
        detail = f": {lines[0]}" if lines and len(lines[0]) <= 100 else ""  # torch's are paragraphs
        raise DamagedFileError(f"{path} cannot be read ({type(exc).__name__}{detail}); the file is truncated "
                               f"or not what it should be: {fix}") from None
