"""Where ``dgr train`` may write: a new or empty folder, or one holding its own kind of model
(replaced with ``--overwrite``, continued from its checkpoint with ``--resume``). A folder with
anything else in it (a run folder, the user's files) is refused unless ``--overwrite`` says to
write the model's files beside them; nothing is ever deleted. A folder another dgr process
holds (``dgr.rundir.locked``, taken while training) is refused too."""
from __future__ import annotations

from pathlib import Path

from dgr.errors import DgrError
from dgr.training.checkpoints import CHECKPOINT_FILE

MODEL_MARKERS = {"detector": ("config.json", "model.safetensors"), "generator": ("dgr_model.json",),
                 "clip": ("dgr_clip.json",)}
"""The file(s) that make a folder a trained model of each kind (what ``dgr train KIND`` writes last)."""


def check_model_out(out: str | Path, kind: str, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse ``out`` unless it is writable and new, empty, this kind's model with ``--overwrite``, or
    this kind's interrupted training with ``--resume``."""
    import os

    from dgr.rundir import lock_folder, probe_writable

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise DgrError(f"--out {folder} is a file; choose a folder path")
    if folder.is_dir():
        fd = lock_folder(folder)  # another dgr process training into it: refused here
        if fd is not None:
            os.close(fd)
    probe_writable(folder)
    entries = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if not entries or overwrite or (resume and CHECKPOINT_FILE in entries):
        return
    if all(marker in entries for marker in MODEL_MARKERS[kind]):
        raise DgrError(f"{folder} holds a trained {kind}; pass --overwrite to replace it, or choose another --out")
    if CHECKPOINT_FILE in entries:
        raise DgrError(f"{folder} holds an interrupted training ({CHECKPOINT_FILE}); pass --resume to continue it, "
                       "--overwrite to start again, or choose another --out")
    raise DgrError(f"{folder} is not empty and holds no {kind} model; choose another --out (or pass --overwrite to "
                   f"write the {kind}'s files beside what is there)")
