"""Detector ``convnet``: dgr's small ConvNet trained on the original training split
(`dgr train detector`); the embedded digits detector when no --detector-model."""
from __future__ import annotations

import attrs

import dgr


@attrs.frozen
class ConvNetOptions:
    temperature: float | None = None  # overrides the temperature fitted at training time


def make_convnet(context):
    from dgr_plugins.detectors.convnet.detector import ConvNetDetector

    return ConvNetDetector.from_context(context)


@dgr.hookimpl
def dgr_register_detectors(register):
    register("convnet", make_convnet, config=ConvNetOptions, requires=("torch",), teacher=True,
             summary="small ConvNet trained on the original data (embedded for digits)")
