"""The ConvNet detector itself (imports torch)."""
from __future__ import annotations

import numpy as np
import torch

from dgr.assets import embedded_model
from dgr.components import BuildContext, Detection
from dgr.errors import DgrError, MissingWeightsError
from dgr.nets import ConvNetClassifier


class ConvNetDetector:
    def __init__(self, model: ConvNetClassifier, temperature: float, device: str = "cpu",
                 batch_size: int = 256) -> None:
        self.model = model.eval()
        self.temperature = temperature
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def from_context(cls, context: BuildContext) -> "ConvNetDetector":
        folder = context.model or embedded_model("detector", context.dataset.name)
        if folder is None:
            raise MissingWeightsError(
                f"no embedded convnet detector for dataset {context.dataset.name!r}; train one with "
                f"`dgr train detector --dataset {context.dataset.name} --out DIR` and pass --detector-model DIR")
        model = ConvNetClassifier.from_pretrained(folder, device=context.device)
        names = [str(n) for n in model.config["class_names"]]
        if names != list(context.dataset.class_names):
            raise DgrError(f"the detector in {folder} was trained on classes {', '.join(names)}, not the "
                           f"dataset's {', '.join(context.dataset.class_names)}; train one on this dataset")
        options = context.config
        temperature = options.temperature if options and options.temperature else model.temperature
        return cls(model, temperature, context.device, max(context.batch_size, 256))

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
