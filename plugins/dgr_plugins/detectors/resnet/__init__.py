"""Detector ``resnet``: any torchvision classification architecture (resnet18 by default)
trained or fine-tuned on the original training split by
``dgr train detector --arch resnet18 --dataset NAME --out DIR``, loaded with
``--detector resnet --detector-model DIR``. Features = the penultimate layer."""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import dgr

if TYPE_CHECKING:  # pragma: no cover
    from dgr_plugins.detectors.resnet.detector import ResNetDetector


# A torchvision classifier folder (`dgr train detector --arch ...`) records its shape in config.json.
TORCHVISION_FOLDER = dgr.ModelFolder("config.json", "in_channels", architectures=("torchvision",))


@attrs.frozen
class ResNetOptions:
    """Options of the ``resnet`` detector (``-o key=value``)."""

    temperature: float | None = None  # overrides the temperature fitted at training time

    def __attrs_post_init__(self) -> None:
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError("temperature must be > 0")


def make_resnet(context: dgr.BuildContext) -> "ResNetDetector":
    """The ``resnet`` detector for ``context``."""
    from dgr_plugins.detectors.resnet.detector import ResNetDetector

    return ResNetDetector.from_context(context)


@dgr.hookimpl
def dgr_register_detectors(register: dgr.Register) -> None:
    """Register the ``resnet`` detector."""
    register("resnet", make_resnet, config=ResNetOptions, requires=("torch", "torchvision"),
             model_folder=TORCHVISION_FOLDER,
             summary="torchvision classifier trained on the original data (`dgr train detector --arch resnet18`)")
