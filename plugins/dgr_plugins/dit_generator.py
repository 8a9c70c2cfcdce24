"""The DiT generator itself (imports torch and diffusers; loaded only when used)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Sequence

import torch

from dgr.assets import embedded_model
from dgr.components import BuildContext, DatasetInfo
from dgr.errors import DgrError, MissingWeightsError
from dgr.imaging import from_model_space, to_model_space

META_FILE = "dgr_model.json"


def resolve_model_folder(model: str | None, dataset: str, kind: str = "generator") -> Path:
    if model is None:
        folder = embedded_model(kind, dataset)
        if folder is None:
            raise MissingWeightsError(
                f"no embedded {kind} for dataset {dataset!r} (only digits ships one); train one with "
                f"`dgr train {kind} --dataset {dataset} --out DIR` and pass --{'model' if kind == 'generator' else 'detector-model'} DIR")
        return folder
    folder = Path(model).expanduser()
    if folder.is_dir():
        return folder
    return _hub_snapshot(model)


def _hub_snapshot(repo_id: str) -> Path:
    """A hub id resolved from the local cache only: no network call, no retry loop."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        raise MissingWeightsError(
            f"model {repo_id!r} is neither a folder nor in the Hugging Face cache; download it where a "
            f"network exists (`hf download {repo_id}`) or pass --model /path/to/folder") from None


class DiTGenerator:
    """Prototype-guided class-conditional DiT sampling with classifier-free guidance."""

    def __init__(self, transformer, scheduler_config, vae, class_ids: list[int], dataset: DatasetInfo,
                 options, device: str = "cpu", batch_size: int = 64) -> None:
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

    @classmethod
    def from_context(cls, context: BuildContext) -> "DiTGenerator":
        from diffusers import AutoencoderKL, DiTTransformer2DModel

        options = context.config
        folder = resolve_model_folder(context.model, context.dataset.name)
        if not (folder / "transformer").is_dir():
            raise MissingWeightsError(f"{folder} has no transformer/ folder; a DiT model folder holds "
                                      "transformer/, scheduler/ and (for latent models) vae/")
        dtype = _dtype(options.dtype, context.device)
        load = {"torch_dtype": dtype, "low_cpu_mem_usage": importlib.util.find_spec("accelerate") is not None}
        transformer = DiTTransformer2DModel.from_pretrained(folder / "transformer", **load)
        vae = AutoencoderKL.from_pretrained(folder / "vae", **load) if (folder / "vae").is_dir() else None
        scheduler_config = _scheduler_config(folder)
        class_ids = map_classes(context.dataset.class_names, folder, int(transformer.config.num_embeds_ada_norm))
        return cls(transformer.to(context.device), scheduler_config, vae.to(context.device) if vae else None,
                   class_ids, context.dataset, options, context.device, context.batch_size)

    # --- the Generator protocol -------------------------------------------------------
    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for chunk in images.split(self.batch_size):
            x = to_model_space(chunk, self.pixel_channels, self.pixel_size).to(self.device, self.dtype)
            if self.vae is not None:
                x = self.vae.encode(x).latent_dist.mean * self.vae.config.scaling_factor
            out.append(x.float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def generate(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        if not (len(prototypes) == len(labels) == len(seeds)):
            raise ValueError("prototypes, labels and seeds must have the same length")
        out = []
        for start in range(0, len(seeds), self.batch_size):
            sl = slice(start, start + self.batch_size)
            out.append(self._generate_batch(prototypes[sl], labels[sl], list(seeds[sl])))
        return torch.cat(out)

    # --- internals ---------------------------------------------------------------------
    def _scheduler(self):
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        kind = DDIMScheduler if self.options.scheduler == "ddim" else DPMSolverMultistepScheduler
        return kind.from_config(self.scheduler_config)

    def _generate_batch(self, prototypes: torch.Tensor, labels: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        opts = self.options
        scheduler = self._scheduler()
        scheduler.set_timesteps(opts.steps)
        start_steps = max(1, int(round(opts.steps * opts.strength)))
        timesteps = scheduler.timesteps[opts.steps - start_steps:]
        shape = (self.latent_channels, self.latent_size, self.latent_size)
        noise = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        x0 = prototypes.reshape(len(seeds), *shape).float()
        if opts.strength >= 1.0:
            x = noise * scheduler.init_noise_sigma
        else:
            x = scheduler.add_noise(x0, noise, timesteps[:1].repeat(len(seeds)))
        x = x.to(self.device, self.dtype)
        model_labels = torch.tensor([self.class_ids[int(c)] for c in labels], device=self.device)
        null = torch.full_like(model_labels, self.null_class)
        class_input = torch.cat([model_labels, null])
        for t in timesteps:
            x_in = scheduler.scale_model_input(torch.cat([x, x]), t)
            t_in = torch.full((len(x_in),), int(t), device=self.device, dtype=torch.long)
            pred = self.transformer(x_in, timestep=t_in, class_labels=class_input).sample
            pred = pred[:, : self.latent_channels]  # learned-sigma models predict 2C channels
            cond, uncond = pred.chunk(2)
            eps = uncond + opts.guidance * (cond - uncond)
            x = scheduler.step(eps.float(), t, x.float()).prev_sample.to(self.dtype)
        if self.vae is not None:
            x = self.vae.decode(x / self.vae.config.scaling_factor).sample
        return from_model_space(x.float().cpu(), self.dataset.channels, (self.dataset.height, self.dataset.width))


def _dtype(name: str, device: str) -> torch.dtype:
    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    table = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if name not in table:
        raise DgrError(f"unknown dtype {name!r}; use one of auto, {', '.join(table)}")
    return table[name]


def _scheduler_config(folder: Path) -> dict:
    path = folder / "scheduler" / "scheduler_config.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}


def map_classes(class_names: Sequence[str], folder: Path, num_model_classes: int) -> list[int]:
    """Dataset class index → model class id.

    A dgr-trained model lists its classes in dgr_model.json and must match the dataset;
    a model with exactly as many classes as the dataset maps by index.
    """
    meta_path = folder / META_FILE
    if meta_path.exists():
        model_names = json.loads(meta_path.read_text()).get("class_names", [])
        missing = [c for c in class_names if c not in model_names]
        if missing:
            raise DgrError(f"the generator in {folder} knows classes {', '.join(model_names)}, not "
                           f"{', '.join(missing)}; train one on this dataset with `dgr train generator`")
        return [model_names.index(c) for c in class_names]
    if num_model_classes == len(class_names):
        return list(range(len(class_names)))
    raise DgrError(f"cannot map the dataset's {len(class_names)} classes to the model's {num_model_classes}; "
                   "pass -o class_map=FILE.json")
