"""The ``resnet`` detector itself (imports torch and torchvision)."""
from __future__ import annotations

from pathlib import Path

from dgr.components import BuildContext
from dgr.errors import MissingWeightsError
from dgr.models.torchvision_classifier import TorchvisionClassifier
from dgr_plugins.detectors.classifier import ClassifierDetector


class ResNetDetector(ClassifierDetector):
    """Softmax of a trained torchvision classifier (temperature-scaled) and its penultimate features."""

    def __init__(self, model: TorchvisionClassifier, temperature: float | None = None, device: str = "cpu",
                 batch_size: int = 256) -> None:
        super().__init__(model, temperature if temperature else model.temperature, device, batch_size)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu", temperature: float | None = None,
                        batch_size: int = 256) -> "ResNetDetector":
        """A detector on the torchvision classifier saved in ``folder``."""
        return cls(TorchvisionClassifier.from_pretrained(folder, device=device), temperature, device, batch_size)

    @classmethod
    def from_context(cls, context: BuildContext) -> "ResNetDetector":
        """Load --detector-model (required) and check its classes."""
        name = context.dataset.name
        if not context.model:
            raise MissingWeightsError(
                f"the resnet detector needs a trained model for dataset {name!r}; train one with "
                f"`dgr train detector --arch resnet18 --dataset {name} --out DIR` and pass --detector-model DIR")
        detector = cls.from_pretrained(context.model, context.device, context.config.temperature,
                                       max(context.batch_size, 256))
        cls.check_classes(detector.model.class_names, context.dataset, context.model)
        return detector
