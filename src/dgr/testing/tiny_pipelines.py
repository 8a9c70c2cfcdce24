"""Random-weight miniatures of the DiT and Stable Diffusion layouts, for tests and benchmarks.

They are built from configs (nothing is downloaded), saved with ``save_pretrained`` and loaded
by ``dit`` / ``sd`` through exactly the code real checkpoints go through. Their images are
noise: they prove the plumbing, not the quality. Imports torch, diffusers and transformers.
"""
from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import torch

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import AutoencoderKL

# CLIP's BPE: 49152 lines, of which the header and the last 256 + 2 are not merges.
CLIP_MERGES = 49152 - 256 - 2


def tiny_vae() -> "AutoencoderKL":
    """An AutoencoderKL that halves the image once: 16×16 RGB ↔ 4×8×8 latents."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
                         norm_num_groups=8, layers_per_block=1, sample_size=16)


def write_clip_tokenizer(folder: str | Path) -> Path:
    """The real CLIP BPE tokenizer files from open_clip's bundled merges (no download).

    Load with ``CLIPTokenizer.from_pretrained(folder)``. (On transformers 5,
    ``CLIPTokenizer(vocab_file=..., merges_file=...)`` silently builds a 2-token vocabulary.)
    """
    from open_clip.tokenizer import bytes_to_unicode, default_bpe

    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1:CLIP_MERGES + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "do_lower_case": True,
        "tokenizer_class": "CLIPTokenizer"}))
    return folder


def save_tiny_dit(folder: str | Path, num_classes: int = 1000, id2label: Mapping[int, str] | None = None,
                  layers: int = 2, seed: int = 0) -> Path:
    """A DiT-XL-2-256 layout in miniature: learned sigma, a VAE, 8×8 latents (16×16 pixels),
    ``id2label`` in model_index.json as the hub's DiT checkpoints carry it."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(seed)
    folder = Path(folder)
    transformer = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                        num_layers=layers, sample_size=8, patch_size=2,
                                        num_embeds_ada_norm=num_classes)
    scheduler = DDIMScheduler(num_train_timesteps=1000, clip_sample=False)
    DiTPipeline(transformer=transformer, vae=tiny_vae(), scheduler=scheduler).save_pretrained(folder)
    if id2label:  # DiTPipeline.save_pretrained does not write it; the hub's model_index.json has it
        index = json.loads((folder / "model_index.json").read_text())
        index["id2label"] = {str(k): v for k, v in id2label.items()}
        (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


def save_tiny_sd(folder: str | Path, seed: int = 0) -> Path:
    """A Stable Diffusion 1.x layout in miniature (PNDM scheduler config as SD 1.5 ships),
    with a real CLIP tokenizer and no safety checker."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp))
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=16,
                                attention_head_dim=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                                num_attention_heads=2, num_hidden_layers=2,
                                                max_position_embeddings=77, bos_token_id=49406,
                                                eos_token_id=49407, pad_token_id=49407))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder
