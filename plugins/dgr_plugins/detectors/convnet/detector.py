"""The ConvNet detector itself (imports torch)."""
from __future__ import annotations

from dgr.assets import embedded_model
from dgr.components import BuildContext
from dgr.errors import MissingWeightsError
from dgr.models.convnet import ConvNetClassifier
from dgr_plugins.detectors.classifier import ClassifierDetector


class ConvNetDetector(ClassifierDetector):
    """dgr's small ConvNet (the embedded digits detector when no --detector-model)."""

    @classmethod
    def from_context(cls, context: BuildContext) -> "ConvNetDetector":
        """Load --detector-model (or the dataset's embedded ConvNet) and check its classes."""
        folder = context.model or embedded_model("detector", context.dataset.name)
        if folder is None:
            raise MissingWeightsError(
                f"no embedded convnet detector for dataset {context.dataset.name!r}; train one with "
                f"`dgr train detector --dataset {context.dataset.name} --out DIR` and pass --detector-model DIR")
        model = ConvNetClassifier.from_pretrained(folder, device=context.device)
        cls.check_classes(model.config["class_names"], context.dataset, folder)
        temperature = model.temperature if context.config.temperature is None else context.config.temperature
        return cls(model, temperature, context.device, max(context.batch_size, 256))
