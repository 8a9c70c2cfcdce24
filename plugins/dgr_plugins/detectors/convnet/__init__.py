"""Detector ``convnet``: dgr's small ConvNet trained on the original training split
(`dgr train detector`); the embedded digits detector when no --detector-model."""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

import dgr

if TYPE_CHECKING:  # pragma: no cover
    from dgr_plugins.detectors.convnet.detector import ConvNetDetector


# A ConvNet folder (`dgr train detector`) records its images' shape in config.json; without
# --detector-model, convnet loads the dataset's shipped detector (digits, Fashion-MNIST).
CONVNET_FOLDER = dgr.ModelFolder("config.json", "in_channels", architectures=("convnet",), shipped=True)


@attrs.frozen
class ConvNetOptions:
    """Options of the ``convnet`` detector (``-o key=value``)."""

    temperature: float | None = None  # overrides the temperature fitted at training time

    def __attrs_post_init__(self) -> None:
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError(f"temperature must be greater than 0, got {self.temperature}; leave it out for the "
                             "temperature fitted at training time")


def make_convnet(context: dgr.BuildContext) -> "ConvNetDetector":
    """The ``convnet`` detector for ``context``."""
    from dgr_plugins.detectors.convnet.detector import ConvNetDetector

    return ConvNetDetector.from_context(context)


@dgr.hookimpl
def dgr_register_detectors(register: dgr.Register) -> None:
    """Register the ``convnet`` detector."""
    register("convnet", make_convnet, config=ConvNetOptions, requires=("torch",), teacher=True,
             model_folder=CONVNET_FOLDER,
             summary="small ConvNet trained on the original data (embedded for digits)")
