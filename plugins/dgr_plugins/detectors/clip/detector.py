"""The ``clip`` detector itself (imports torch, open_clip and, for probes, scikit-learn)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from dgr.assets import embedded_model
from dgr.components import BuildContext, DatasetInfo, Detection
from dgr.errors import DgrError, MissingWeightsError
from dgr.models import clip
from dgr.models.clip import default_templates
from dgr.network import DOWNLOAD_ENV, downloads_allowed
from dgr.registry import suggest

DEFAULT_MODEL = "ViT-B-32:openai"  # for datasets that ship no CLIP (digits ships one: src/dgr/assets/digits-clip)
SCHEMAS = ("hf-hub:", "local-dir:")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz")


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "DGR_OFFLINE"))


def _may_download() -> bool:
    return downloads_allowed() and not _offline()


def default_model(dataset: str) -> str:
    """The embedded CLIP folder of a dataset that ships one, else ``ViT-B-32:openai``."""
    folder = embedded_model("clip", dataset)
    return str(folder) if folder is not None else DEFAULT_MODEL


def parse_model(spec: str | None) -> tuple[str, str | None]:
    """``ARCH:TAG`` / ``ARCH:/path/ckpt.pt`` / ``hf-hub:org/repo`` → (arch, source).

    An ARCH that is a path to a ``.json`` open_clip model config is registered first.
    """
    import open_clip

    spec = spec or DEFAULT_MODEL
    if spec.startswith(SCHEMAS):
        return spec, None
    arch, sep, source = spec.partition(":")
    if arch.endswith(".json"):
        config = Path(arch)
        if not config.is_file():
            raise MissingWeightsError(f"open_clip model config {config} does not exist; pass an existing .json")
        open_clip.add_model_config(config)
        arch = config.stem
    if arch not in open_clip.list_models():
        raise DgrError(f"unknown open_clip architecture {arch!r}{suggest(arch, open_clip.list_models())}; "
                       "e.g. ViT-B-32, ViT-B-16, ViT-L-14 (all: python -c 'import open_clip; "
                       "print(open_clip.list_models())')")
    if not sep or not source:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        tags = ", ".join(tags[:4]) + (", …" if len(tags) > 4 else "") if tags else "none"
        raise MissingWeightsError(f"--detector-model {arch} names no weights; write {arch}:TAG (tags: {tags}) "
                                  f"or {arch}:/path/to/checkpoint.pt")
    return arch, source


def _cached(cfg: dict[str, Any]) -> str | None:
    """The local file of a pretrained tag, if it has been downloaded before (no network)."""
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return str(cfg["file"])
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(cfg["hf_hub"])
        for name in [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                return hit
    if cfg.get("url"):
        local = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if local.is_file():
            return str(local)
    return None


def _needed(arch: str, tag: str, cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        return f"{filename or 'open_clip_pytorch_model.bin'} from huggingface.co/{repo.rstrip('/')}"
    return cfg.get("url") or cfg.get("file") or f"the {tag} checkpoint of {arch}"


def resolve_checkpoint(arch: str, source: str) -> tuple[str, dict[str, Any]]:
    """A local checkpoint file for ``arch`` + ``source`` (a tag or a path) and the tag's config.

    Reads caches first; downloads only when not offline; a failure is one line naming the
    file and how to pass it.
    """
    import open_clip

    path = Path(source).expanduser()
    if path.is_file():
        return str(path), {}
    if os.sep in source or source.endswith(CHECKPOINT_SUFFIXES):
        raise MissingWeightsError(f"CLIP checkpoint {source} does not exist; pass --detector-model "
                                  f"{arch}:/path/to/checkpoint.pt with an existing file")
    cfg = open_clip.get_pretrained_cfg(arch, source)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise DgrError(f"{arch} has no pretrained tag {source!r}{suggest(source, tags)}; tags: "
                       f"{', '.join(tags) or 'none'}, or pass {arch}:/path/to/checkpoint.pt")
    hint = (f"fetch it where there is internet (python -c \"import open_clip; open_clip.create_model('{arch}', "
            f"pretrained='{source}')\") or pass --detector-model {arch}:/path/to/checkpoint")
    local = _cached(cfg)
    if local is not None:
        return local, cfg
    if not _may_download():
        raise MissingWeightsError(f"CLIP weights {arch}:{source} are not on this machine (need "
                                  f"{_needed(arch, source, cfg)}); {hint}, or set {DOWNLOAD_ENV}=1 to let dgr "
                                  "download it")
    try:
        return open_clip.download_pretrained(cfg), cfg
    except Exception as exc:
        raise MissingWeightsError(f"CLIP weights {arch}:{source} could not be downloaded ({type(exc).__name__}; "
                                  f"need {_needed(arch, source, cfg)}); {hint}") from None


def resolve_hub(spec: str) -> str:
    """``hf-hub:org/repo`` → ``local-dir:<cached snapshot>`` unless downloads are allowed: no
    network call, so a repo that is not cached fails at once instead of retrying."""
    if not spec.startswith("hf-hub:") or _may_download():
        return spec
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    repo = spec[len("hf-hub:"):]
    try:
        folder = Path(snapshot_download(repo, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        folder = None
    if folder is None or not (folder / "open_clip_config.json").is_file():
        raise MissingWeightsError(f"CLIP model {spec} is not in the Hugging Face cache; fetch it where there is "
                                  f"internet (hf download {repo}), set {DOWNLOAD_ENV}=1 to let dgr download it, "
                                  "or pass --detector-model local-dir:/path/to/folder") from None
    return f"local-dir:{folder}"


def spoken_names(dataset: DatasetInfo) -> list[str]:
    """Class names as the prompts say them: the words the dataset's description gives (an ImageNet
    wnid → "tench"), ``_`` and ``-`` read as spaces."""
    return clip.prompt_names(dataset.words)


def require_local_weights(folder: Path) -> None:
    """An open_clip hub-layout folder must hold weights: open_clip itself only warns and goes on
    with random ones."""
    if not any(any(folder.glob(pattern)) for pattern in ("*.safetensors", "*.bin", "*.pth")):
        raise MissingWeightsError(f"open_clip folder {folder} has open_clip_config.json but no weights "
                                  "(open_clip_model.safetensors or open_clip_pytorch_model.bin); copy them in")


def load_open_clip(spec: str | None, device: str = "cpu") -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """(model, tokenizer, preprocess config, dgr metadata) for a ``--detector-model`` spec; never
    downloads unless ``DGR_DOWNLOAD=1``. A dgr CLIP folder (``dgr train clip``) registers its
    config with open_clip and loads its checkpoint, like ``CONFIG.json:CHECKPOINT``."""
    import open_clip

    spec = spec or DEFAULT_MODEL
    if Path(spec).expanduser().is_dir() and not spec.startswith(SCHEMAS):
        folder = Path(spec).expanduser()
        if clip.is_clip_folder(folder):
            try:
                return clip.load_folder(folder, device)
            except DgrError:
                raise
            except Exception as exc:
                raise MissingWeightsError(f"could not load CLIP folder {folder}: "
                                          f"{' '.join(str(exc).split())[:200]}") from None
        if (folder / "open_clip_config.json").is_file():
            spec = f"local-dir:{folder}"
        else:
            raise MissingWeightsError(f"{folder} is neither a dgr CLIP folder ({clip.META_FILE}) nor an open_clip "
                                      "folder (open_clip_config.json); make one with `dgr train clip --out DIR`")
    elif ":" not in spec and (spec.startswith((".", "/", "~")) or os.sep in spec):
        raise MissingWeightsError(f"CLIP folder {spec} does not exist; pass --detector-model with a folder made "
                                  "by `dgr train clip --out DIR`, or ARCH:TAG")
    arch, source = parse_model(resolve_hub(spec))
    if arch.startswith("local-dir:"):
        require_local_weights(Path(arch[len("local-dir:"):]).expanduser())
    try:
        if source is None:  # hf-hub: (downloads allowed) / local-dir: schemas
            model = open_clip.create_model(arch, device=device)
        else:
            checkpoint, cfg = resolve_checkpoint(arch, source)
            preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
            model = open_clip.create_model(arch, pretrained=checkpoint, device=device,
                                           force_quick_gelu=bool(cfg.get("quick_gelu", False)),
                                           force_preprocess_cfg=preprocess or None)
        tokenizer = open_clip.get_tokenizer(arch)
    except DgrError:
        raise
    except Exception as exc:
        raise MissingWeightsError(f"could not load CLIP model {spec}: "
                                  f"{' '.join(str(exc).split())[:200]}") from None
    return model.eval(), tokenizer, dict(open_clip.get_model_preprocess_cfg(model)), {}


class ClipDetector:
    """Zero-shot (prompt-ensembled class embeddings) or linear-probe classification with CLIP."""

    def __init__(self, model: Any, tokenizer: Any, preprocess: dict[str, Any], class_names: Sequence[str],
                 templates: Sequence[str], temperature: float | None = None, device: str = "cpu",
                 batch_size: int = 64) -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        size = preprocess.get("size", 224)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.mean = tuple(preprocess.get("mean", (0.48145466, 0.4578275, 0.40821073)))
        self.std = tuple(preprocess.get("std", (0.26862954, 0.26130258, 0.27577711)))
        self.interpolation = preprocess.get("interpolation", "bicubic")
        self.class_names = list(class_names)
        self.templates = tuple(templates)
        scale = float(model.logit_scale.detach().exp()) if getattr(model, "logit_scale", None) is not None else 100.0
        self.scale = 1.0 / temperature if temperature else scale
        self.text_features = self.class_embeddings(self.class_names, self.templates)
        self.probe: Any = None

    @classmethod
    def from_context(cls, context: BuildContext) -> "ClipDetector":
        """Load the open_clip model and build the detector the context's options describe."""
        options = context.config  # a ClipOptions: the core parses -o options before any factory runs
        names = list(options.names) or spoken_names(context.dataset)
        if len(names) != context.dataset.num_classes:
            raise DgrError(f"-o names gives {len(names)} class names for {context.dataset.num_classes} classes; "
                           "give one per class, in class order")
        model, tokenizer, preprocess, meta = load_open_clip(context.model or default_model(context.dataset.name),
                                                            context.device)
        # templates: the option, else those the model was trained with (a dgr CLIP folder), else by dataset
        templates = options.templates or tuple(meta.get("templates", ())) or default_templates(context.dataset.name)
        detector = cls(model, tokenizer, preprocess, names, templates, options.temperature, context.device,
                       context.batch_size)
        if options.mode == "probe":
            if context.train_data is None:
                raise DgrError("-o mode=probe fits on the training split, but none was given to the clip detector")
            detector.fit(context.train_data, c=options.probe_c, per_class=options.probe_per_class, seed=context.seed)
        return detector

    def class_embeddings(self, names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
        """One unit vector per class: the renormalised mean of its prompts' text embeddings."""
        with torch.no_grad():
            return clip.class_embeddings(self.model, self.tokenizer, names, templates, self.device)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        return clip.to_clip_input(images.to(self.device), self.size, self.mean, self.std, self.interpolation)

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings ``[B, D]``."""
        out = [F.normalize(self.model.encode_image(self._prepare(c)).float(), dim=-1).cpu()
               for c in images.split(self.batch_size)]
        return torch.cat(out)

    def fit(self, train_data: Any, c: float = 1.0, per_class: int = 0, seed: int = 0) -> "ClipDetector":
        """Fit a logistic-regression head on CLIP features of the training images (linear probe)."""
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(train_data.labels)
        index = np.arange(len(labels))
        if per_class:
            rng = np.random.default_rng(seed)
            index = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:per_class]
                                            for k in range(len(self.class_names))]))
        feats = self.embed(torch.from_numpy(np.ascontiguousarray(train_data.images[index]))).numpy()
        probe = LogisticRegression(C=c, max_iter=1000)
        probe.fit(feats, labels[index])
        if list(probe.classes_) != list(range(len(self.class_names))):
            raise DgrError("the training split lacks some classes; a probe needs images of every class")
        self.probe = probe
        return self

    def score(self, images: torch.Tensor) -> Detection:
        """Class probabilities (zero-shot or the probe's) and the image embeddings."""
        feats = self.embed(images)
        if self.probe is not None:
            probs = self.probe.predict_proba(feats.numpy().astype(np.float64))
        else:
            probs = torch.softmax(self.scale * feats @ self.text_features.cpu().T, 1).numpy()
        return Detection(probs=np.asarray(probs, dtype=np.float32), features=feats.numpy().astype(np.float32))
