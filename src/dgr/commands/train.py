"""``dgr train generator|detector``: train the small models dgr ships (or one for another dataset)."""
from __future__ import annotations

import click

from dgr.errors import DgrError


@click.group(name="train")
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
        raise DgrError("--weights, --cifar-stem, --input-size and --hflip apply to torchvision architectures, "
                        "not --arch convnet")
    if not 0.0 < holdout < 1.0:
        raise DgrError(f"--holdout must be between 0 and 1, got {holdout}")
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
