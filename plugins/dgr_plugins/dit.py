"""Generator ``dit``: a diffusers class-conditional DiT, prototype-guided (SDEdit from the
noised prototype, classifier-free guidance). Latent space with a VAE (DiT-XL-2 layout) or
pixel space without one (the embedded digits model)."""
from __future__ import annotations

import attrs

import dgr


@attrs.frozen
class DiTOptions:
    strength: float = 0.7
    steps: int = 25
    guidance: float = 2.0
    scheduler: str = "ddim"
    dtype: str = "auto"

    def __attrs_post_init__(self) -> None:
        if not 0.0 < self.strength <= 1.0:
            raise ValueError("strength must be in (0, 1]")
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.scheduler not in ("ddim", "dpm"):
            raise ValueError("scheduler must be ddim or dpm")


def make_dit(context):
    from dgr_plugins.dit_generator import DiTGenerator

    return DiTGenerator.from_context(context)


@dgr.hookimpl
def dgr_register_generators(register):
    register("dit", make_dit, config=DiTOptions, requires=("torch", "diffusers"),
             summary="diffusers DiT (class-conditional); embedded pixel-space model when no --model")
