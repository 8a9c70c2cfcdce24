"""User-facing errors: each carries a one-line message that names the fix."""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_FROM_CLI: contextvars.ContextVar[bool] = contextvars.ContextVar("dgr_from_cli", default=False)

PYTHON_SPELLING = {"--resume": "resume=True", "--overwrite": "overwrite=True", "--out": "out=",
                   "--ipc": "ipc", "--image-size": "image_size", "--threshold": "threshold=",
                   "--uniqueness-weight": "uniqueness_weight="}
"""How an error names a command-line flag when the caller is Python (``dgr.distill``)."""


def flag(spelling: str) -> str:
    """``--resume`` inside the ``dgr`` command, ``resume=True`` when called from Python."""
    return spelling if _FROM_CLI.get() else PYTHON_SPELLING.get(spelling, spelling)


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Errors raised inside name command-line flags (the ``dgr`` command sets this)."""
    token = _FROM_CLI.set(True)
    try:
        yield
    finally:
        _FROM_CLI.reset(token)


class DgrError(Exception):
    """An error caused by input the user can fix. The CLI prints it as one line."""


class UnknownNameError(DgrError):
    """A component name that no plugin registered."""


class DuplicateNameError(DgrError):
    """Two plugins registered the same name for the same kind of component."""


class OptionError(DgrError):
    """A ``-o key=value`` option that no component accepts, or a value of the wrong type."""


class MissingWeightsError(DgrError):
    """Model weights that are not on this machine."""


class RunFolderError(DgrError):
    """An output folder that cannot be used as asked."""
