"""``dgr report RUN_DIR``: (re)write a run folder's self-contained report.html."""
from __future__ import annotations

import click


@click.command(name="report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Where to write the page [default: RUN_DIR/report.html].")
def report(run_dir: str, out: str | None) -> None:
    """Write RUN_DIR/report.html: final images, refinements, anomaly rates, config, timings."""
    from dgr.report import write_report
    from dgr.rundir import RunFiles

    try:
        path = write_report(run_dir, out)
    except OSError as exc:
        from dgr.errors import DgrError

        raise DgrError(f"cannot write the report ({exc.strerror or exc}); pass --out to a writable file") from None
    state = RunFiles(run_dir).completeness()
    if not state.complete:
        click.echo(f"warning: {run_dir} is not a complete run ({state.describe()}); the report marks it", err=True)
    click.echo(str(path))
