"""Detector ``ensemble``: the (weighted) average of several detectors' probabilities.

    dgr distill --detector ensemble -o members=convnet,resnet -o weights=1,2 \\
        --detector-model resnet=runs/resnet18

``--detector-model`` gives member models as ``member=MODEL`` pairs separated by commas
(members without one use their default); ``-o member_options=clip.mode=probe`` passes
options to a member. Features: ``-o features=concat`` (default) joins the members'
L2-normalised features, each scaled by √weight, so a cosine similarity of two ensemble
features is the weighted mean of the members' cosine similarities; ``-o features=NAME``
takes one member's features. From Python,
``dgr_plugins.detectors.ensemble.detector.EnsembleDetector([det_a, det_b], weights=[1, 2])``
combines detector instances.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import attrs

import dgr
from dgr.components import BuildContext
from dgr.errors import DgrError

if TYPE_CHECKING:  # pragma: no cover
    from dgr_plugins.detectors.ensemble.detector import EnsembleDetector


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@attrs.frozen
class EnsembleOptions:
    """Options of the ``ensemble`` detector (``-o key=value``): its members and their weights."""

    members: tuple[str, ...] = ()  # detector names, e.g. convnet,resnet
    weights: tuple[float, ...] = attrs.field(default=(), converter=_floats)  # one per member; () = equal
    features: str = "concat"  # concat, or a member's name
    member_options: tuple[str, ...] = ()  # MEMBER.KEY=VALUE, e.g. clip.mode=probe

    def __attrs_post_init__(self) -> None:
        if len(self.members) < 1:
            raise ValueError("name its members, e.g. -o members=convnet,resnet")
        if "ensemble" in self.members:
            raise ValueError("an ensemble cannot be its own member")
        if len(set(self.members)) != len(self.members):
            raise ValueError("each member once; combine two models of one kind from Python with EnsembleDetector")
        if self.weights and len(self.weights) != len(self.members):
            raise ValueError(f"{len(self.weights)} weights for {len(self.members)} members; give one per member")
        if any(w < 0 for w in self.weights) or (self.weights and sum(self.weights) <= 0):
            raise ValueError("weights must be ≥ 0 and not all 0")
        if self.features != "concat" and self.features not in self.members:
            raise ValueError(f"features must be concat or one of the members ({', '.join(self.members)})")
        for item in self.member_options:
            member, dot, rest = item.partition(".")
            if not dot or "=" not in rest or member not in self.members:
                raise ValueError(f"member option {item!r} is not MEMBER.KEY=VALUE with MEMBER one of the members")


def parse_member_models(spec: str | None, members: Sequence[str]) -> dict[str, str]:
    """``resnet=runs/r18,clip=ViT-B-32:openai`` → {member: model}."""
    if not spec:
        return {}
    models: dict[str, str] = {}
    for item in spec.split(","):
        member, eq, model = item.strip().partition("=")
        if not eq or member not in members or not model:
            raise DgrError(f"--detector-model for an ensemble is MEMBER=MODEL[,MEMBER=MODEL…] with MEMBER one of "
                           f"{', '.join(members)}; got {item.strip()!r}")
        models[member] = model
    return models


def make_ensemble(context: BuildContext) -> "EnsembleDetector":
    """Members are built through ``context.build_member``, the core's registry and checks."""
    options = context.config
    if context.build_member is None:
        raise DgrError("the ensemble builds its members through context.build_member, which this context lacks; "
                       "build it with dgr.distill or combine detector instances with EnsembleDetector")
    models = parse_member_models(context.model, options.members)
    member_options: dict[str, dict[str, str]] = {m: {} for m in options.members}
    for item in options.member_options:
        member, _, rest = item.partition(".")
        key, _, value = rest.partition("=")
        member_options[member][key.strip()] = value.strip()
    for check_only in (True, False):  # every member's name and options first, then the loading
        detectors = [context.build_member("detector", name, model=models.get(name), options=member_options[name],
                                          owner=f"ensemble member {name!r}", check_only=check_only)
                     for name in options.members]
    from dgr_plugins.detectors.ensemble.detector import EnsembleDetector

    return EnsembleDetector(detectors, options.weights or None, options.features, names=list(options.members))


@dgr.hookimpl
def dgr_register_detectors(register: dgr.Register) -> None:
    """Register the ``ensemble`` detector."""
    register("ensemble", make_ensemble, config=EnsembleOptions,
             summary="weighted mean of several detectors' probabilities (-o members=convnet,resnet)")
