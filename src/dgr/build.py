"""Resolve names to components: registry lookup, option routing, factory calls."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import attrs

from dgr.components import AnomalyRule, BuildContext, Detector, Generator, SelectionPolicy
from dgr.config import DistillConfig
from dgr.datasets import LabelledImages
from dgr.errors import DgrError
from dgr.options import build_config, option_names, route_options
from dgr.registry import Entry, Registry

# CLI shortcuts that set a component option: --threshold → low-confidence's τ, --uniqueness-weight → λ.
SHORTCUT_OPTIONS = {"threshold": "threshold", "uniqueness_weight": "weight"}


@attrs.frozen(eq=False)
class Components:
    generator: Generator
    detector: Detector
    rules: tuple[tuple[str, AnomalyRule], ...]
    policy: SelectionPolicy
    names: Mapping[str, Any]


def _entry(registry: Registry, kind: str, spec: Any) -> Entry | None:
    return registry.get(kind, spec) if isinstance(spec, str) else None


def resolve(config: DistillConfig, registry: Registry, *, generator: Any = None, detector: Any = None,
            rules: Sequence[Any] | None = None, policy: Any = None) -> dict[str, Entry | None]:
    """Check every name before anything is built or written (unknown names fail here)."""
    entries: dict[str, Entry | None] = {
        "generator": _entry(registry, "generator", generator if generator is not None else config.generator),
        "detector": _entry(registry, "detector", detector if detector is not None else config.detector),
        "policy": _entry(registry, "policy", policy if policy is not None else config.policy),
    }
    for i, rule in enumerate(rules if rules is not None else config.rules):
        entry = _entry(registry, "rule", rule)
        entries[f"rule:{entry.name if entry else i}"] = entry
    if not any(k.startswith("rule:") for k in entries):
        raise DgrError("no anomaly rule given; pass --rule mismatch (or another from `dgr list rules`)")
    return entries


def parse_options(entries: Mapping[str, Entry | None], options: Mapping[str, str]) -> dict[str, Any]:
    """Route ``-o`` options to the components and parse each one's attrs config (bad options fail here)."""
    accepts = {slot: option_names(e.config) if e else set() for slot, e in entries.items()}
    routed = route_options(options, accepts)
    return {slot: build_config(e.config, routed.get(slot, {}), f"{e.kind} {e.name!r}")
            for slot, e in entries.items() if e is not None}


def build(config: DistillConfig, entries: Mapping[str, Entry | None], configs: Mapping[str, Any],
          train: LabelledImages, instances: Mapping[str, Any]) -> Components:
    """Call the factories (this is where weights load)."""

    def make(slot: str, model: str | None = None) -> Any:
        entry = entries[slot]
        if entry is None:
            return instances[slot]
        missing = entry.missing_requirements()
        if missing:
            raise DgrError(f"{entry.kind} {entry.name!r} needs {', '.join(missing)}; install it "
                           f"(pip install {' '.join(missing)})")
        context = BuildContext(dataset=train.info, model=model, device=config.device, seed=config.seed,
                               batch_size=config.batch_size, config=configs[slot], train_data=train)
        return entry.factory(context)

    rule_slots = [s for s in entries if s.startswith("rule:")]
    return Components(
        generator=make("generator", config.model),
        detector=make("detector", config.detector_model),
        rules=tuple((s.split(":", 1)[1], make(s)) for s in rule_slots),
        policy=make("policy"),
        names={slot: (e.name if e else type(instances[slot]).__name__) for slot, e in entries.items()},
    )
