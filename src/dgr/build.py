"""Resolve names to components: registry lookup, option routing, factory calls."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import attrs

from dgr.components import AnomalyRule, BuildContext, Detector, Generator, SelectionPolicy
from dgr.config import DistillConfig
from dgr.datasets import LabelledImages
from dgr.errors import DgrError, OptionError
from dgr.options import build_config, option_names, route_options
from dgr.registry import Entry, Registry


@attrs.frozen
class Shortcut:
    """A command-line flag that sets one option of one kind of component (``--threshold`` →
    ``threshold`` of the rules that take it). Errors name the flag, never the option behind it."""

    flag: str
    kind: str
    option: str
    meaning: str


SHORTCUTS: dict[str, Shortcut] = {
    "threshold": Shortcut("--threshold", "rule", "threshold", "τ of the low-confidence rule"),
    "uniqueness_weight": Shortcut("--uniqueness-weight", "policy", "weight", "λ of the confidence-uniqueness policy"),
}


INSTALL_AS = {"transformers": "'dgr[sd]'", "open_clip": "open_clip_torch"}
"""What to ``pip install`` for a missing module: dgr's extra when it has one, else the distribution."""


@attrs.frozen(eq=False)
class Components:
    """The built components of a run: the generator, the detector, the rules by name and the policy."""

    generator: Generator
    detector: Detector
    rules: tuple[tuple[str, AnomalyRule], ...]
    policy: SelectionPolicy


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


def _slot_name(slot: str, entry: Entry | None) -> str:
    return entry.name if entry is not None else slot


def route_shortcuts(entries: Mapping[str, Entry | None],
                    shortcuts: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{"uniqueness_weight": 0.3}`` → ``{"policy": {"weight": "0.3"}}``: each flag goes to the
    components of its kind that take its option; a flag that none takes is an error naming it."""
    routed: dict[str, dict[str, str]] = {}
    for key, value in shortcuts.items():
        if value is None:
            continue
        short = SHORTCUTS[key]
        slots = [s for s, e in entries.items() if (s == short.kind or s.startswith(short.kind + ":"))
                 and e is not None and short.option in option_names(e.config)]
        if not slots:
            used = ", ".join(_slot_name(s, e) for s, e in entries.items()
                             if s == short.kind or s.startswith(short.kind + ":"))
            raise OptionError(f"{short.flag} sets {short.meaning}, which this run does not use "
                              f"({short.kind}: {used}); drop {short.flag} or pick a {short.kind} that takes it")
        for slot in slots:
            routed.setdefault(slot, {})[short.option] = str(value)
    return routed


def parse_options(entries: Mapping[str, Entry | None], options: Mapping[str, str],
                  shortcuts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Route ``-o`` options and the shortcut flags to the components and parse each one's attrs
    config (bad options fail here). A shortcut wins over an ``-o`` option for the same key."""
    accepts = {slot: option_names(e.config) if e else set() for slot, e in entries.items()}
    routed = route_options(options, accepts)
    for slot, values in route_shortcuts(entries, shortcuts or {}).items():
        routed.setdefault(slot, {}).update(values)
    return {slot: build_config(e.config, routed.get(slot, {}), f"{e.kind} {e.name!r}")
            for slot, e in entries.items() if e is not None}


def make_component(entry: Entry, context: BuildContext, registry: Registry, label: str = "") -> Any:
    """Call ``entry``'s factory with ``context`` (this is where weights load), after checking its
    requirements; the context carries ``build_member`` so the component may build others.
    ``label`` names the component in errors (default: ``detector 'resnet'``)."""
    check_requirements(entry, label)
    return entry.factory(attrs.evolve(context, build_member=member_builder(registry, context)))


def check_requirements(entry: Entry, label: str = "") -> None:
    """Refuse a component whose required modules are not installed, naming what to install."""
    missing = entry.missing_requirements()
    if missing:
        packages = dict.fromkeys(INSTALL_AS.get(m, m) for m in missing)
        raise DgrError(f"{label or f'{entry.kind} {entry.name!r}'} needs {', '.join(missing)}; install it "
                       f"(pip install {' '.join(packages)})")


def member_builder(registry: Registry, parent: BuildContext) -> Any:
    """The ``context.build_member`` the core hands a factory (see :class:`dgr.components.BuildMember`)."""

    def build_member(kind: str, name: str, *, model: str | None = None,
                     options: Mapping[str, str] | None = None, owner: str = "", check_only: bool = False) -> Any:
        """``owner`` names the member in errors, e.g. ``ensemble member 'clip'``."""
        entry = registry.get(kind, name)
        label = owner or f"{entry.kind} {entry.name!r}"
        config = build_config(entry.config, dict(options or {}), label)
        if check_only:
            check_requirements(entry, label)
            return None
        return make_component(entry, attrs.evolve(parent, model=model, config=config), registry, label)

    return build_member


def build(config: DistillConfig, entries: Mapping[str, Entry | None], configs: Mapping[str, Any],
          train: LabelledImages, instances: Mapping[str, Any], registry: Registry) -> Components:
    """Call the factories (this is where weights load)."""

    def make(slot: str, model: str | None = None) -> Any:
        entry = entries[slot]
        if entry is None:
            return instances[slot]
        context = BuildContext(dataset=train.info, model=model, device=config.device, seed=config.seed,
                               batch_size=config.batch_size, config=configs[slot], train_data=train)
        return make_component(entry, context, registry)

    rule_slots = [s for s in entries if s.startswith("rule:")]
    # the light components first and the generator (the slowest to load) last, so a detector's,
    # an ensemble member's or a rule's error comes before the generator has loaded
    rules = tuple((s.split(":", 1)[1], make(s)) for s in rule_slots)
    policy = make("policy")
    detector = make("detector", config.detector_model)
    return Components(generator=make("generator", config.model), detector=detector, rules=rules, policy=policy)
