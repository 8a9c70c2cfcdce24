"""Where a generator's weights are: a local folder, the embedded model, or the Hugging Face cache.

No network call happens here unless the user opted in with ``DGR_DOWNLOAD=1``: a hub id
resolves from the local cache only (``local_files_only=True``), so missing weights fail at once
with one line instead of a retry loop (a hub lookup without ``HF_HUB_OFFLINE=1`` was seen to
retry for ~46 s). With ``DGR_DOWNLOAD=1`` a hub id missing from the cache is downloaded into it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from dgr.assets import embedded_model
from dgr.errors import MissingWeightsError


def looks_like_path(model: str) -> bool:
    """``./x``, ``/x``, ``~/x``, ``C:\\x`` or more than one slash: meant as a folder, not a hub id."""
    return (model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model
            or (len(model) > 1 and model[1] == ":"))


def hub_snapshot(repo_id: str, what: str = "model") -> Path:
    """A hub id resolved from the local cache only (no network call, no retry loop), or
    downloaded into it when the user opted in with ``DGR_DOWNLOAD=1``."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    from dgr.network import DOWNLOAD_ENV, downloads_allowed

    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
    if downloads_allowed():
        try:
            return Path(snapshot_download(repo_id))
        except Exception as exc:  # noqa: BLE001 - any failure of the download is one line
            raise MissingWeightsError(f"{what} {repo_id!r} could not be downloaded into {cache} "
                                      f"({type(exc).__name__}); pass --model /path/to/folder") from None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        raise MissingWeightsError(
            f"{what} {repo_id!r} is neither a folder nor in the Hugging Face cache ({cache}); "
            f"download it where a network exists (`hf download {repo_id}`) and set HF_HOME to that cache, "
            f"pass --model /path/to/folder, or set {DOWNLOAD_ENV}=1 to let dgr download it") from None


def resolve_model_folder(model: str | None, dataset: str, kind: str = "generator") -> Path:
    """``--model`` as a folder: a local path, a cached hub id, or (when absent) the embedded model."""
    if model is None:
        folder = embedded_model(kind, dataset)
        if folder is None:
            raise MissingWeightsError(
                f"no embedded {kind} for dataset {dataset!r} (only digits ships one); train one with "
                f"`dgr train {kind} --dataset {dataset} --out DIR` and pass "
                f"--{'model' if kind == 'generator' else 'detector-model'} DIR")
        return folder
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder
    if looks_like_path(model):
        raise MissingWeightsError(f"model folder {model} does not exist; pass --model with an existing "
                                  "folder or a hub id in the local cache")
    return hub_snapshot(model)


def require_subfolders(folder: Path, names: Sequence[str], layout: str) -> None:
    """One error naming every missing part of a pipeline folder."""
    missing = [n for n in names if not (folder / n).is_dir()]
    if missing:
        raise MissingWeightsError(f"{folder} is not a {layout} folder: it lacks {', '.join(n + '/' for n in missing)}; "
                                  f"pass --model with a folder holding {', '.join(n + '/' for n in names)}")
