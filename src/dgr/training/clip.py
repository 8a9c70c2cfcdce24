"""Train a small CLIP on a dataset's training split (``dgr train clip``): contrastive image–text
training of an open_clip model config sized for a CPU.

- **Model**: an open_clip ``CLIP`` from a config written here: a small ViT image tower at the
  dataset's resolution (8×8 digits: patch 2, 16 tokens) and a small text transformer with
  open_clip's own BPE tokenizer.
- **Captions**: each image is paired with its class name put into a prompt template drawn at
  random (the templates the ``clip`` detector uses for that dataset).
- **Loss**: CLIP's symmetric cross-entropy over the batch's image–caption similarities; captions of
  the same class are all positives (their targets share the probability mass), so two images of
  one class are not pushed apart.
- **Calibration**: a slice of the training split is held out; the logit scale is refitted on it
  (minimum negative log-likelihood) and written into the model, so the detector's softmax, which
  uses the model's own scale, is calibrated.
- **Report**: zero-shot accuracy and ECE (before and after the refit) on the test split (else the
  held-out slice), measured on the saved folder reloaded through open_clip.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import attrs

from dgr.datasets import LabelledImages
from dgr.datasets.description import Data
from dgr.rundir import dumps, share_files
from dgr.training.checkpoints import refuse_divergence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

Callback = Callable[[int, float], None]
VOCAB_SIZE = 49408  # open_clip's BPE tokenizer


@attrs.frozen
class ClipTraining:
    """How ``train_clip`` trains a small CLIP; ``dgr train clip`` reads its defaults."""

    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    embed_dim: int = 64
    patch_size: int | None = None  # None: from the image side (training.sizing.patch_size_for)
    image_size: int | None = None  # None: the dataset's side
    vision_width: int = 64
    vision_layers: int = 3
    vision_head_width: int = 16
    text_width: int = 32
    text_layers: int = 2
    text_heads: int = 2
    context_length: int = 24
    templates: tuple[str, ...] = ()  # () = the clip detector's templates for the dataset
    holdout: float = 0.1
    calibrate: bool = True
    seed: int = 0
    device: str = "cpu"

    def resolved(self, side: int) -> "ClipTraining":
        """These settings with every None default decided, for images of ``side`` px."""
        from dgr.training.sizing import patch_size_for

        return attrs.evolve(self, patch_size=self.patch_size or patch_size_for(self.image_size or side))

    def model_config(self, side: int) -> dict[str, Any]:
        """The open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) for images of
        ``side`` px."""
        size = self.image_size or side
        patch = self.resolved(side).patch_size
        return {
            "embed_dim": self.embed_dim,
            "vision_cfg": {"image_size": size, "layers": self.vision_layers, "width": self.vision_width,
                           "patch_size": patch, "head_width": self.vision_head_width},
            "text_cfg": {"context_length": self.context_length, "vocab_size": VOCAB_SIZE, "width": self.text_width,
                         "heads": self.text_heads, "layers": self.text_layers},
        }


def train_clip(data: Data, out: str | Path, settings: ClipTraining = ClipTraining(),
               test: Data | None = None, on_step: Callback | None = None) -> dict[str, Any]:
    """Train, refit the logit scale on the held-out slice, save ``out``, reload it and report. Settings
    left None take their defaults (:meth:`ClipTraining.resolved`), as ``dgr train clip``'s do."""
    import math
    import tempfile

    import numpy as np
    import open_clip
    import torch
    from torch.nn import functional as F

    from dgr.models import clip
    from dgr.training.detector import _crop_flip, _split, calibration_error, fit_temperature

    info = data.info
    if info.height != info.width:
        raise ValueError("dgr train clip expects square images")
    settings = settings.resolved(info.height)
    torch.manual_seed(settings.seed)
    name = clip.model_name(info.name)
    model_cfg = settings.model_config(info.height)
    with tempfile.TemporaryDirectory() as tmp:  # register the config under its name, as loading will
        config_path = Path(tmp) / f"{name}.json"
        config_path.write_text(json.dumps(model_cfg))
        open_clip.add_model_config(config_path)
        model = open_clip.create_model(name, device=settings.device)
    tokenizer = open_clip.get_tokenizer(name)
    pre = dict(open_clip.get_model_preprocess_cfg(model))
    size = pre["size"] if isinstance(pre["size"], (tuple, list)) else (pre["size"], pre["size"])

    def prepare(x: "torch.Tensor") -> "torch.Tensor":
        return clip.to_clip_input(x, size, pre["mean"], pre["std"], pre.get("interpolation", "bicubic"))

    names = clip.prompt_names(info.words)
    templates = tuple(settings.templates) or clip.default_templates(info.name)
    # tokens[class, template] → [K, T, context]
    tokens = torch.stack([tokenizer([t.format(n) for t in templates]) for n in names]).to(settings.device)

    hold, train = _split(len(data), settings.holdout, settings.seed)
    # in memory the split is one tensor; an ImageFolderIndex is read batch by batch (the same pixels)
    x = torch.from_numpy(np.ascontiguousarray(data.images)) if isinstance(data, LabelledImages) else None

    def rows(idx: Any) -> Any:
        return x[idx] if x is not None else torch.from_numpy(data.images[np.asarray(idx)])

    y = torch.from_numpy(data.labels).long()
    train_t = torch.from_numpy(train)
    augment = _crop_flip(False)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=settings.learning_rate,
                                                   total_steps=settings.steps, pct_start=0.1)
    g = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    model.train()
    loss_value = float("nan")
    perm, pos = train_t[torch.randperm(len(train_t), generator=g)], 0
    for step in range(1, settings.steps + 1):
        if pos + settings.batch_size > len(perm):
            perm, pos = train_t[torch.randperm(len(train_t), generator=g)], 0
        idx = perm[pos:pos + settings.batch_size]
        pos += settings.batch_size
        labels = y[idx].to(settings.device)
        pick = torch.randint(0, len(templates), (len(idx),), generator=g).to(settings.device)
        img = F.normalize(model.encode_image(prepare(augment(rows(idx), g).to(settings.device))), dim=-1)
        # each caption the batch drew, once (the others have no gradient): the text tower's memory and
        # time follow the batch, not the class count
        drawn, caption_of_image = torch.unique(labels * len(templates) + pick, return_inverse=True)
        txt = F.normalize(model.encode_text(tokens.flatten(0, 1)[drawn]), dim=-1)[caption_of_image]
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        same = (labels[:, None] == labels[None, :]).float()
        target = same / same.sum(1, keepdim=True)
        loss = 0.5 * (torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
                      + torch.sum(-target * F.log_softmax(logits.T, 1), 1).mean())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        loss_value = loss.item()
        if on_step is not None:
            on_step(step, loss_value)
    seconds = round(time.perf_counter() - start, 1)
    refuse_divergence(math.isfinite(loss_value), f"loss {loss_value} at step {settings.steps}", "--lr",
                      settings.learning_rate)
    model.eval()

    hold_t = torch.from_numpy(hold)
    trained_scale = float(model.logit_scale.detach().exp())
    cosines = torch.cat([torch.zeros(0, len(names))] + [
        part for part, _ in _cosine_chunks(model, tokenizer, prepare, names, templates, settings.device,
                                           ((rows(c), y[c]) for c in hold_t.split(SCORE_CHUNK)))])
    temperature = fit_temperature(cosines * trained_scale, y[hold_t]) if settings.calibrate else 1.0
    fitted_scale = trained_scale / temperature
    with torch.no_grad():
        model.logit_scale.fill_(math.log(fitted_scale))
    meta = {"dataset": info.name, "class_names": list(info.class_names), "templates": list(templates),
            "image_size": [info.height, info.width], "channels": info.channels,
            "logit_scale_trained": round(trained_scale, 3), "logit_scale": round(fitted_scale, 3),
            "training": {**attrs.asdict(settings), "templates": list(templates)}}
    clip.save_folder(model, out, name, model_cfg, meta)
    share_files(Path(out) / clip.WEIGHTS_FILE)

    # the report comes from the folder as the detector loads it (float16 weights, open_clip's loader)
    loaded, tokenizer, pre, _ = clip.load_folder(out, settings.device)
    if test is None:
        where, chunks = "held-out", ((rows(c), y[c]) for c in hold_t.split(SCORE_CHUNK))
    else:  # a chunk at a time: a streamed test split is read from disk (an unreadable file drops out)
        where, chunks = "test", ((torch.from_numpy(x), torch.from_numpy(labels).long())
                                 for x, labels in _labelled_chunks(test))
    scale = float(loaded.logit_scale.detach().exp())
    # per image only (right or not, its confidence at each scale): memory follows the split, not split × classes
    hits, confident = _zero_shot_hits(_cosine_chunks(loaded, tokenizer, prepare, names, templates, settings.device,
                                                     chunks), (trained_scale, scale))
    report = {
        "split": where, "images": int(len(hits)),
        "zero_shot_accuracy": float(hits.float().mean()),
        "ece_trained_scale": calibration_error(*confident[0]),
        "ece": calibration_error(*confident[1]),
        "logit_scale_trained": round(trained_scale, 3), "logit_scale": round(scale, 3),
        "holdout_images": int(len(hold)), "train_images": int(len(train)), "steps": settings.steps,
        "seconds": seconds, "parameters": sum(p.numel() for p in loaded.parameters()),
        "megabytes": round(sum(f.stat().st_size for f in Path(out).iterdir()) / 1e6, 2),
    }
    meta["report"] = report
    (Path(out) / clip.META_FILE).write_text(dumps({"model_name": name, **meta}, indent=2) + "\n")
    return report


