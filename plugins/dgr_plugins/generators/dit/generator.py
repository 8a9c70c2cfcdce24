"""The DiT generator itself (imports torch and diffusers; loaded only when used)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch

from dgr.components import BuildContext, DatasetInfo
from dgr.imaging import from_model_space, to_model_space
from dgr_plugins.generators.diffusion.classmap import (IMAGENET_CLASSES, IMAGENET_SPACE, map_to_ids, read_class_map,
                                                      read_id2label)
from dgr_plugins.generators.diffusion.sampling import (guided, in_batches, load_part, make_scheduler,
                                                      scheduler_config, sdedit_start, seeded_noise, torch_dtype)
from dgr_plugins.generators.diffusion.weights import require_subfolders, resolve_model_folder
from dgr_plugins.generators.dit import DIT_FOLDER

META_FILE = DIT_FOLDER.meta_file  # a dgr-trained DiT's record: classes, shape, training


class DiTGenerator:
    """Prototype-guided class-conditional DiT sampling with classifier-free guidance."""

    def __init__(self, transformer: Any, scheduler_config: dict[str, Any], vae: Any, class_ids: list[int],
                 dataset: DatasetInfo, options: Any, device: str = "cpu", batch_size: int = 64) -> None:
        self.transformer = transformer.eval()
        self.scheduler_config = scheduler_config
        self.vae = vae.eval() if vae is not None else None
        self.class_ids = class_ids
        self.null_class = int(transformer.config.num_embeds_ada_norm)
        self.dataset = dataset
        self.options = options
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dtype = next(transformer.parameters()).dtype
        cfg = transformer.config
        self.latent_channels = int(cfg.in_channels)
        self.latent_size = int(cfg.sample_size)
        if self.vae is not None:
            scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
            self.pixel_size = self.latent_size * scale
            self.pixel_channels = int(self.vae.config.in_channels)
        else:
            self.pixel_size = self.latent_size
            self.pixel_channels = self.latent_channels
        size = getattr(options, "size", None)
        self.out_size = (size, size) if size else (dataset.height, dataset.width)

    @classmethod
    def from_context(cls, context: BuildContext) -> "DiTGenerator":
        """Load the DiT folder (--model, else the dataset's embedded one) and map the classes."""
        from diffusers import AutoencoderKL, DiTTransformer2DModel

        options = context.config
        folder = resolve_model_folder(context.model, context.dataset.name)
        require_subfolders(folder, ("transformer",), "DiT model (DiTPipeline layout)")
        dtype = torch_dtype(options.dtype, context.device)
        transformer = load_part(DiTTransformer2DModel.from_pretrained, folder / "transformer", dtype)
        vae = load_part(AutoencoderKL.from_pretrained, folder / "vae", dtype) if (folder / "vae").is_dir() else None
        class_ids = map_classes(context.dataset, folder, int(transformer.config.num_embeds_ada_norm),
                                getattr(options, "class_map", None))
        return cls(transformer.to(context.device), scheduler_config(folder),
                   vae.to(context.device) if vae is not None else None,
                   class_ids, context.dataset, options, context.device, context.batch_size)

    # --- the Generator protocol -------------------------------------------------------
    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] → the model's space: pixels in [-1, 1] at its size, or VAE latents."""
        out = []
        for chunk in images.split(self.batch_size):
            x = to_model_space(chunk, self.pixel_channels, self.pixel_size).to(self.device, self.dtype)
            if self.vae is not None:
                x = self.vae.encode(x).latent_dist.mean * self.vae.config.scaling_factor
            out.append(x.float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def generate(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        """One image per (prototype, label, seed), in batches."""
        return in_batches(self._generate_batch, prototypes, labels, seeds, self.batch_size)

    def model_class(self, class_index: int) -> int:
        """The DiT class id the dataset's class ``class_index`` is generated as."""
        return self.class_ids[class_index]

    # --- internals ---------------------------------------------------------------------
    def _generate_batch(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        opts = self.options
        scheduler = make_scheduler(opts.scheduler, self.scheduler_config, latent=self.vae is not None)
        shape = (self.latent_channels, self.latent_size, self.latent_size)
        noise = seeded_noise(seeds, shape)
        x0 = prototypes.reshape(len(seeds), *shape).float()
        x, timesteps = sdedit_start(scheduler, opts.steps, opts.strength, x0, noise)
        x = x.to(self.device)
        model_labels = torch.tensor([self.class_ids[int(c)] for c in labels], device=self.device)
        cfg = opts.guidance > 1.0
        class_input = torch.cat([model_labels, torch.full_like(model_labels, self.null_class)]) if cfg else model_labels
        for t in timesteps:
            x_in = scheduler.scale_model_input(torch.cat([x, x]) if cfg else x, t).to(self.dtype)
            t_in = torch.full((len(x_in),), int(t), device=self.device, dtype=torch.long)
            pred = self.transformer(x_in, timestep=t_in, class_labels=class_input).sample
            pred = pred[:, : self.latent_channels].float()  # learned-sigma models predict 2C channels
            eps = guided(pred, opts.guidance) if cfg else pred
            x = scheduler.step(eps, t, x.float()).prev_sample
        if self.vae is not None:
            x = self.vae.decode((x / self.vae.config.scaling_factor).to(self.dtype)).sample
        return from_model_space(x.float().cpu(), self.dataset.channels, self.out_size)


def map_classes(dataset: DatasetInfo, folder: Path, num_model_classes: int,
                class_map_file: str | None = None) -> list[int]:
    """Dataset class index → model class id (see :mod:`dgr_plugins.generators.diffusion.classmap`).

    A dgr-trained model lists its classes in dgr_model.json; a DiTPipeline folder carries
    ImageNet ``id2label`` in model_index.json, and a dataset whose classes are ImageNet classes
    (``--dataset imagenet``) gives their ImageNet indices itself.
    """
    meta_path = folder / META_FILE
    trained = json.loads(meta_path.read_text()).get("class_names") if meta_path.exists() else None
    known = dataset.label_ids if dataset.label_space == IMAGENET_SPACE and num_model_classes == IMAGENET_CLASSES else ()
    return map_to_ids(dataset.class_names, num_model_classes, id2label=read_id2label(folder), trained_names=trained,
                      class_map=read_class_map(class_map_file), known_ids=known, model=f"the DiT in {folder}")
