"""The old path of dgr's ConvNet classifier, kept for scripts that import it: the networks dgr trains
live in :mod:`dgr.models`."""
from dgr.models.convnet import CONVNET_FOLDER, ConvNetClassifier
from dgr.models.folders import CONFIG_FILE, WEIGHTS_FILE, FolderModel, read_model_folder

__all__ = ["CONFIG_FILE", "CONVNET_FOLDER", "WEIGHTS_FILE", "ConvNetClassifier", "FolderModel", "read_model_folder"]
