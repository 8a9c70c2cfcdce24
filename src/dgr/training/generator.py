"""Train a small pixel-space class-conditional DiT (diffusers model classes) on a dataset."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import attrs

from dgr.datasets import LabelledImages

GENERATOR_META_FILE = "dgr_model.json"


@attrs.frozen
class GeneratorTraining:
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 1e-3
    layers: int = 4
    heads: int = 4
    head_dim: int = 32
    patch_size: int = 2
    seed: int = 0


def train_pixel_dit(data: LabelledImages, out: str | Path, settings: GeneratorTraining = GeneratorTraining(),
                    on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train and save a folder in the DiTPipeline layout (transformer/ + scheduler/) with no VAE."""
    import numpy as np
    import torch
    from diffusers import DDPMScheduler, DiTTransformer2DModel

    torch.manual_seed(settings.seed)
    info = data.info
    if info.height != info.width:
        raise ValueError("the pixel DiT needs square images")
    model = DiTTransformer2DModel(
        num_attention_heads=settings.heads, attention_head_dim=settings.head_dim,
        in_channels=info.channels, out_channels=info.channels, num_layers=settings.layers,
        sample_size=info.height, patch_size=settings.patch_size, num_embeds_ada_norm=info.num_classes,
    )
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    x = torch.from_numpy(np.ascontiguousarray(data.images)) * 2 - 1
    y = torch.from_numpy(data.labels)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=settings.steps)
    model.train()  # train mode also drops labels 10% of the time: classifier-free guidance
    g = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    loss_value = float("nan")
    for step in range(1, settings.steps + 1):
        idx = torch.randint(0, len(x), (settings.batch_size,), generator=g)
        x0, labels = x[idx], y[idx]
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=g)
        pred = model(scheduler.add_noise(x0, noise, t), timestep=t, class_labels=labels).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        lr_schedule.step()
        loss_value = loss.item()
        if on_step is not None:
            on_step(step, loss_value)
    model.eval()
    out = Path(out)
    model.save_pretrained(out / "transformer")
    scheduler.save_pretrained(out / "scheduler")
    meta = {
        "kind": "pixel-dit", "dataset": info.name, "class_names": list(info.class_names),
        "channels": info.channels, "image_size": [info.height, info.width],
        "training": attrs.asdict(settings), "final_loss": loss_value,
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / GENERATOR_META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta
