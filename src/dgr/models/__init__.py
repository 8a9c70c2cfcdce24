"""The networks dgr trains, one module per family, each saved and loaded as a folder:

- ``folders``: the folder format they share (``config.json`` + ``model.safetensors``);
- ``convnet``: dgr's small ConvNet classifier (the shipped detectors);
- ``torchvision_classifier``: any torchvision classification architecture as such a folder;
- ``students``: the students of ``dgr evaluate`` (DC's ConvNet, ResNet-18, an MLP), whose ConvNet the
  polish also draws;
- ``clip``: a CLIP as a folder loaded through open_clip, and its zero-shot helpers.

This face is light (no torch): it holds only the names the command line reads before anything loads.
"""
from __future__ import annotations

CONVNET_POOLINGS = ("per-block", "global")
"""The layouts of :class:`dgr.models.convnet.ConvNetClassifier` (``dgr train detector --pooling``)."""
