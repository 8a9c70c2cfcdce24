"""A CLIP model as a folder, loaded through open_clip, and the zero-shot helpers that
``dgr train clip`` and the ``clip`` detector share.

A dgr CLIP folder holds three files:

- ``<name>.json``: the open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``); its
  file name is the architecture name, as open_clip's config registry requires;
- ``open_clip_model.safetensors``: the weights (float16 on disk, float32 once loaded);
- ``dgr_clip.json``: the class names and prompt templates the model was trained with, the fitted
  logit scale and the training report.

Loading registers the config with ``open_clip.add_model_config`` and calls
``open_clip.create_model_and_transforms(name, pretrained=<the safetensors file>)``: the code path
of ``ViT-B-32:/path/to/checkpoint.pt``. Plain open_clip loads the folder the same way.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from dgr.errors import MissingWeightsError

if TYPE_CHECKING:  # pragma: no cover
    import torch

# A prompt ensemble from the CLIP paper's zero-shot evaluation; a dataset's description may give
# its own (digits: the MNIST ones).
GENERIC_TEMPLATES = ("a photo of a {}.", "a blurry photo of a {}.", "a low resolution photo of a {}.",
                     "a photo of the small {}.", "a drawing of a {}.", "a close-up photo of a {}.")

META_FILE = "dgr_clip.json"
WEIGHTS_FILE = "open_clip_model.safetensors"


def model_name(dataset: str) -> str:
    """The open_clip architecture name of a dataset's CLIP (``dgr-digits-clip``)."""
    safe = "".join(c if c.isalnum() else "-" for c in Path(dataset).name.lower()).strip("-") or "data"
    return f"dgr-{safe}-clip"


def default_templates(dataset: str) -> tuple[str, ...]:
    """The prompt templates of ``dataset``'s description, else :data:`GENERIC_TEMPLATES`."""
    from dgr.datasets import known_description

    description = known_description(dataset)
    return (description.prompt_templates if description else ()) or GENERIC_TEMPLATES


def prompt_names(class_names: Sequence[str]) -> list[str]:
    """Class names (as people say them, ``DatasetInfo.words``) as prompts say them: ``_`` and ``-``
    read as spaces."""
    return [n.replace("_", " ").replace("-", " ") for n in class_names]


def is_clip_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a CLIP that ``dgr train clip`` wrote."""
    return (Path(path) / META_FILE).is_file()


def read_folder(folder: str | Path) -> tuple[Path, Path, dict[str, Any]]:
    """(model config .json, weights file, dgr metadata) of a dgr CLIP folder; one-line errors."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise MissingWeightsError(f"{folder} is not a dgr CLIP folder (no {META_FILE}); make one with "
                                  "`dgr train clip --dataset NAME --out DIR`")
    meta = json.loads(meta_path.read_text())
    config = folder / f"{meta['model_name']}.json"
    weights = folder / WEIGHTS_FILE
    missing = [p.name for p in (config, weights) if not p.is_file()]
    if missing:
        raise MissingWeightsError(f"CLIP folder {folder} lacks {', '.join(missing)}; retrain it with "
                                  "`dgr train clip --out DIR`")
    return config, weights, meta


def save_folder(model: Any, out: str | Path, model_name: str, model_cfg: dict[str, Any],
                meta: dict[str, Any]) -> Path:
    """Write the three files of a dgr CLIP folder (weights as float16)."""
    from safetensors.torch import save_file

    from dgr.rundir import dumps

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{model_name}.json").write_text(dumps(model_cfg, indent=2) + "\n")
    state = {k: v.detach().to("cpu").half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE))
    (out / META_FILE).write_text(dumps({"model_name": model_name, **meta}, indent=2) + "\n")
    return out


def load_folder(folder: str | Path, device: str = "cpu") -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """(model, tokenizer, preprocess config, dgr metadata): open_clip's registry + a local checkpoint."""
    import open_clip

    config, weights, meta = read_folder(folder)
    open_clip.add_model_config(config)
    model, _, _ = open_clip.create_model_and_transforms(config.stem, pretrained=str(weights), device=device)
    tokenizer = open_clip.get_tokenizer(config.stem)
    return model.eval(), tokenizer, dict(open_clip.get_model_preprocess_cfg(model)), meta


SCORE_BATCH = 32  # images a forward pass when scoring (a ViT's attention over a batch is the peak memory)


def to_clip_input(images: "torch.Tensor", size: Sequence[int], mean: Sequence[float], std: Sequence[float],
                  interpolation: str = "bicubic") -> "torch.Tensor":
    """[0, 1] images ``[B, C, H, W]`` → the model's input: 3 channels, its size, its normalisation."""
    import torch
    from torch.nn import functional as F

    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != tuple(size):
        mode = "bicubic" if interpolation == "bicubic" else "bilinear"
        x = F.interpolate(x, size=tuple(size), mode=mode, align_corners=False,
                          antialias=x.shape[-1] > size[-1]).clamp(0, 1)
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def class_embeddings(model: Any, tokenizer: Any, names: Sequence[str], templates: Sequence[str],
                     device: str = "cpu") -> "torch.Tensor":
    """One unit vector per class: the renormalised mean of its prompts' text embeddings
    (prompt ensembling, as in the CLIP paper)."""
    from torch.nn import functional as F
    import torch

    rows = []
    for name in names:
        tokens = tokenizer([t.format(name) for t in templates]).to(device)
        emb = F.normalize(model.encode_text(tokens).float(), dim=-1).mean(0)
        rows.append(F.normalize(emb, dim=0))
    return torch.stack(rows)


def image_cosines(model: Any, prepare: Callable[["torch.Tensor"], "torch.Tensor"], images: "torch.Tensor",
                  text: "torch.Tensor", device: str = "cpu", batch_size: int = SCORE_BATCH) -> "torch.Tensor":
    """Cosine similarities ``[N, K]`` between the embeddings of ``images`` (``batch_size`` a forward
    pass) and the class embeddings ``text`` (:func:`class_embeddings`)."""
    import torch
    from torch.nn import functional as F

    with torch.no_grad():
        img = torch.cat([F.normalize(model.encode_image(prepare(c.to(device))).float(), dim=-1)
                         for c in images.split(batch_size)])
        return (img @ text.T).cpu()
