"""``dgr train generator|detector|clip``: train the small models dgr ships (or one for another dataset)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from dgr.commands.dataset_options import dataset_choice, parsed_dataset_options
from dgr.threads import use_cpu_threads
from dgr.errors import DgrError
from dgr.models import CONVNET_POOLINGS
from dgr.numbers import COUNT, IMAGE_SIDE, POSITIVE, Number
from dgr.training.clip import ClipTraining
from dgr.training.detector import (CONVNET_EPOCHS, FINE_TUNE_LEARNING_RATE, LEARNING_RATE, TORCHVISION_EPOCHS,
                                   DetectorTraining)
from dgr.training.generator import GeneratorTraining

GENERATOR = GeneratorTraining()
DETECTOR = DetectorTraining()
CLIP = ClipTraining()


@click.group(name="train")
def train() -> None:
    """Train the small models dgr ships (or your own for another dataset)."""


@contextmanager
def reporting(reporter: Any, out: str) -> Iterator[Any]:
    """Close the progress reporter however training ends; Ctrl-C becomes one line and exit 130,
    the checkpoint that training saved left for ``--resume``. ``out`` is locked meanwhile: a second
    process training into it is refused."""
    from dgr.rundir import locked
    from dgr.training.checkpoints import CHECKPOINT_FILE

    try:
        with locked(out):
            yield reporter
    except KeyboardInterrupt:
        reporter.close()
        click.echo(f"interrupted; {out}/{CHECKPOINT_FILE} holds the last finished step: "
                   "run the same command with --resume to continue", err=True)
        raise SystemExit(130) from None
    finally:
        reporter.close()


@train.command(name="generator")
@dataset_choice
@click.option("--out", required=True, help="Folder to write (transformer/, scheduler/, dgr_model.json).")
@click.option("--image-size", default=None, type=IMAGE_SIDE,
              help="Train at N×N (short side resized, centre crop) [default: native; an ImageFolder's up to 64].")
@click.option("--steps", default=GENERATOR.steps, show_default=True, type=COUNT)
@click.option("--batch-size", default=None, type=COUNT,
              help="Images per step [default: from the image size: 128 up to 16 px, 64 up to 32, 32 above].")
@click.option("--seed", default=GENERATOR.seed, show_default=True, type=int)
@click.option("--patch-size", default=None, type=COUNT,
              help="DiT patch size [default: the smallest ≥ 2 leaving at most 64 tokens: 2 at 8 px, 4 at 28 or 32, "
                   "8 at 64].")
@click.option("--layers", default=GENERATOR.layers, show_default=True, type=COUNT, help="Transformer blocks.")
@click.option("--heads", default=GENERATOR.heads, show_default=True, type=COUNT, help="Attention heads.")
@click.option("--head-dim", default=GENERATOR.head_dim, show_default=True, type=COUNT,
              help="Width of each head (the model's width is heads × head-dim).")
@click.option("--learning-rate", default=GENERATOR.learning_rate, show_default=True, type=POSITIVE)
@click.option("--ema-decay", default=GENERATOR.ema_decay, show_default=True, type=Number(float, 0.0, 0.9999),
              help="Save an exponential moving average of the weights (e.g. 0.999); 0 saves the last weights.")
@click.option("--checkpoint-every", default=GENERATOR.checkpoint_every, show_default=True, type=Number(int, 0),
              help="Save OUT/checkpoint.pt every N steps (and on Ctrl-C); 0: only on Ctrl-C.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt (same options).")
@click.option("--overwrite", is_flag=True, help="Replace the model that --out holds (nothing else there is deleted).")
def train_generator(dataset: str, data_dir: str | None, dataset_options: tuple[str, ...], out: str,
                    image_size: int | None, steps: int,
                    batch_size: int | None, seed: int, patch_size: int | None, layers: int, heads: int,
                    head_dim: int, learning_rate: float, ema_decay: float, checkpoint_every: int,
                    resume: bool, overwrite: bool) -> None:
    """Train a small pixel-space class-conditional DiT."""
    from pathlib import Path

    from dgr.datasets import load_dataset
    from dgr.progress import StepReporter
    from dgr.training.checkpoints import CHECKPOINT_FILE
    from dgr.training.generator import GeneratorTraining, train_pixel_dit
    from dgr.training.outputs import check_model_out

    check_model_out(out, "generator", resume=resume, overwrite=overwrite)
    if resume and not (Path(out) / CHECKPOINT_FILE).exists():
        click.echo(f"no {CHECKPOINT_FILE} in {out}; starting fresh", err=True)
    use_cpu_threads(None)
    data = load_dataset(dataset, "train", data_dir, image_size=image_size,
                        options=parsed_dataset_options(dataset_options))
    side = min(data.info.height, data.info.width)
    settings = GeneratorTraining(steps=steps, batch_size=batch_size, seed=seed, patch_size=patch_size, layers=layers,
                                 heads=heads, head_dim=head_dim, learning_rate=learning_rate, ema_decay=ema_decay,
                                 checkpoint_every=checkpoint_every).resolved(side)  # as train_pixel_dit resolves
    assert settings.patch_size is not None  # resolved
    click.echo(f"training at {data.info.height}×{data.info.width} px, {data.info.channels} channel(s): patch "
               f"{settings.patch_size} ({(side // settings.patch_size) ** 2} tokens), batch {settings.batch_size}",
               err=True)
    with reporting(StepReporter("training generator", steps), out) as reporter:
        meta = train_pixel_dit(data, out, settings, on_step=reporter.update, resume=resume)
    click.echo(f"saved {out}: final loss {meta['final_loss']:.4f} in {meta['seconds']} s")


@train.command(name="detector")
@dataset_choice
@click.option("--out", required=True, help="Folder to write (config.json, model.safetensors).")
@click.option("--image-size", default=None, type=IMAGE_SIDE,
              help="Train at N×N (short side resized, centre crop) [default: native; an ImageFolder's up to 64].")
@click.option("--arch", default=DETECTOR.arch, show_default=True,
              help="convnet (dgr's small ConvNet) or a torchvision architecture: resnet18, resnet50, "
                   "mobilenet_v3_small, … (load it with --detector resnet).")
@click.option("--width", default=DETECTOR.width, show_default=True, type=COUNT,
              help="convnet: channels of the first block (later blocks double it).")
@click.option("--pooling", default=DETECTOR.pooling, show_default=True, type=click.Choice(CONVNET_POOLINGS),
              help="convnet: halve the map after every block and keep its layout for the head (per-block), or "
                   "average it away (global: the embedded digits detector's layout).")
@click.option("--epochs", default=None, type=COUNT,
              help=f"Passes over the training split [default: {CONVNET_EPOCHS} convnet, {TORCHVISION_EPOCHS} other].")
@click.option("--batch-size", default=None, type=COUNT,
              help="Images per step [default: 64; 32 above 64 px].")
@click.option("--lr", "learning_rate", default=None, type=POSITIVE,
              help=f"Peak learning rate of the one-cycle schedule [default: {LEARNING_RATE:g}; "
                   f"{FINE_TUNE_LEARNING_RATE:g} with --weights].")
@click.option("--weights", default=None,
              help="Fine-tune from these weights: a torchvision name (DEFAULT, IMAGENET1K_V1) or a "
                   ".pth/.safetensors file.")
@click.option("--cifar-stem/--no-cifar-stem", default=None,
              help="3×3 stride-1 first conv and no max-pool [default: on for ResNets on images ≤ 64 px].")
@click.option("--input-size", default=None, type=IMAGE_SIDE,
              help="Resize images to this side first [default: native, ≥ 32].")
@click.option("--hflip", is_flag=True, help="Random horizontal flips (not for digits or text).")
@click.option("--holdout", default=DETECTOR.holdout, show_default=True, type=Number(float, above=0.0, maximum=0.9),
              help="Fraction of the training split held out for accuracy, ECE and the temperature.")
@click.option("--no-calibrate", is_flag=True, help="Keep temperature 1 instead of fitting it on the held-out slice.")
@click.option("--max-steps", default=None, type=COUNT, help="Stop after this many optimiser steps.")
@click.option("--device", default=DETECTOR.device, show_default=True)
@click.option("--seed", default=DETECTOR.seed, show_default=True, type=int)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt (same options).")
@click.option("--overwrite", is_flag=True, help="Replace the model that --out holds (nothing else there is deleted).")
def train_detector(dataset: str, data_dir: str | None, dataset_options: tuple[str, ...], out: str,
                   image_size: int | None, arch: str, width: int, pooling: str, epochs: int | None,
                   batch_size: int | None, learning_rate: float | None, weights: str | None, cifar_stem: bool | None,
                   input_size: int | None, hflip: bool, holdout: float, no_calibrate: bool,
                   max_steps: int | None, device: str, seed: int, resume: bool, overwrite: bool) -> None:
    """Train a detector on the training split; report held-out accuracy and calibration."""
    from dgr.datasets import load_dataset
    from dgr.devices import check_device
    from dgr.network import offline_unless_opted_in
    from dgr.progress import StepReporter
    from dgr.training.detector import train_detector as run_training
    from dgr.training.outputs import check_model_out

    check_device(device)

    if arch == "convnet" and (weights or cifar_stem is not None or input_size or hflip):
        raise DgrError("--weights, --cifar-stem, --input-size and --hflip apply to torchvision architectures, "
                        "not --arch convnet")
    if arch != "convnet":
        from dgr.models.torchvision_classifier import check_architecture

        check_architecture(arch)
    if weights and Path(weights).suffix in (".pth", ".pt", ".bin", ".safetensors") and not Path(weights).is_file():
        raise DgrError(f"weights file {weights} does not exist; pass --weights an existing .pth or "
                       ".safetensors file")
    if weights and Path(weights).is_file():
        from dgr.models.torchvision_classifier import check_weights_file

        check_weights_file(arch, weights)  # unreadable, or of another architecture: refused before training
    check_model_out(out, "detector", resume=resume, overwrite=overwrite)
    use_cpu_threads(None)
    data = load_dataset(dataset, "train", data_dir, image_size=image_size,
                        options=parsed_dataset_options(dataset_options))
    settings = DetectorTraining(
        epochs=epochs, batch_size=batch_size, seed=seed, arch=arch, width=width, pooling=pooling, weights=weights,
        cifar_stem=cifar_stem, input_size=input_size, hflip=hflip, holdout=holdout, calibrate=not no_calibrate,
        max_steps=max_steps, device=device, learning_rate=learning_rate,
    ).resolved(max(data.info.height, data.info.width))  # the defaults train_detector takes too
    click.echo(f"training at {data.info.height}×{data.info.width} px, {data.info.channels} channel(s), "
               f"batch {settings.batch_size}", err=True)
    # a bar on a terminal, plain lines in a log; the clock starts after the first epoch
    reporter = StepReporter(f"training {arch}", settings.epochs or 0, unit="epochs", estimate_after=1)
    with reporting(reporter, out) as reporter:
        with offline_unless_opted_in():  # --weights DEFAULT: no download unless DGR_DOWNLOAD=1
            report = run_training(data, out, settings, on_epoch=reporter.update, resume=resume)
    click.echo(f"saved {out}: held-out accuracy {report['holdout_accuracy']:.3f}, ECE {report['ece']:.3f} → "
               f"{report['ece_calibrated']:.3f} at temperature {report['temperature']} "
               f"({report['holdout_images']} held-out images, {report['steps']} steps, {report['seconds']} s)")
    if report.get("reinitialised"):
        click.echo(f"started fresh (shapes differ from --weights): {', '.join(report['reinitialised'])}")


@train.command(name="clip")
@dataset_choice
@click.option("--out", required=True,
              help="Folder to write (<name>.json open_clip config, open_clip_model.safetensors, dgr_clip.json).")
@click.option("--steps", default=CLIP.steps, show_default=True, type=COUNT)
@click.option("--batch-size", default=CLIP.batch_size, show_default=True, type=COUNT)
@click.option("--lr", "learning_rate", default=CLIP.learning_rate, show_default=True, type=POSITIVE,
              help="Peak learning rate of the one-cycle schedule.")
@click.option("--embed-dim", default=CLIP.embed_dim, show_default=True, type=COUNT, help="Joint embedding width.")
@click.option("--patch-size", default=None, type=COUNT,
              help="ViT patch size [default: the smallest ≥ 2 leaving at most 64 tokens: 2 at 8 px, 4 at 28 or 32, "
                   "8 at 64].")
@click.option("--image-size", default=None, type=IMAGE_SIDE, help="ViT input side [default: the dataset's].")
@click.option("--vision-width", default=CLIP.vision_width, show_default=True, type=COUNT)
@click.option("--vision-layers", default=CLIP.vision_layers, show_default=True, type=COUNT)
@click.option("--text-width", default=CLIP.text_width, show_default=True, type=COUNT)
@click.option("--text-layers", default=CLIP.text_layers, show_default=True, type=COUNT)
@click.option("--template", "templates", multiple=True,
              help="Caption template with {} for the class name, repeatable [default: the clip detector's for "
                   "the dataset].")
@click.option("--holdout", default=CLIP.holdout, show_default=True, type=Number(float, above=0.0, maximum=0.9),
              help="Fraction of the training split held out to fit the logit scale.")
@click.option("--no-calibrate", is_flag=True, help="Keep the trained logit scale.")
@click.option("--device", default=CLIP.device, show_default=True)
@click.option("--seed", default=CLIP.seed, show_default=True, type=int)
@click.option("--overwrite", is_flag=True, help="Replace the model that --out holds (nothing else there is deleted).")
def train_clip(dataset: str, data_dir: str | None, dataset_options: tuple[str, ...], out: str, steps: int,
               batch_size: int, learning_rate: float,
               embed_dim: int, patch_size: int | None, image_size: int | None, vision_width: int, vision_layers: int,
               text_width: int, text_layers: int, templates: tuple[str, ...], holdout: float, no_calibrate: bool,
               device: str, seed: int, overwrite: bool) -> None:
    """Train a small CLIP (open_clip) on image–caption pairs; report zero-shot accuracy and ECE."""
    from dgr.datasets import load_dataset
    from dgr.progress import StepReporter
    from dgr.training.clip import train_clip as run_training
    from dgr.training.outputs import check_model_out

    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise DgrError(f"every --template needs '{{}}' where the class name goes, got {bad[0]!r}")
    check_model_out(out, "clip", overwrite=overwrite)
    settings = ClipTraining(steps=steps, batch_size=batch_size, learning_rate=learning_rate, embed_dim=embed_dim,
                            patch_size=patch_size, image_size=image_size, vision_width=vision_width,
                            vision_layers=vision_layers, text_width=text_width, text_layers=text_layers,
                            templates=templates, holdout=holdout, calibrate=not no_calibrate, device=device,
                            seed=seed)
    use_cpu_threads(None)
    options = parsed_dataset_options(dataset_options)
    data = load_dataset(dataset, "train", data_dir, options=options)
    try:
        test = load_dataset(dataset, "test", data_dir, options=options)
    except DgrError:
        test = None  # no test split: the report uses the held-out slice
    from dgr.rundir import locked

    reporter = StepReporter("training clip", steps)
    try:
        with locked(out):
            report = run_training(data, out, settings, test=test, on_step=reporter.update)
    finally:
        reporter.close()
    click.echo(f"saved {out}: zero-shot accuracy {report['zero_shot_accuracy']:.3f} on the {report['split']} split "
               f"({report['images']} images), ECE {report['ece_trained_scale']:.3f} → {report['ece']:.3f} at logit "
               f"scale {report['logit_scale']} (trained {report['logit_scale_trained']}); {report['steps']} steps, "
               f"{report['seconds']} s, {report['megabytes']} MB")
