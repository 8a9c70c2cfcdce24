"""The network: dgr never downloads unless asked (``DGR_DOWNLOAD=1``).

Weights and datasets are read from folders and local caches. Without the opt-in, every
loader runs inside :func:`offline_unless_opted_in`, which switches the Hugging Face hub
client (diffusers, transformers, open_clip) and dgr's own downloaders to offline mode, so a
missing file fails at once with one line instead of a retry loop against an unreachable hub.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

DOWNLOAD_ENV = "DGR_DOWNLOAD"
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def downloads_allowed() -> bool:
    """True when the user opted in to downloads with ``DGR_DOWNLOAD=1``."""
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")




@contextlib.contextmanager
def offline_unless_opted_in() -> Iterator[None]:
    """Inside: no hub or torchvision download is attempted unless ``DGR_DOWNLOAD=1``.

    Sets ``HF_HUB_OFFLINE=1`` (read by open_clip, transformers and dgr's checks) and, if the
    hub client is already imported, its cached flag; both are restored on the way out.
    """
    if downloads_allowed():
        yield
        return
    saved = {name: os.environ.get(name) for name in OFFLINE_ENV}
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is None:
        try:
            import huggingface_hub.constants as hub  # light: no torch
        except ImportError:  # pragma: no cover - a dependency of diffusers
            hub = None
    hub_flag = getattr(hub, "HF_HUB_OFFLINE", None)
    for name in OFFLINE_ENV:
        os.environ[name] = "1"
    if hub is not None:
        setattr(hub, "HF_HUB_OFFLINE", True)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if hub is not None:
            setattr(hub, "HF_HUB_OFFLINE", hub_flag)
