"""The ``resnet`` detector itself (imports torch and torchvision)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dgr.classifiers import TorchvisionClassifier
from dgr.components import BuildContext, Detection
from dgr.errors import DgrError, MissingWeightsError


class ResNetDetector:
    """Softmax of a trained torchvision classifier (temperature-scaled) and its penultimate features."""

    def __init__(self, model: TorchvisionClassifier, temperature: float | None = None, device: str = "cpu",
                 batch_size: int = 256) -> None:
        self.model = model.to(device).eval()
        self.temperature = float(temperature if temperature else model.temperature)
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu", temperature: float | None = None,
                        batch_size: int = 256) -> "ResNetDetector":
        return cls(TorchvisionClassifier.from_pretrained(folder, device=device), temperature, device, batch_size)

    @classmethod
    def from_context(cls, context: BuildContext) -> "ResNetDetector":
        name = context.dataset.name
        if not context.model:
            raise MissingWeightsError(
                f"the resnet detector needs a trained model for dataset {name!r}; train one with "
                f"`dgr train detector --arch resnet18 --dataset {name} --out DIR` and pass --detector-model DIR")
        temperature = context.config.temperature if context.config is not None else None
        detector = cls.from_pretrained(context.model, context.device, temperature, max(context.batch_size, 256))
        names = detector.model.class_names
        if names != [str(n) for n in context.dataset.class_names]:
            raise DgrError(f"the detector in {context.model} was trained on classes {', '.join(names)}, not the "
                           f"dataset's {', '.join(context.dataset.class_names)}; train one on this dataset")
        return detector

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> Detection:
        probs, feats = [], []
        for chunk in images.split(self.batch_size):
            f = self.model.features(chunk.float().to(self.device))
            logits = self.model.head(f) / self.temperature
            probs.append(torch.softmax(logits, 1).cpu().numpy())
            feats.append(f.cpu().numpy())
        return Detection(probs=np.concatenate(probs).astype(np.float32),
                         features=np.concatenate(feats).astype(np.float32))
