"""Where dgr keeps what it computes or downloads outside a run folder."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """dgr's cache: ``$DGR_CACHE_DIR`` or ``~/.cache/dgr``."""
    return Path(os.environ.get("DGR_CACHE_DIR") or Path.home() / ".cache" / "dgr")


def download_cache() -> Path:
    """Where opt-in downloads go: ``<cache root>/datasets``."""
    return cache_root() / "datasets"
