"""The ``dgr`` command line: the group, its error handling, and the commands assembled from
:mod:`dgr.commands` (one module per command). Importing this module imports no torch,
diffusers, open_clip or faiss: they load inside the commands that need them."""
from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from dgr.version import __version__
from dgr.errors import DgrError


OUT_OF_MEMORY = "out of memory; lower --image-size or --batch-size, or use a machine with more memory"


class UserError(click.ClickException):
    """A DgrError shown as one line, exit code 2."""

    exit_code = 2


class DgrGroup(click.Group):
    """The ``dgr`` group: every error of a command becomes one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a DgrError, a usage error or running out of memory is a one-line UserError."""
        from dgr.errors import command_line

        try:
            with command_line():
                return super().invoke(ctx)
        except DgrError as exc:
            raise UserError(str(exc)) from None
        except click.UsageError as exc:  # click prints usage lines around it; dgr's errors are one line
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise UserError(f"{exc.format_message().rstrip('.')} (see `{where} --help`)") from None
        except MemoryError:
            raise UserError(OUT_OF_MEMORY) from None
        except RuntimeError as exc:  # torch's allocators: "can't allocate memory", CUDA's OutOfMemoryError
            if type(exc).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(exc):
                raise UserError(OUT_OF_MEMORY) from None
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; finished classes are kept: rerun with --resume to continue", err=True)
            sys.exit(130)


def _one_line_warnings(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                       line: str | None = None) -> str:
    return f"warning: {message}\n"


@click.group(cls=DgrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dgr")
def cli() -> None:
    """Diffusion-based dataset distillation with detector-guided refinement."""
    warnings.formatwarning = _one_line_warnings


from dgr.commands.distill import distill  # noqa: E402  (each imports only click at import time)
from dgr.commands.evaluate import evaluate  # noqa: E402
from dgr.commands.list import list_components  # noqa: E402
from dgr.commands.plugins import plugins  # noqa: E402
from dgr.commands.recipes import recipes  # noqa: E402
from dgr.commands.report import report  # noqa: E402
from dgr.commands.train import train  # noqa: E402

for _command in (distill, plugins, list_components, recipes, train, evaluate, report):
    cli.add_command(_command)


def main() -> None:
    """The ``dgr`` console script."""
    cli(prog_name="dgr")


if __name__ == "__main__":  # pragma: no cover
    main()