SCORE_CHUNK = 1024  # images read at a time when scoring the held-out slice or the test split


def _labelled_chunks(data: Data) -> "Iterator[tuple[np.ndarray, np.ndarray]]":
    """A split :data:`SCORE_CHUNK` images at a time, in order: ``(images, labels)``."""
    if isinstance(data, LabelledImages):
        for i in range(0, len(data), SCORE_CHUNK):
            yield data.images[i:i + SCORE_CHUNK], data.labels[i:i + SCORE_CHUNK]
    else:
        yield from data.labelled_batches(SCORE_CHUNK)


def _cosine_chunks(model: Any, tokenizer: Any, prepare: Callable[["torch.Tensor"], "torch.Tensor"],
                   names: Sequence[str], templates: Sequence[str], device: str,
                   chunks: "Iterable[tuple[torch.Tensor, torch.Tensor]]"
                   ) -> "Iterator[tuple[torch.Tensor, torch.Tensor]]":
    """For each ``(images, labels)`` of ``chunks``, the zero-shot cosines ``[n, K]`` of the images and
    their labels (the class embeddings computed once)."""
    import torch

    from dgr.models import clip

    with torch.no_grad():
        text = clip.class_embeddings(model, tokenizer, names, templates, device)
    for images, labels in chunks:
        yield clip.image_cosines(model, prepare, images, text, device), labels


def _zero_shot_hits(scored: "Iterable[tuple[torch.Tensor, torch.Tensor]]", scales: Sequence[float]
                    ) -> tuple["torch.Tensor", list[tuple["torch.Tensor", "torch.Tensor"]]]:
    """Over the ``(cosines, labels)`` chunks of :func:`_cosine_chunks`: whether the zero-shot class is
    right ``[N]``, and for each logit scale each image's top softmax probability and whether that
    class is right (what :func:`~dgr.training.detector.calibration_error` needs), without keeping
    ``[N, K]`` scores."""
    import torch

    hits: list["torch.Tensor"] = [torch.zeros(0, dtype=torch.bool)]
    confident: list[list[tuple["torch.Tensor", "torch.Tensor"]]] = [[] for _ in scales]
    for cosines, labels in scored:
        hits.append(cosines.argmax(1) == labels)
        for kept, scale in zip(confident, scales):
            top, predicted = torch.softmax(cosines * scale, 1).max(1)
            kept.append((top, predicted == labels))
    return torch.cat(hits), [(torch.cat([c for c, _ in kept] or [torch.zeros(0)]),
                              torch.cat([r for _, r in kept] or [torch.zeros(0, dtype=torch.bool)]))
                             for kept in confident]
