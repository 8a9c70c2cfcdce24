"""Generator ``sd``: Stable Diffusion 1.x/2.x img2img from prototype latents (D4M-style).

Real images are VAE-encoded, k-means prototypes live in the VAE latent space, and each image
is denoised from its noised prototype at ``strength`` with a class prompt. The safety checker
is never loaded (dgr writes training data, not images for people; see docs/generators.md).
"""
from __future__ import annotations

from typing import Any

import attrs

import dgr
from dgr_plugins.generators.diffusion.options import check_diffusion_options


@attrs.frozen
class SDOptions:
    """``-o`` options of ``sd``.

    strength: how much of the schedule is re-run from the noised prototype (1 = pure noise).
    guidance: classifier-free guidance scale (D4M uses 8, VLCP 10; 1 = none).
    steps: scheduler steps of the full schedule (``strength`` × steps are run).
    prompt: template; ``{class}`` becomes the class name.
    negative_prompt: what to steer away from ("" = the unconditional prompt).
    scheduler: ddim or dpm (DPM-Solver++).
    dtype: auto (float16 on CUDA, float32 elsewhere), float32, float16, bfloat16.
    class_map: JSON file {dataset class: words to prompt with}.
    resolution: side of the model's input in pixels (default: the UNet's sample size × 8).
    size: output side in pixels (default: the dataset's resolution).
    """

    strength: float = 0.7
    guidance: float = 8.0
    steps: int = 50
    prompt: str = "a photo of a {class}"
    negative_prompt: str = ""
    scheduler: str = "ddim"
    dtype: str = "auto"
    class_map: str | None = None
    resolution: int | None = None
    size: int | None = None

    def __attrs_post_init__(self) -> None:
        check_diffusion_options(self)
        if self.resolution is not None and self.resolution < 8:
            raise ValueError("resolution must be at least 8 (Stable Diffusion wants a multiple of 64)")


def make_sd(context: Any) -> Any:
    """The ``sd`` generator for ``context``."""
    from dgr_plugins.generators.sd.generator import SDGenerator

    return SDGenerator.from_context(context)


@dgr.hookimpl
def dgr_register_generators(register: dgr.Register) -> None:
    """Register the ``sd`` generator."""
    register("sd", make_sd, config=SDOptions, requires=("torch", "diffusers", "transformers"),
             summary="Stable Diffusion 1.x/2.x img2img from prototype latents; needs --model (folder or cached hub id)")
