"""Generator ``dit``: a diffusers class-conditional DiT, prototype-guided (SDEdit from the
noised prototype, classifier-free guidance). Latent space with a VAE (DiT-XL-2 layout) or
pixel space without one (the embedded digits model). See docs/generators.md."""
from __future__ import annotations

from typing import Any

import attrs

import dgr
from dgr_plugins.generators.diffusion.options import check_diffusion_options


# A folder made by `dgr train generator` records its images' shape in dgr_model.json; without
# --model, dit loads the dataset's shipped generator (digits).
DIT_FOLDER = dgr.ModelFolder("dgr_model.json", "channels", shipped=True)


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
        check_diffusion_options(self)


def make_dit(context: Any) -> Any:
    """The ``dit`` generator for ``context``."""
    from dgr_plugins.generators.dit.generator import DiTGenerator

    return DiTGenerator.from_context(context)


@dgr.hookimpl
def dgr_register_generators(register: dgr.Register) -> None:
    """Register the ``dit`` generator."""
    register("dit", make_dit, config=DiTOptions, requires=("torch", "diffusers"), model_folder=DIT_FOLDER,
             summary="diffusers DiT (class-conditional); embedded pixel-space model when no --model")
