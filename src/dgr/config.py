"""The settings of one distillation run."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import attrs

from dgr.numbers import MAX_IMAGE_SIDE, check

DEFAULT_RULES = ("mismatch", "low-confidence")
DEFAULT_OUT = "runs/digits"  # the run folder when none is given
REFINE_FROM = ("prototype", "members")  # where refinement candidates start (the first: the paper)
PROTOTYPES = ("centroids", "medoids")  # what synthesis starts from (the first: the paper)


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _at_least(minimum: int, maximum: int | None = None) -> Validator:
    def validate(instance: Any, attribute: "attrs.Attribute[Any]", value: int | None) -> None:
        if value is not None:
            check(attribute.name.replace("_", "-"), value, minimum, maximum)
    return validate


_positive = _at_least(1)


def _one_of(choices: tuple[str, ...]) -> Validator:
    def check(instance: Any, attribute: "attrs.Attribute[Any]", value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}")
    return check


@attrs.frozen
class DistillConfig:
    """Everything that decides a run's output (``device`` and ``batch_size`` only decide speed)."""

    dataset: str = "digits"
    data_dir: str | None = None
    ipc: int = attrs.field(default=10, validator=_positive)
    generator: str = "dit"
    model: str | None = None
    detector: str = "convnet"
    detector_model: str | None = None
    rules: tuple[str, ...] = DEFAULT_RULES
    policy: str = "confidence-uniqueness"
    candidates: int = attrs.field(default=20, validator=_positive)
    seed: int = 0
    options: tuple[tuple[str, str], ...] = ()
    device: str = "cpu"
    batch_size: int = attrs.field(default=64, validator=_positive)
    early_stop: bool = False  # refinement stops an image's search at a confident valid candidate
    image_size: int | None = attrs.field(default=None, validator=_at_least(1, MAX_IMAGE_SIDE))  # None: the models'
    polish_steps: int = attrs.field(default=0, validator=_at_least(0))  # DM steps on each class's final images (0: off)
    refine_from: str = attrs.field(default=REFINE_FROM[0], validator=_one_of(REFINE_FROM))  # members: beyond the paper
    prototypes: str = attrs.field(default=PROTOTYPES[0], validator=_one_of(PROTOTYPES))  # medoids: beyond the paper

    SPEED_ONLY = ("device", "batch_size")

    def identity(self) -> dict[str, Any]:
        """The fields that decide the output, as JSON-able values."""
        data = attrs.asdict(self, recurse=True)
        for key in self.SPEED_ONLY:
            data.pop(key)
        if not self.early_stop:
            data.pop("early_stop")  # absent when off: earlier runs keep their fingerprint
        if not self.polish_steps:
            data.pop("polish_steps")  # absent when off: earlier runs keep their fingerprint
        if self.refine_from == REFINE_FROM[0]:
            data.pop("refine_from")  # absent for the paper's candidates: earlier runs keep their fingerprint
        if self.prototypes == PROTOTYPES[0]:
            data.pop("prototypes")  # absent for the paper's prototypes: earlier runs keep their fingerprint
        if self.image_size is None:
            data.pop("image_size")  # absent when not asked: earlier runs keep their fingerprint
        data["rules"] = list(self.rules)
        data["options"] = {k: v for k, v in self.options}
        return data

    def fingerprint(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


DEFAULTS = DistillConfig()
"""The run defaults as one typed value (its fields are the one source): ``dgr.distill``, ``dgr distill`` and the
benchmarks read them."""
