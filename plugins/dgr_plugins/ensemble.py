"""Detector ``ensemble``: the (weighted) average of several detectors' probabilities.

    dgr distill --detector ensemble -o members=convnet,resnet -o weights=1,2 \\
        --detector-model resnet=runs/resnet18

``--detector-model`` gives member models as ``member=MODEL`` pairs separated by commas
(members without one use their default); ``-o member_options=clip.mode=probe`` passes
options to a member. Features: ``-o features=concat`` (default) joins the members'
L2-normalised features, each scaled by √weight, so a cosine similarity of two ensemble
features is the weighted mean of the members' cosine similarities; ``-o features=NAME``
takes one member's features. From Python, ``EnsembleDetector([det_a, det_b], weights=[1, 2])``
combines detector instances.
"""
from __future__ import annotations

from typing import Any, Sequence

import attrs
import numpy as np

import dgr
from dgr.components import BuildContext, Detection, Detector
from dgr.errors import DgrError


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@attrs.frozen
class EnsembleOptions:
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


class EnsembleDetector:
    """Weighted mean of member probabilities; concatenated (or one member's) features."""

    def __init__(self, members: Sequence[Detector], weights: Sequence[float] | None = None,
                 features: str | int = "concat", names: Sequence[str] | None = None) -> None:
        if not members:
            raise DgrError("an ensemble needs at least one member detector")
        self.members = list(members)
        self.names = list(names) if names is not None else [type(m).__name__ for m in self.members]
        w = np.ones(len(self.members)) if not weights else np.asarray(weights, dtype=np.float64)
        if len(w) != len(self.members) or (w < 0).any() or w.sum() <= 0:
            raise DgrError("ensemble weights: one non-negative weight per member, not all 0")
        self.weights = w / w.sum()
        if isinstance(features, str) and features != "concat":
            if features not in self.names:
                raise DgrError(f"ensemble features: no member {features!r}; members: {', '.join(self.names)}")
            features = self.names.index(features)
        self.features = features

    def score(self, images: Any) -> Detection:
        parts = [m.score(images) for m in self.members]
        shapes = {p.probs.shape for p in parts}
        if len(shapes) != 1:
            raise DgrError(f"ensemble members disagree on the number of classes: {sorted(shapes)}")
        probs = sum(w * p.probs.astype(np.float64) for w, p in zip(self.weights, parts))
        probs = probs / probs.sum(1, keepdims=True)
        if self.features == "concat":
            feats = np.concatenate([np.sqrt(w) * _unit(p.features) for w, p in zip(self.weights, parts)], 1)
        else:
            feats = parts[int(self.features)].features
        return Detection(probs=probs.astype(np.float32), features=np.asarray(feats, dtype=np.float32))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


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


def make_ensemble(context: BuildContext) -> EnsembleDetector:
    from dgr.options import build_config
    from dgr.plugins import build_registry

    options = context.config
    registry = build_registry()
    models = parse_member_models(context.model, options.members)
    member_options: dict[str, dict[str, str]] = {m: {} for m in options.members}
    for item in options.member_options:
        member, _, rest = item.partition(".")
        key, _, value = rest.partition("=")
        member_options[member][key.strip()] = value.strip()
    detectors = []
    for name in options.members:
        entry = registry.get("detector", name)
        missing = entry.missing_requirements()
        if missing:
            raise DgrError(f"ensemble member {name!r} needs {', '.join(missing)}; install it "
                           f"(pip install {' '.join(missing)})")
        config = build_config(entry.config, member_options[name], f"ensemble member {name!r}")
        detectors.append(entry.factory(attrs.evolve(context, model=models.get(name), config=config)))
    return EnsembleDetector(detectors, options.weights or None, options.features, names=list(options.members))


@dgr.hookimpl
def dgr_register_detectors(register):
    register("ensemble", make_ensemble, config=EnsembleOptions,
             summary="weighted mean of several detectors' probabilities (-o members=convnet,resnet)")
