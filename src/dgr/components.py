"""The component interfaces and the values that flow between pipeline stages.

Any object with the right methods is a component (``typing.Protocol``); plugins register
factories that build them from a :class:`BuildContext`.

Conventions: images are batch-first float tensors ``[B, C, H, W]`` in ``[0, 1]`` at the
dataset's channels and resolution; detections are numpy arrays.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence, runtime_checkable

import attrs

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch


@attrs.frozen
class DatasetInfo:
    """What a component needs to know about the dataset it serves."""

    name: str
    class_names: tuple[str, ...]
    channels: int
    height: int
    width: int
    class_words: tuple[str, ...] = ()
    """The class names as people say them (CLIP prompts, SD text); empty: :attr:`class_names`."""
    label_space: str = ""
    """A standard label space the classes belong to (``imagenet-1k``), or empty."""
    label_ids: tuple[int, ...] = ()
    """Each class's id in :attr:`label_space` (empty without one)."""

    @property
    def num_classes(self) -> int:
        """How many classes the dataset has."""
        return len(self.class_names)

    @property
    def words(self) -> tuple[str, ...]:
        """:attr:`class_words`, or the class names where the dataset gives none."""
        return self.class_words or self.class_names


class TrainData(Protocol):
    """The training split a factory may fit on (``dgr.datasets.LabelledImages`` is one, and so is
    ``dgr.datasets.ImageFolderIndex``, a large ImageFolder read on demand: there ``images`` is a
    lazy ``[N, C, H, W]`` view that reads only the rows indexed, so index a subset, or read one
    class with ``of_class(c)``, rather than converting the whole of it)."""

    @property
    def images(self) -> "np.ndarray":
        """``[N, C, H, W]`` float32 in [0, 1]."""

    @property
    def labels(self) -> "np.ndarray":
        """``[N]`` class indices."""

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes, in label order."""


class BuildMember(Protocol):
    """How a factory builds another registered component (an ensemble's members), handed to it
    by the core as ``context.build_member``: the name resolves through the same registry, the
    requirements and ``options`` (``-o`` style strings) are checked the same way, and the
    member gets this context with ``model`` and its own parsed config."""

    def __call__(self, kind: str, name: str, *, model: str | None = None,
                 options: Mapping[str, str] | None = None, owner: str = "", check_only: bool = False) -> Any:
        """Build registered component ``name`` of ``kind``; ``owner`` names it in errors
        (e.g. ``ensemble member 'clip'``). ``check_only`` resolves the name and checks the
        requirements and options without building anything (returns None): check every member
        this way first, so a bad last member is refused before the first one loads."""


@attrs.frozen
class ModelFolder:
    """What a generator or detector declares of its model folder when it registers
    (``register(..., model_folder=ModelFolder(...))``), so the core can read the image shape the
    model was trained at before building anything (``--image-size`` chosen or refused, grey vs RGB):
    the JSON file ``meta_file`` of the folder records ``[height, width]`` under ``size_key`` and the
    channels under ``channels_key``. With ``architectures`` the file's ``"architecture"`` must be one
    of them (another folder records no shape this component can use). ``shipped``: without a model
    folder the component loads its dataset's shipped model of its kind
    (:meth:`DatasetDescription.model`), whose shape is read the same way."""

    meta_file: str
    channels_key: str
    size_key: str = "image_size"
    architectures: tuple[str, ...] = ()
    shipped: bool = False


@attrs.frozen(eq=False)
class BuildContext:
    """Everything a factory gets to build its component."""

    dataset: DatasetInfo
    model: str | None = None
    device: str = "cpu"
    seed: int = 0
    batch_size: int = 64
    config: Any = None
    train_data: "TrainData | None" = None
    build_member: "BuildMember | None" = None
    """Set by the core: builds another registered component (see :class:`BuildMember`)."""


@attrs.frozen(eq=False)
class Detection:
    """Detector output for a batch: class probabilities ``[B, C]`` and features ``[B, D]``."""

    probs: "np.ndarray"
    features: "np.ndarray"

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    def confidence(self, labels: "np.ndarray | int") -> "np.ndarray":
        """p(label | x) for each row."""
        import numpy as np

        labels = np.broadcast_to(np.asarray(labels), (len(self),))
        return np.asarray(self.probs[np.arange(len(self)), labels])

    def take(self, index: "np.ndarray | Sequence[int]") -> "Detection":
        """The rows at ``index``."""
        return Detection(probs=self.probs[index], features=self.features[index])

    @staticmethod
    def concat(parts: "Sequence[Detection]") -> "Detection":
        """The rows of ``parts`` one after another."""
        import numpy as np

        return Detection(probs=np.concatenate([p.probs for p in parts]),
                         features=np.concatenate([p.features for p in parts]))


@attrs.frozen
class Choice:
    """A selection policy's pick among candidates, with the parts of its score."""

    index: int
    score: float
    parts: Mapping[str, float] = attrs.field(factory=dict)


@runtime_checkable
class Generator(Protocol):
    """Paints images from prototypes and labels."""

    def encode(self, images: "torch.Tensor") -> "torch.Tensor":
        """Images ``[B, C, H, W]`` in [0, 1] → latents (the space prototypes live in)."""

    def generate(self, prototypes: "torch.Tensor", labels: "torch.Tensor",
                 seeds: Sequence[int]) -> "torch.Tensor":
        """One image per (prototype, label, seed); deterministic for a given seed."""

    # Optional: ``model_class(class_index) -> int | str``, the class the model is given for a dataset
    # class (DiT: its class id; SD: its prompt); the manifest records it as ``model_class`` (without
    # it, the dataset's class index).


@runtime_checkable
class Detector(Protocol):
    """Scores images: class probabilities and a feature vector each."""

    def score(self, images: "torch.Tensor") -> Detection:
        """Class probabilities and features for images ``[B, C, H, W]`` in [0, 1]."""


@runtime_checkable
class AnomalyRule(Protocol):
    """Flags anomalous images; returns a boolean mask and a reason (or None) per image.

    ``threshold`` is the least p(label) an image that passes the rule has (0.0 for a rule that
    does not test confidence); ``--early-stop`` ends a search at a valid candidate with
    p(label) ≥ the largest threshold + a margin.
    """

    threshold: float

    def flag(self, detection: Detection, labels: "np.ndarray") -> "tuple[np.ndarray, list[str | None]]":
        """A boolean mask of the anomalous rows and a reason (or None) for each row."""


@runtime_checkable
class SelectionPolicy(Protocol):
    """Picks one of the candidates generated for a flagged image."""

    def select(self, candidates: Detection, label: int, accepted: "UniquenessIndexLike",
               valid: "np.ndarray") -> Choice:
        """The candidate to keep for class ``label`` among the ``valid`` ones, given the accepted images."""


class UniquenessIndexLike(Protocol):
    """The accepted images of a class, as a policy sees them (``dgr.uniqueness.UniquenessIndex``)."""

    def max_similarity(self, features: "np.ndarray") -> "np.ndarray":
        """The highest cosine similarity of each row to the accepted images."""

    def add(self, features: "np.ndarray") -> None:
        """Add rows to the accepted images."""

    def __len__(self) -> int: ...
