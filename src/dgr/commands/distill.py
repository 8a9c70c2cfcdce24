"""``dgr distill``: distil a dataset into a few synthetic images per class."""
from __future__ import annotations

from typing import Any, Callable

import click

from dgr.config import DEFAULT_OUT, setting_fields
from dgr.numbers import FINITE


def setting_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """A flag of ``dgr distill`` for every field of :class:`DistillConfig` (but ``options``, the ``-o`` pairs), in
    field order, from the field's :class:`~dgr.config.Setting`: a recipe setting's flag defaults to None (not
    given: the recipe decides) and its help says so; a bool is ``--x/--no-x``; a tuple is repeatable."""
    for name, (field, meta) in reversed(setting_fields().items()):
        if not meta.cli:
            continue
        flag = meta.flag or f"--{name.replace('_', '-')}"
        help_text = meta.help
        kwargs: dict[str, Any] = {"type": click.Choice(meta.choices) if meta.choices else meta.type}
        if isinstance(field.default, bool):
            flag = f"{flag}/--no-{flag[2:]}"
            del kwargs["type"]
        if meta.recipe:
            shown = ("on" if field.default else "off") if isinstance(field.default, bool) else field.default
            help_text += f" [default: the recipe's, else {shown}]."
            kwargs["default"] = None
        elif isinstance(field.default, tuple):
            kwargs["multiple"] = True
        else:
            kwargs["default"] = field.default
            if meta.show_default:
                kwargs["show_default"] = True
        func = click.option(flag, name, help=help_text or None, **kwargs)(func)
    return func


@click.command(name="distill")
@setting_options
@click.option("--recipe", default=None,
              help="A recipe (dgr recipes), a recipe .json file, or a run folder / its run.json to repeat "
                   "[default: the dataset's best measured recipe for the IPC, else paper].")
@click.option("--threshold", default=None, type=FINITE,
              help="τ of the low-confidence rule [default: its own, dgr list rules].")
@click.option("--uniqueness-weight", default=None, type=FINITE,
              help="λ of the confidence-uniqueness policy [default: its own].")
@click.option("--out", default=DEFAULT_OUT, show_default=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue a run in --out, skipping finished classes.")
@click.option("--overwrite", is_flag=True, help="Replace the dgr run that --out holds.")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Component option, e.g. -o strength=0.6 or -o generator.steps=50; dataset options as "
                   "-o dataset.image_column=img.")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="CPU threads for torch [default: OMP_NUM_THREADS, else the cores the load average leaves free].")
@click.option("-q", "--quiet", is_flag=True, help="No progress (the final summary line stays).")
def distill(quiet: bool, options: tuple[str, ...], threads: int | None, **kwargs: Any) -> None:
    """Distil a dataset into a few synthetic images per class."""
    from dgr.api import distill as run_distill
    from dgr.options import parse_pairs
    from dgr.distributed import is_main_process
    from dgr.progress import Progress, terminal_progress
    from dgr.threads import use_cpu_threads

    parsed = parse_pairs(options)
    repeat_run(kwargs)
    kwargs["rules"] = kwargs["rules"] or None  # no --rule: the run's (--recipe RUN), else the default
    use_cpu_threads(threads)
    # bars on a terminal, plain lines (at most one per stage every few seconds) in a log or a pipe
    progress = Progress() if quiet or not is_main_process() else terminal_progress()
    try:
        result = run_distill(options=parsed, progress=progress, **kwargs)
    finally:
        progress.close()
    c = result.counts
    if result.complete:
        click.echo(f"{c.get('images', 0)} images in {result.images_dir}  "
                   f"(initial anomalies {c.get('initial_anomalies', 0)}, refined {c.get('refined', 0)}, "
                   f"unresolved {c.get('unresolved', 0)}; {result.wall_seconds:.1f} s)")


def repeat_run(kwargs: dict[str, Any]) -> None:
    """``--recipe`` naming a run: every setting of the run's config that a recipe does not carry (its dataset,
    IPC, models, rules, seed …), unless given on the command line (changed in ``kwargs``)."""
    from click.core import ParameterSource

    from dgr.recipes import run_config

    config = run_config(kwargs.get("recipe"))
    ctx = click.get_current_context()
    for key, (_, meta) in setting_fields().items():
        repeated = meta.cli and not meta.recipe and not meta.speed_only
        if repeated and key in config and ctx.get_parameter_source(key) is ParameterSource.DEFAULT:
            kwargs[key] = config[key]
