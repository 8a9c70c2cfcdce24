"""Generator ``dit``: a diffusers class-conditional DiT, prototype-guided (SDEdit from the
noised prototype, classifier-free guidance). Latent space with a VAE (DiT-XL-2 layout) or
pixel space without one (the embedded digits model). See docs/generators.md."""
from __future__ import annotations

from typing import Any

import attrs

import dgr


@attrs.frozen
class DiTOptions:
    """``-o`` options of ``dit``.

    strength: how much of the schedule is re-run from the noised prototype (1 = pure noise).
    steps: scheduler steps of the full schedule (``strength`` × steps are run).
    guidance: classifier-free guidance scale (1 = none).
    scheduler: ddim or dpm (DPM-Solver++).
    dtype: auto (float16 on CUDA, float32 elsewhere), float32, float16, bfloat16.
    class_map: JSON file {dataset class: model class id or label}.
    size: output side in pixels (default: the dataset's resolution).
    """

    strength: float = 0.7
    steps: int = 25
    guidance: float = 2.0
    scheduler: str = "ddim"
    dtype: str = "auto"
    class_map: str | None = None
    size: int | None = None

    def __attrs_post_init__(self) -> None:
        if not 0.0 < self.strength <= 1.0:
            raise ValueError("strength must be in (0, 1]")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.scheduler not in ("ddim", "dpm"):
            raise ValueError("scheduler must be ddim or dpm")
        if self.size is not None and self.size < 1:
            raise ValueError("size must be at least 1")


def make_dit(context: Any) -> Any:
    from dgr_plugins.dit_generator import DiTGenerator

    return DiTGenerator.from_context(context)


@dgr.hookimpl
def dgr_register_generators(register):
    register("dit", make_dit, config=DiTOptions, requires=("torch", "diffusers"),
             summary="diffusers DiT (class-conditional); embedded pixel-space model when no --model")
