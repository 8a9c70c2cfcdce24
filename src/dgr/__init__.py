"""dgr: diffusion-based dataset distillation with detector-guided refinement.

Importing ``dgr`` is light: torch, diffusers, open_clip and faiss load only inside
the functions that need them.

The names a plugin needs are importable from here (``__all__``): the ``hookimpl`` marker,
the component protocols and the values that flow between stages, the ``register`` callback
type, the dataset description (``DatasetDescription``, ``DataRequest``, ``LabelledImages``,
``FileListing`` and ``read_listing`` for folder-based readers), the values of evaluation plugins
(``TrainSettings``, ``Baseline``, their contexts), and the
errors a plugin raises.
"""
from __future__ import annotations

import pluggy

from dgr.version import __version__

hookimpl = pluggy.HookimplMarker("dgr")
"""Marker for plugin hook implementations: ``@dgr.hookimpl``."""

from dgr.api import DistillResult, distill  # noqa: E402  (after hookimpl, which plugins read)
from dgr.components import (  # noqa: E402
    AnomalyRule,
    BuildContext,
    BuildMember,
    Choice,
    DatasetInfo,
    Detection,
    Detector,
    Generator,
    ModelFolder,
    SelectionPolicy,
    TrainData,
    UniquenessIndexLike,
)
from dgr.datasets import (  # noqa: E402
    DataRequest,
    DatasetDescription,
    FileListing,
    ImageFolderIndex,
    LabelledImages,
    read_listing,
)
from dgr.errors import DgrError, MissingWeightsError, OptionError  # noqa: E402
from dgr.evaluation.baselines import Baseline, BaselineContext, ImageSet  # noqa: E402
from dgr.evaluation.protocols import ProtocolContext, TrainSettings  # noqa: E402
from dgr.hookspecs import Register  # noqa: E402
from dgr.plugins import build_registry, get_plugin_manager  # noqa: E402

__all__ = [
    "__version__",
    # running dgr
    "distill",
    "DistillResult",
    # writing a plugin
    "hookimpl",
    "Register",
    "BuildContext",
    "BuildMember",
    "DatasetInfo",
    "TrainData",
    "Generator",
    "Detector",
    "AnomalyRule",
    "SelectionPolicy",
    "Detection",
    "Choice",
    "ModelFolder",
    "UniquenessIndexLike",
    # writing a dataset plugin
    "DatasetDescription",
    "DataRequest",
    "LabelledImages",
    "ImageFolderIndex",
    "FileListing",
    "read_listing",
    # writing an evaluation plugin (students get a BuildContext)
    "TrainSettings",
    "ProtocolContext",
    "Baseline",
    "BaselineContext",
    "ImageSet",
    "DgrError",
    "MissingWeightsError",
    "OptionError",
    # testing a plugin
    "get_plugin_manager",
    "build_registry",
]
