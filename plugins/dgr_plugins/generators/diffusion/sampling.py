"""Shared pieces of prototype-guided (SDEdit) sampling for the diffusers generators.

Imports torch and diffusers: only the heavy ``generator`` modules of the families import this.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from dgr.errors import DgrError, MissingWeightsError
from dgr_plugins.generators.diffusion.options import SCHEDULER_NAMES as SCHEDULERS

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def in_batches(generate_batch: Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor],
               prototypes: torch.Tensor, labels: torch.Tensor, seeds: Sequence[int], batch_size: int) -> torch.Tensor:
    """Run ``generate_batch`` over aligned slices of at most ``batch_size`` images."""
    if not (len(prototypes) == len(labels) == len(seeds)):
        raise ValueError("prototypes, labels and seeds must have the same length")
    out = [generate_batch(prototypes[i:i + batch_size], labels[i:i + batch_size], list(seeds[i:i + batch_size]))
           for i in range(0, len(seeds), batch_size)]
    return torch.cat(out)


def torch_dtype(name: str, device: str) -> torch.dtype:
    """``auto`` is float16 on CUDA and float32 elsewhere."""
    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise DgrError(f"unknown dtype {name!r}; use -o dtype= one of auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def load_part(loader: Callable[..., Any], folder: Path, dtype: torch.dtype | None = None) -> Any:
    """``loader(folder)`` (a ``from_pretrained``), with unreadable or missing weights as one line."""
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs = {"torch_dtype": dtype, "low_cpu_mem_usage": importlib.util.find_spec("accelerate") is not None}
    try:
        return loader(folder, **kwargs)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingWeightsError(f"cannot load {folder} ({first}); "
                                  "pass --model with a complete model folder") from None


def scheduler_config(folder: Path) -> dict[str, Any]:
    """The folder's scheduler/scheduler_config.json, else DDPM's linear schedule over 1000 steps."""
    path = folder / "scheduler" / "scheduler_config.json"
    if path.exists():
        config: dict[str, Any] = json.loads(path.read_text())
        return config
    return {"num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}


def make_scheduler(kind: str, config: dict[str, Any], latent: bool) -> Any:
    """A fresh DDIM or DPM-Solver++ scheduler from the model's scheduler config.

    Latent models never clip the predicted x0 to [-1, 1] (latents are not pixels).
    """
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if kind not in SCHEDULERS:
        raise DgrError(f"unknown scheduler {kind!r}; use -o scheduler= one of {', '.join(SCHEDULERS)}")
    if kind == "ddim":
        return DDIMScheduler.from_config(config, **({"clip_sample": False} if latent else {}))
    return DPMSolverMultistepScheduler.from_config(config)


def seeded_noise(seeds: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """One CPU ``torch.Generator`` per image: an image's noise depends on its seed only,
    not on the batch it is generated in or on the device."""
    return torch.stack([torch.randn(tuple(shape), generator=torch.Generator().manual_seed(int(s))) for s in seeds])


def sdedit_start(scheduler: Any, steps: int, strength: float, x0: torch.Tensor,
                 noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise the prototypes ``x0`` to the step where ``strength`` of the schedule remains.

    Returns (noisy latents, the remaining timesteps). ``strength`` 1 starts from pure noise.
    """
    scheduler.set_timesteps(steps)
    all_steps = scheduler.timesteps
    n = len(all_steps)
    keep = max(1, min(n, int(round(n * strength))))
    timesteps = all_steps[n - keep:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(n - keep)
    if strength >= 1.0:
        return noise * scheduler.init_noise_sigma, timesteps
    return scheduler.add_noise(x0, noise, timesteps[:1].repeat(len(x0))), timesteps


def guided(pred: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance on a [cond; uncond] prediction batch."""
    cond, uncond = pred.chunk(2)
    return uncond + guidance * (cond - uncond)
