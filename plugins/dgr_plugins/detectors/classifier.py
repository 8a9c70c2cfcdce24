"""What every detector built on a trained classifier shares: temperature-scaled softmax,
penultimate-layer features, and the class-name check (imports torch)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dgr.components import DatasetInfo, Detection
from dgr.errors import DgrError


class ClassifierDetector:
    """A classifier with ``features(x)`` and ``head(features)`` as a detector."""

    def __init__(self, model: torch.nn.Module, temperature: float, device: str = "cpu",
                 batch_size: int = 256) -> None:
        self.model = model.to(device).eval()
        self.temperature = float(temperature)
        self.device = device
        self.batch_size = batch_size

    @staticmethod
    def check_classes(trained_on: Sequence[str], dataset: DatasetInfo, folder: str | Path) -> None:
        """Refuse a classifier trained on other classes than the dataset's."""
        names = [str(n) for n in trained_on]
        if names != list(dataset.class_names):
            raise DgrError(f"the detector in {folder} was trained on classes {', '.join(names)}, not the "
                           f"dataset's {', '.join(dataset.class_names)}; train one on this dataset")

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> Detection:
        """Softmax of the logits over the temperature, and the penultimate features."""
        probs, feats = [], []
        for chunk in images.split(self.batch_size):
            f = self.model.features(chunk.float().to(self.device))
            logits = self.model.head(f) / self.temperature
            probs.append(torch.softmax(logits, 1).cpu().numpy())
            feats.append(f.cpu().numpy())
        return Detection(probs=np.concatenate(probs).astype(np.float32),
                         features=np.concatenate(feats).astype(np.float32))
