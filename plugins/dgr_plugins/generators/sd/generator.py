"""The Stable Diffusion img2img generator (imports torch, diffusers and transformers)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from dgr.components import BuildContext, DatasetInfo
from dgr.errors import DgrError, MissingWeightsError
from dgr.imaging import from_model_space, to_model_space
from dgr_plugins.generators.diffusion.classmap import prompt_names, read_class_map
from dgr_plugins.generators.diffusion.sampling import (guided, in_batches, load_part, make_scheduler,
                                                      scheduler_config, sdedit_start, seeded_noise, torch_dtype)
from dgr_plugins.generators.diffusion.weights import require_subfolders, resolve_model_folder

PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


class SDGenerator:
    """Prototype latents → noised at ``strength`` → denoised with a class prompt (CFG)."""

    def __init__(self, unet: Any, vae: Any, text_encoder: Any, tokenizer: Any, scheduler_config: dict[str, Any],
                 class_prompts: Sequence[str], dataset: DatasetInfo, options: Any, device: str = "cpu",
                 batch_size: int = 64, resolution: int | None = None) -> None:
        self.unet = unet.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder.eval()
        self.tokenizer = tokenizer
        self.scheduler_config = scheduler_config
        self.class_prompts = list(class_prompts)
        self.dataset = dataset
        self.options = options
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dtype = next(unet.parameters()).dtype
        self.vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)
        self.pixel_size = resolution or int(unet.config.sample_size) * self.vae_scale
        self.latent_size = self.pixel_size // self.vae_scale
        self.latent_channels = int(unet.config.in_channels)
        self.out_size = (options.size, options.size) if options.size else (dataset.height, dataset.width)
        self._embeddings: dict[str, torch.Tensor] = {}

    @classmethod
    def from_context(cls, context: BuildContext) -> "SDGenerator":
        """Load the Stable Diffusion folder or cached hub id --model names."""
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        options = context.config
        if context.model is None:
            raise MissingWeightsError("generator 'sd' needs --model: a Stable Diffusion 1.x/2.x folder or a cached "
                                      "hub id such as runwayml/stable-diffusion-v1-5")
        folder = resolve_model_folder(context.model, context.dataset.name)
        require_subfolders(folder, PARTS, "Stable Diffusion (StableDiffusionPipeline layout)")
        dtype = torch_dtype(options.dtype, context.device)
        unet = load_part(UNet2DConditionModel.from_pretrained, folder / "unet", dtype)
        vae = load_part(AutoencoderKL.from_pretrained, folder / "vae", dtype)
        text_encoder = load_part(CLIPTextModel.from_pretrained, folder / "text_encoder", dtype)
        tokenizer = load_part(CLIPTokenizer.from_pretrained, folder / "tokenizer")
        check_resolution(options.resolution, vae, unet)
        prompts = [options.prompt.replace("{class}", name)
                   for name in prompt_names(context.dataset, read_class_map(options.class_map))]
        device = context.device
        return cls(unet.to(device), vae.to(device), text_encoder.to(device), tokenizer, scheduler_config(folder),
                   prompts, context.dataset, options, device, context.batch_size, options.resolution)

    # --- the Generator protocol -------------------------------------------------------
    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images → VAE latent means × the VAE scaling factor (the space prototypes live in)."""
        out = []
        for chunk in images.split(self.batch_size):
            x = to_model_space(chunk, 3, self.pixel_size).to(self.device, self.dtype)
            latents = self.vae.encode(x).latent_dist.mean * self.vae.config.scaling_factor
            out.append(latents.float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def generate(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        """One image per (prototype, label, seed), in batches."""
        return in_batches(self._generate_batch, prototypes, labels, seeds, self.batch_size)

    # --- internals ---------------------------------------------------------------------
    def prompt_for(self, label: int) -> str:
        """The prompt of the dataset's class ``label``."""
        return self.class_prompts[int(label)]

    def model_class(self, class_index: int) -> str:
        """SD is given a class as its prompt."""
        return self.prompt_for(class_index)

    def _embed(self, prompt: str) -> torch.Tensor:
        """The text encoder's last hidden state for one prompt, cached ([1, 77, D])."""
        if prompt not in self._embeddings:
            tokens = self.tokenizer(prompt, padding="max_length", max_length=self.tokenizer.model_max_length,
                                    truncation=True, return_tensors="pt")
            hidden = self.text_encoder(tokens.input_ids.to(self.device))[0]
            self._embeddings[prompt] = hidden.to(self.dtype)
        return self._embeddings[prompt]

    def _generate_batch(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        opts = self.options
        scheduler = make_scheduler(opts.scheduler, self.scheduler_config, latent=True)
        shape = (self.latent_channels, self.latent_size, self.latent_size)
        if tuple(prototypes.shape[1:]) != shape:
            raise DgrError(f"prototype latents of shape {tuple(prototypes.shape[1:])} do not fit the UNet's {shape}")
        noise = seeded_noise(seeds, shape)
        x, timesteps = sdedit_start(scheduler, opts.steps, opts.strength, prototypes.float(), noise)
        x = x.to(self.device)
        cond = torch.cat([self._embed(self.prompt_for(c)) for c in labels])
        cfg = opts.guidance > 1.0
        context = torch.cat([cond, self._embed(opts.negative_prompt).expand_as(cond)]) if cfg else cond
        for t in timesteps:
            x_in = scheduler.scale_model_input(torch.cat([x, x]) if cfg else x, t).to(self.dtype)
            pred = self.unet(x_in, t.to(self.device), encoder_hidden_states=context).sample.float()
            x = scheduler.step(guided(pred, opts.guidance) if cfg else pred, t, x.float()).prev_sample
        images = self.vae.decode((x / self.vae.config.scaling_factor).to(self.dtype)).sample
        return from_model_space(images.float().cpu(), self.dataset.channels, self.out_size)


def check_resolution(resolution: int | None, vae: Any, unet: Any) -> None:
    """The UNet halves its input len(blocks) − 1 times: the latent side must divide evenly."""
    if resolution is None:
        return
    vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)
    multiple = vae_scale * 2 ** (len(unet.config.block_out_channels) - 1)
    if resolution % multiple:
        raise DgrError(f"resolution {resolution} is not a multiple of {multiple} for this model; "
                       f"pass -o resolution={max(multiple, resolution // multiple * multiple)}")

