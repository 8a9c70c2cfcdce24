"""User-facing errors: each carries a one-line message that names the fix."""
from __future__ import annotations


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
