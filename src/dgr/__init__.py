"""dgr: diffusion-based dataset distillation with detector-guided refinement.

Importing ``dgr`` is light: torch, diffusers, open_clip and faiss load only inside
the functions that need them.
"""
from __future__ import annotations

from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("dgr")
"""Marker for plugin hook implementations: ``@dgr.hookimpl``."""


def distill(**kwargs: Any) -> Any:
    """Distil a dataset; see :func:`dgr.api.distill` for the arguments."""
    from dgr.api import distill as _distill

    return _distill(**kwargs)


__all__ = ["__version__", "distill", "hookimpl"]
