"""The old path of the torchvision classifier folders, kept for scripts that import it: the networks
dgr trains live in :mod:`dgr.models`."""
from dgr.models.torchvision_classifier import (TorchvisionClassifier, architectures, check_architecture,
                                               check_weights_file, pretrained_state)

__all__ = ["TorchvisionClassifier", "architectures", "check_architecture", "check_weights_file", "pretrained_state"]
