"""Train a small pixel-space class-conditional DiT (diffusers model classes) on a dataset.

The saved folder is the DiTPipeline layout (``transformer/`` + ``scheduler/``, no VAE) plus
``dgr_model.json``. With ``ema_decay > 0`` the saved transformer holds the exponential moving
average of the weights (the usual choice for diffusion models: smoother samples than the last step).

Training saves ``checkpoint.pt`` in the output folder every ``checkpoint_every`` steps and when
interrupted (Ctrl-C); ``resume=True`` continues from it with the same settings, and the finished
model is identical to an uninterrupted run's.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import attrs

from dgr.datasets import LabelledImages
from dgr.errors import DgrError
from dgr.rundir import dumps, share_files
from dgr.training.checkpoints import (CHECKPOINT_FILE, StopAtStepBoundary, refuse_divergence,
                                      save_checkpoint as save)

if TYPE_CHECKING:  # pragma: no cover
    from dgr.datasets.description import Data

GENERATOR_META_FILE = "dgr_model.json"


@attrs.frozen
class GeneratorTraining:
    """How ``train_pixel_dit`` trains the pixel DiT; ``dgr train generator`` reads its defaults. A
    size left None is decided from the image side (:meth:`resolved`)."""

    steps: int = 1500
    batch_size: int | None = None  # None: from the image side (training.sizing.dit_batch_size)
    learning_rate: float = 1e-3
    layers: int = 4
    heads: int = 4
    head_dim: int = 32
    patch_size: int | None = None  # None: from the image side (training.sizing.patch_size_for)
    seed: int = 0
    ema_decay: float = 0.0  # 0: save the last weights; 0.999: an EMA of them
    checkpoint_every: int = 500

    def resolved(self, side: int) -> "GeneratorTraining":
        """These settings with every None default decided, for images of ``side`` px (the short side)."""
        from dgr.training.sizing import dit_batch_size, patch_size_for

        return attrs.evolve(self, batch_size=self.batch_size or dit_batch_size(side),
                            patch_size=self.patch_size or patch_size_for(side))


StepCallback = Callable[[int, float], None]


def build_transformer(data: "Data", settings: GeneratorTraining) -> Any:
    """The untrained diffusers DiT that ``settings`` describe for ``data``'s image shape and classes."""
    from diffusers import DiTTransformer2DModel

    info = data.info
    if info.height != info.width:
        raise DgrError("the pixel DiT needs square images; resize the folder with --image-size")
    patch = settings.resolved(info.height).patch_size
    assert patch is not None  # resolved
    if patch < 1 or info.height % patch:
        raise DgrError(f"--patch-size {patch} does not divide the image size {info.height}; "
                       f"use a divisor such as {2 if info.height % 2 == 0 else 1}")
    return DiTTransformer2DModel(
        num_attention_heads=settings.heads, attention_head_dim=settings.head_dim,
        in_channels=info.channels, out_channels=info.channels, num_layers=settings.layers,
        sample_size=info.height, patch_size=patch, num_embeds_ada_norm=info.num_classes,
    )


def train_pixel_dit(data: "Data", out: str | Path, settings: GeneratorTraining = GeneratorTraining(),
                    on_step: StepCallback | None = None, *, resume: bool = False) -> dict[str, Any]:
    """Train and save a folder in the DiTPipeline layout (transformer/ + scheduler/) with no VAE.
    Settings left None take their defaults (:meth:`GeneratorTraining.resolved`), as
    ``dgr train generator``'s do."""
    import copy

    import numpy as np
    import torch
    from diffusers import DDPMScheduler

    settings = settings.resolved(min(data.info.height, data.info.width))
    out = Path(out)
    checkpoint = out / CHECKPOINT_FILE
    torch.manual_seed(settings.seed)
    model = build_transformer(data, settings)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    # an ImageFolderIndex is read batch by batch (memory follows the batch, not the split); in
    # memory the whole split is one tensor. The same rows give the same pixels either way.
    x = torch.from_numpy(np.ascontiguousarray(data.images)) * 2 - 1 if isinstance(data, LabelledImages) else None
    y = torch.from_numpy(data.labels)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=settings.steps)
    ema = copy.deepcopy(model).requires_grad_(False) if settings.ema_decay > 0 else None
    g = torch.Generator().manual_seed(settings.seed)
    first_step, seconds_before = 1, 0.0
    if resume and checkpoint.exists():
        from dgr.loading import reading

        with reading(checkpoint, "delete it to start fresh (without --resume)"):
            state = torch.load(checkpoint, weights_only=True)
        if state["settings"] != attrs.asdict(settings) or state["dataset"] != data.info.name:
            raise DgrError(f"{checkpoint} was written with other settings ({state['settings']}); "
                           "use the same options to resume, or another --out")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        g.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        first_step, seconds_before = state["step"] + 1, state["seconds"]

    def save_checkpoint(step: int, seconds: float) -> None:
        state = {"step": step, "seconds": seconds, "settings": attrs.asdict(settings), "dataset": data.info.name,
                 "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                 "lr_schedule": lr_schedule.state_dict(), "rng": g.get_state(),
                 "torch_rng": torch.get_rng_state(),  # the label dropout of classifier-free guidance
                 "ema": ema.state_dict() if ema is not None else None}
        save(state, checkpoint)

    model.train()  # train mode also drops labels 10% of the time: classifier-free guidance
    start = time.perf_counter()
    loss_value = float("nan")
    with StopAtStepBoundary() as stop:
        for step in range(first_step, settings.steps + 1):
            idx = torch.randint(0, len(y), (settings.batch_size,), generator=g)
            x0 = x[idx] if x is not None else torch.from_numpy(data.images[idx.numpy()]) * 2 - 1
            labels = y[idx]
            noise = torch.randn(x0.shape, generator=g)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=g)
            pred = model(scheduler.add_noise(x0, noise, t), timestep=t, class_labels=labels).sample
            loss = torch.nn.functional.mse_loss(pred, noise)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            lr_schedule.step()
            if ema is not None:
                with torch.no_grad():
                    for averaged, current in zip(ema.parameters(), model.parameters()):
                        averaged.lerp_(current, 1.0 - settings.ema_decay)
            loss_value = loss.item()
            if on_step is not None:
                on_step(step, loss_value)
            if stop.requested:
                save_checkpoint(step, seconds_before + time.perf_counter() - start)
                raise KeyboardInterrupt
            if settings.checkpoint_every and step % settings.checkpoint_every == 0 and step < settings.steps:
                save_checkpoint(step, seconds_before + time.perf_counter() - start)
    refuse_divergence(math.isfinite(loss_value), f"loss {loss_value} at step {settings.steps}", "--learning-rate",
                      settings.learning_rate)
    final = ema if ema is not None else model
    final.eval()
    final.save_pretrained(out / "transformer")
    scheduler.save_pretrained(out / "scheduler")
    share_files(out / "transformer")
    info = data.info
    meta = {
        "kind": "pixel-dit", "dataset": info.name, "class_names": list(info.class_names),
        "channels": info.channels, "image_size": [info.height, info.width],
        "training": attrs.asdict(settings), "final_loss": loss_value,
        "seconds": round(seconds_before + time.perf_counter() - start, 1),
    }
    (out / GENERATOR_META_FILE).write_text(dumps(meta, indent=2) + "\n")
    checkpoint.unlink(missing_ok=True)
    return meta

