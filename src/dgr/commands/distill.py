"""``dgr distill``: distil a dataset into a few synthetic images per class."""
from __future__ import annotations

from typing import Any

import click

from dgr.commands.dataset_options import DATA_DIR_HELP, DATASET_HELP
from dgr.config import DEFAULT_OUT, DEFAULTS, PROTOTYPES, REFINE_FROM
from dgr.numbers import COUNT, FINITE, IMAGE_SIDE, Number


@click.command(name="distill")
@click.option("--dataset", default=DEFAULTS.dataset, show_default=True,
              help=DATASET_HELP)
@click.option("--data-dir", default=None, help=DATA_DIR_HELP)
@click.option("--image-size", default=None, type=IMAGE_SIDE,
              help="Load images at N×N (short side resized, centre crop) [default: the size the models were "
                   "trained at; an ImageFolder's native size up to 64].")
@click.option("--ipc", default=DEFAULTS.ipc, show_default=True, type=COUNT, help="Images per class.")
@click.option("--generator", default=DEFAULTS.generator, show_default=True,
              help="Generator name (dgr list generators).")
@click.option("--model", default=None, help="Generator weights: a folder or hub id (default: the embedded model).")
@click.option("--detector", default=DEFAULTS.detector, show_default=True,
              help="Detector name (dgr list detectors).")
@click.option("--detector-model", default=None, help="Detector weights (default: the embedded model).")
@click.option("--rule", "rules", multiple=True,
              help=f"Anomaly rule, repeatable [default: {', '.join(DEFAULTS.rules)}].")
@click.option("--policy", default=DEFAULTS.policy, show_default=True, help="Selection policy.")
@click.option("--recipe", default=None,
              help="A recipe (dgr recipes), a recipe .json file, or a run folder / its run.json to repeat "
                   "[default: the dataset's best measured recipe for the IPC, else paper].")
@click.option("--candidates", default=None, type=COUNT,
              help=f"Candidates per flagged image [default: the recipe's, else {DEFAULTS.candidates}].")
@click.option("--refine-from", type=click.Choice(REFINE_FROM), default=None,
              help="Where a flagged image's candidates start: its prototype (the paper) or, beyond the paper, "
                   f"the real images of the prototype's k-means cluster, nearest first [default: the recipe's, else "
                   f"{DEFAULTS.refine_from}].")
@click.option("--prototypes", type=click.Choice(PROTOTYPES), default=None,
              help="What synthesis and refinement start from: each k-means centroid (the paper) or, beyond the "
                   f"paper, the real image nearest to it (its cluster's medoid) [default: the recipe's, else "
                   f"{DEFAULTS.prototypes}].")
@click.option("--early-stop/--no-early-stop", default=None,
              help="Stop an image's search at a valid candidate with p ≥ τ + 0.1 [default: the recipe's, else off].")
@click.option("--threshold", default=None, type=FINITE,
              help="τ of the low-confidence rule [default: its own, dgr list rules].")
@click.option("--uniqueness-weight", default=None, type=FINITE,
              help="λ of the confidence-uniqueness policy [default: its own].")
@click.option("--polish-steps", default=None, type=Number(int, 0),
              help="Beyond the paper: distribution-matching steps on each class's final images (0: off) "
                   "[default: the recipe's, else 0].")
@click.option("--seed", default=DEFAULTS.seed, show_default=True, type=int)
@click.option("--device", default=DEFAULTS.device, show_default=True, help="cpu, cuda, cuda:1, mps …")
@click.option("--batch-size", default=DEFAULTS.batch_size, show_default=True, type=COUNT,
              help="Images per generator call.")
@click.option("--out", default=DEFAULT_OUT, show_default=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue a run in --out, skipping finished classes.")
@click.option("--overwrite", is_flag=True, help="Replace the dgr run that --out holds.")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Component option, e.g. -o strength=0.6 or -o generator.steps=50; dataset options as "
                   "-o dataset.image_column=img.")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="CPU threads for torch [default: OMP_NUM_THREADS, else the cores the load average leaves free].")
@click.option("-q", "--quiet", is_flag=True, help="No progress (the final summary line stays).")
def distill(quiet: bool, rules: tuple[str, ...], options: tuple[str, ...], threads: int | None,
            **kwargs: Any) -> None:
    """Distil a dataset into a few synthetic images per class."""
    from dgr.api import distill as run_distill
    from dgr.options import parse_pairs
    from dgr.distributed import is_main_process
    from dgr.progress import Progress, terminal_progress
    from dgr.threads import use_cpu_threads

    parsed = parse_pairs(options)
    repeated = repeat_run(kwargs)
    rules = rules or tuple(repeated.get("rules") or DEFAULTS.rules)
    use_cpu_threads(threads)
    # bars on a terminal, plain lines (at most one per stage every few seconds) in a log or a pipe
    progress = Progress() if quiet or not is_main_process() else terminal_progress()
    try:
        result = run_distill(rules=rules, options=parsed, progress=progress, **kwargs)
    finally:
        progress.close()
    c = result.counts
    if result.complete:
        click.echo(f"{c.get('images', 0)} images in {result.images_dir}  "
                   f"(initial anomalies {c.get('initial_anomalies', 0)}, refined {c.get('refined', 0)}, "
                   f"unresolved {c.get('unresolved', 0)}; {result.wall_seconds:.1f} s)")


REPEATED = ("dataset", "data_dir", "image_size", "ipc", "generator", "model", "detector", "detector_model",
            "policy", "seed")
"""What ``--recipe RUN/run.json`` takes from the run besides its method settings, unless given here."""


def repeat_run(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``--recipe`` naming a run: the run's dataset, IPC, models and seed, unless given on the command line
    (changed in ``kwargs``); returns the run's config ({} for a recipe that is not a run)."""
    from click.core import ParameterSource

    from dgr.recipes import run_config

    config = run_config(kwargs.get("recipe"))
    if not config:
        return config
    ctx = click.get_current_context()
    for key in REPEATED:
        if key in config and ctx.get_parameter_source(key) is ParameterSource.DEFAULT:
            kwargs[key] = config[key]
    return config

