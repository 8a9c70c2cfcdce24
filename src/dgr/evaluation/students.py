"""The student of ``dgr evaluate`` built by name: students are registered by plugins
(``dgr_register_students``; dgr's own in ``dgr_plugins.evaluation``, whose networks are in
:mod:`dgr.models.students`); :func:`build_student` builds one through the registry."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dgr.components import BuildContext, DatasetInfo
from dgr.errors import DgrError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from dgr.registry import Entry


def student_entry(name: str) -> "Entry":
    """The registered student ``name``; an unknown name lists the registered ones."""
    from dgr.plugins import build_registry

    return build_registry().get("student", name)


def build_student(name: str, info: DatasetInfo, width: int | None = None, *, seed: int = 0) -> "nn.Module":
    """A fresh student by name, built by its registered factory. ``width`` (``--width``) goes to
    students with a ``width`` option (dgr's convnet: default 128, mlp: 256); others ignore it."""
    from dgr.options import build_config, option_names

    entry = student_entry(name)
    missing = entry.missing_requirements()
    if missing:
        raise DgrError(f"student {name!r} needs {', '.join(missing)}; pip install {' '.join(missing)}")
    values = {"width": width} if width is not None and "width" in option_names(entry.config) else {}
    config = build_config(entry.config, values, owner=f"student {name!r}")
    return entry.factory(BuildContext(dataset=info, seed=seed, config=config))
