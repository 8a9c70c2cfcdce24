"""Detector ``clip``: an open_clip model, zero-shot over the dataset's class names with an
ensemble of prompt templates (``-o mode=zero-shot``, the default) or a logistic-regression
head fitted on CLIP image features of the original training split (``-o mode=probe``).

``--detector-model`` is a folder written by ``dgr train clip`` (the default for digits: the
embedded ``digits-clip``), ``ARCH:TAG`` (``ViT-B-32:openai``, the default elsewhere) or
``ARCH:/path/to/checkpoint.pt``; ARCH may also be a path to an open_clip model config ``.json``.
Nothing is downloaded unless ``DGR_DOWNLOAD=1``. Features = the L2-normalised image embeddings."""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import dgr

if TYPE_CHECKING:  # pragma: no cover
    from dgr_plugins.detectors.clip.detector import ClipDetector

MODES = ("zero-shot", "probe")


@attrs.frozen
class ClipOptions:
    """Options of the ``clip`` detector (``-o key=value``): zero-shot or a linear probe."""

    mode: str = "zero-shot"
    templates: tuple[str, ...] = ()  # prompt templates, "{}" = class name; () = a set chosen by dataset
    names: tuple[str, ...] = ()  # class names for the prompts, in class order; () = the dataset's
    temperature: float | None = None  # zero-shot: logits = cosine / temperature (default 1 / the model's logit scale)
    probe_c: float = 1.0  # probe: inverse L2 strength of the logistic regression
    probe_per_class: int = 0  # probe: training images per class to fit on (0 = all)

    def __attrs_post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        bad = [t for t in self.templates if "{}" not in t]
        if bad:
            raise ValueError(f"every template needs '{{}}' where the class name goes, got {bad[0]!r}")
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.probe_c <= 0:
            raise ValueError("probe_c must be > 0")
        if self.probe_per_class < 0:
            raise ValueError("probe_per_class must be ≥ 0")


def make_clip(context: dgr.BuildContext) -> "ClipDetector":
    """The ``clip`` detector for ``context``."""
    from dgr_plugins.detectors.clip.detector import ClipDetector

    return ClipDetector.from_context(context)


@dgr.hookimpl
def dgr_register_detectors(register: dgr.Register) -> None:
    """Register the ``clip`` detector."""
    register("clip", make_clip, config=ClipOptions, requires=("torch", "open_clip"),
             summary="open_clip zero-shot over class-name prompts (or -o mode=probe)")
