"""One registry of named component factories, filled through the ``dgr_register_*`` hooks."""
from __future__ import annotations

import difflib
import importlib.util
from typing import Any, Callable, Iterable

import attrs

from dgr.components import ModelFolder
from dgr.errors import DuplicateNameError, UnknownNameError

KINDS: dict[str, str] = {
    "generator": "dgr_register_generators",
    "detector": "dgr_register_detectors",
    "rule": "dgr_register_anomaly_rules",
    "policy": "dgr_register_selection_policies",
    "student": "dgr_register_students",
    "protocol": "dgr_register_protocols",
    "baseline": "dgr_register_baselines",
    "dataset": "dgr_register_datasets",
}
PLURALS: dict[str, str] = {
    "generator": "generators",
    "detector": "detectors",
    "rule": "rules",
    "policy": "policies",
    "student": "students",
    "protocol": "protocols",
    "baseline": "baselines",
    "dataset": "datasets",
}
_ALIASES = {**{v: k for k, v in PLURALS.items()}, **{k: k for k in KINDS}, "anomaly-rules": "rule",
            "selection-policies": "policy"}


def normalise_kind(kind: str) -> str:
    """Map ``generators``/``generator``/``rules``/... to the singular kind name."""
    try:
        return _ALIASES[kind.lower()]
    except KeyError:
        raise UnknownNameError(
            f"unknown component kind {kind!r}; available: {', '.join(PLURALS.values())}"
        ) from None


@attrs.frozen
class Entry:
    """One registered component factory."""

    kind: str
    name: str
    factory: Callable[..., Any]
    summary: str
    plugin: str
    config: type | None = None
    requires: tuple[str, ...] = ()
    teacher: bool = False  # a detector whose --detector-model folder can be dgr evaluate's KD teacher
    model_folder: ModelFolder | None = None  # a generator's or detector's: where its folder records its shape

    def missing_requirements(self) -> list[str]:
        """Modules this component needs that are not importable here (checked without importing)."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry:
    """Named factories per kind; refuses duplicates and explains unknown names."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}

    def copy(self) -> "Registry":
        """A new registry with the same entries."""
        other = Registry()
        other._entries = {kind: dict(entries) for kind, entries in self._entries.items()}
        return other

    def add(self, entry: Entry) -> None:
        """Add an entry; a name already registered for its kind is a DuplicateNameError."""
        existing = self._entries[entry.kind].get(entry.name)
        if existing is not None:
            who = ("twice by plugin " + repr(entry.plugin) if existing.plugin == entry.plugin else
                   f"by plugin {existing.plugin!r} before plugin {entry.plugin!r}")
            raise DuplicateNameError(
                f"{entry.kind} {entry.name!r} is registered {who}; "
                f"disable one with DGR_DISABLE_PLUGINS={entry.plugin}"
            )
        self._entries[entry.kind][entry.name] = entry

    def names(self, kind: str) -> list[str]:
        """The names registered for ``kind``, sorted."""
        return sorted(self._entries[normalise_kind(kind)])

    def entries(self, kind: str) -> list[Entry]:
        """The entries registered for ``kind``, sorted by name."""
        kind = normalise_kind(kind)
        return [self._entries[kind][n] for n in sorted(self._entries[kind])]

    def get(self, kind: str, name: str) -> Entry:
        """The entry ``name`` of ``kind``; an unknown name lists the valid ones."""
        kind = normalise_kind(kind)
        try:
            return self._entries[kind][name]
        except KeyError:
            names = self.names(kind)
            available = ", ".join(names) if names else "none (is dgr installed with its plugins?)"
            raise UnknownNameError(
                f"unknown {kind} {name!r}{suggest(name, names)}; available {PLURALS[kind]}: {available}"
            ) from None
