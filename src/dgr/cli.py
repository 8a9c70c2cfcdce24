"""The ``dgr`` command line. Importing this module imports no torch, diffusers, open_clip or
faiss: they load inside the commands that need them."""
from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from dgr import __version__
from dgr.errors import DgrError


class UserError(click.ClickException):
    """A DgrError shown as one line, exit code 2."""

    exit_code = 2


class DgrGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DgrError as exc:
            raise UserError(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted; finished classes are kept: rerun with --resume to continue", err=True)
            sys.exit(130)


def _one_line_warnings(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"warning: {message}\n"


@click.group(cls=DgrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dgr")
def cli() -> None:
    """Diffusion-based dataset distillation with detector-guided refinement."""
    warnings.formatwarning = _one_line_warnings


@cli.command()
@click.option("--dataset", default="digits", show_default=True,
              help="digits, fashion-mnist, or a path to an ImageFolder.")
@click.option("--data-dir", default=None, help="Folder with the dataset's files (fashion-mnist idx .gz).")
@click.option("--ipc", default=10, show_default=True, type=int, help="Images per class.")
@click.option("--generator", default="dit", show_default=True, help="Generator name (dgr list generators).")
@click.option("--model", default=None, help="Generator weights: a folder or hub id (default: the embedded model).")
@click.option("--detector", default="convnet", show_default=True, help="Detector name (dgr list detectors).")
@click.option("--detector-model", default=None, help="Detector weights (default: the embedded model).")
@click.option("--rule", "rules", multiple=True, help="Anomaly rule, repeatable [default: mismatch, low-confidence].")
@click.option("--policy", default="confidence-uniqueness", show_default=True, help="Selection policy.")
@click.option("--candidates", default=20, show_default=True, type=int, help="Candidates per flagged image.")
@click.option("--early-stop", is_flag=True, help="Stop an image's search at a valid candidate with p ≥ τ + 0.1.")
@click.option("--threshold", default=None, type=float, help="τ of the low-confidence rule [default: 0.7].")
@click.option("--uniqueness-weight", default=None, type=float, help="λ of confidence-uniqueness [default: 0.5].")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps …")
@click.option("--batch-size", default=64, show_default=True, type=int, help="Images per generator call.")
@click.option("--out", default="runs/digits", show_default=True, help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue a run in --out, skipping finished classes.")
@click.option("--overwrite", is_flag=True, help="Replace the dgr run that --out holds.")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Component option, e.g. -o strength=0.6 or -o generator.steps=50.")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="CPU threads for torch [default: torch's choice]; 1 is fastest on a busy machine.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def distill(quiet: bool, rules: tuple[str, ...], options: tuple[str, ...], threads: int | None,
            **kwargs: Any) -> None:
    """Distil a dataset into a few synthetic images per class."""
    from dgr.api import distill as run_distill
    from dgr.config import DEFAULT_RULES
    from dgr.options import parse_pairs
    from dgr.distributed import is_main_process
    from dgr.progress import Progress, RichProgress

    parsed = parse_pairs(options)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    progress = Progress() if quiet or not is_main_process() else RichProgress()
    try:
        result = run_distill(rules=rules or DEFAULT_RULES, options=parsed, progress=progress, **kwargs)
    finally:
        progress.close()
    c = result.counts
    if not quiet and result.complete:
        click.echo(f"{c.get('images', 0)} images in {result.images_dir}  "
                   f"(initial anomalies {c.get('initial_anomalies', 0)}, refined {c.get('refined', 0)}, "
                   f"unresolved {c.get('unresolved', 0)}; {result.wall_seconds:.1f} s)")


@cli.command(name="plugins")
def plugins_command() -> None:
    """Loaded plugins and what each registers."""
    from rich.console import Console
    from rich.table import Table

    from dgr.plugins import broken_plugins, build_registry, plugin_info, registered_plugins
    from dgr.registry import KINDS, PLURALS

    registry = build_registry()
    table = Table("plugin", "distribution", "version", "registers")
    for name, _ in registered_plugins():
        info = plugin_info(name)
        parts = []
        for kind in KINDS:
            names = [e.name for e in registry.entries(kind) if e.plugin == name]
            if names:
                parts.append(f"{PLURALS[kind]}: {', '.join(names)}")
        table.add_row(name, info.distribution, info.version, "; ".join(parts) or "(hooks only)")
    console = Console()
    console.print(table)
    for name, why in broken_plugins().items():
        console.print(f"[yellow]skipped {name}: {why}[/yellow]")


@cli.command(name="list")
@click.argument("kind")
def list_command(kind: str) -> None:
    """Registered components of KIND: generators, detectors, rules or policies."""
    from rich.console import Console
    from rich.table import Table

    from dgr.options import option_names
    from dgr.plugins import build_registry

    registry = build_registry()
    entries = registry.entries(kind)
    table = Table("name", "plugin", "options", "summary")
    for e in entries:
        missing = e.missing_requirements()
        summary = e.summary + (f" [red](needs {', '.join(missing)})[/red]" if missing else "")
        table.add_row(e.name, e.plugin, ", ".join(sorted(option_names(e.config))), summary)
    Console().print(table)


@cli.group()
def train() -> None:
    """Train the small models dgr ships (or your own for another dataset)."""


@train.command(name="generator")
@click.option("--dataset", default="digits", show_default=True)
@click.option("--data-dir", default=None)
@click.option("--out", required=True, help="Folder to write (transformer/, scheduler/, dgr_model.json).")
@click.option("--steps", default=1500, show_default=True, type=int)
@click.option("--batch-size", default=128, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--patch-size", default=2, show_default=True, type=int,
              help="DiT patch size (4 for 28×28 images: 49 tokens).")
@click.option("--layers", default=4, show_default=True, type=int, help="Transformer blocks.")
@click.option("--learning-rate", default=1e-3, show_default=True, type=float)
def train_generator(dataset: str, data_dir: str | None, out: str, steps: int, batch_size: int, seed: int,
                    patch_size: int, layers: int, learning_rate: float) -> None:
    """Train a small pixel-space class-conditional DiT."""
    from rich.progress import Progress as Bars

    from dgr.datasets import load_dataset
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    data = load_dataset(dataset, "train", data_dir)
    data_size = data.info.height
    if patch_size < 1 or data_size % patch_size:
        raise DgrError(f"--patch-size {patch_size} does not divide the image size {data_size}; "
                       f"use a divisor such as {2 if data_size % 2 == 0 else 1}")
    settings = GeneratorTraining(steps=steps, batch_size=batch_size, seed=seed, patch_size=patch_size,
                                 layers=layers, learning_rate=learning_rate)
    with Bars() as bars:
        task = bars.add_task("training generator", total=steps)
        meta = train_pixel_dit(data, out, settings, on_step=lambda s, loss: bars.update(
            task, completed=s, description=f"training generator (loss {loss:.3f})"))
    click.echo(f"saved {out}: final loss {meta['final_loss']:.4f} in {meta['seconds']} s")


@train.command(name="detector")
@click.option("--dataset", default="digits", show_default=True)
@click.option("--data-dir", default=None)
@click.option("--out", required=True, help="Folder to write (config.json, model.safetensors).")
@click.option("--arch", default="convnet", show_default=True,
              help="convnet (dgr's small ConvNet) or a torchvision architecture: resnet18, resnet50, "
                   "mobilenet_v3_small, … (load it with --detector resnet).")
@click.option("--epochs", default=None, type=int,
              help="Passes over the training split [default: 60 convnet, 30 other].")
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--lr", "learning_rate", default=None, type=float,
              help="Peak learning rate of the one-cycle schedule [default: 2e-3; 5e-4 with --weights].")
@click.option("--weights", default=None,
              help="Fine-tune from these weights: a torchvision name (DEFAULT, IMAGENET1K_V1) or a "
                   ".pth/.safetensors file.")
@click.option("--cifar-stem/--no-cifar-stem", default=None,
              help="3×3 stride-1 first conv and no max-pool [default: on for ResNets on images ≤ 64 px].")
@click.option("--input-size", default=None, type=int, help="Resize images to this side first [default: native, ≥ 32].")
@click.option("--hflip", is_flag=True, help="Random horizontal flips (not for digits or text).")
@click.option("--holdout", default=0.1, show_default=True, type=float,
              help="Fraction of the training split held out for accuracy, ECE and the temperature.")
@click.option("--no-calibrate", is_flag=True, help="Keep temperature 1 instead of fitting it on the held-out slice.")
@click.option("--max-steps", default=None, type=int, help="Stop after this many optimiser steps.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
def train_detector(dataset: str, data_dir: str | None, out: str, arch: str, epochs: int | None,
                   batch_size: int, learning_rate: float | None, weights: str | None, cifar_stem: bool | None,
                   input_size: int | None, hflip: bool, holdout: float, no_calibrate: bool,
                   max_steps: int | None, device: str, seed: int) -> None:
    """Train a detector on the training split; report held-out accuracy and calibration."""
    from rich.progress import Progress as Bars

    from dgr.datasets import load_dataset
    from dgr.training.detector import DetectorTraining, train_detector as run_training

    if arch == "convnet" and (weights or cifar_stem is not None or input_size or hflip):
        raise UserError("--weights, --cifar-stem, --input-size and --hflip apply to torchvision architectures, "
                        "not --arch convnet")
    if not 0.0 < holdout < 1.0:
        raise UserError(f"--holdout must be between 0 and 1, got {holdout}")
    if arch != "convnet":
        from dgr.classifiers import check_architecture

        check_architecture(arch)
    epochs = epochs or (60 if arch == "convnet" else 30)
    settings = DetectorTraining(
        epochs=epochs, batch_size=batch_size, seed=seed, arch=arch, weights=weights, cifar_stem=cifar_stem,
        input_size=input_size, hflip=hflip, holdout=holdout, calibrate=not no_calibrate, max_steps=max_steps,
        device=device, learning_rate=learning_rate or (5e-4 if weights else 2e-3))
    data = load_dataset(dataset, "train", data_dir)
    bars = Bars()
    task = bars.add_task(f"training {arch}", total=epochs)

    def on_epoch(epoch: int, loss: float) -> None:  # the bar starts once weights have loaded
        bars.start()
        bars.update(task, completed=epoch, description=f"training {arch} (loss {loss:.3f})")

    try:
        report = run_training(data, out, settings, on_epoch=on_epoch)
    finally:
        if bars.live.is_started:
            bars.stop()
    click.echo(f"saved {out}: held-out accuracy {report['holdout_accuracy']:.3f}, ECE {report['ece']:.3f} → "
               f"{report['ece_calibrated']:.3f} at temperature {report['temperature']} "
               f"({report['holdout_images']} held-out images, {report['steps']} steps, {report['seconds']} s)")
    if report.get("reinitialised"):
        click.echo(f"started fresh (shapes differ from --weights): {', '.join(report['reinitialised'])}")


# Commands that live in their own modules (dgr/commands/*.py, light imports only) are added here.
from dgr.commands.evaluate import evaluate as _evaluate_command  # noqa: E402
from dgr.commands.report import report as _report_command  # noqa: E402

cli.add_command(_evaluate_command)
cli.add_command(_report_command)


def main() -> None:
    cli(prog_name="dgr")


if __name__ == "__main__":  # pragma: no cover
    main()
