"""``-o key=value`` options: routed to components and parsed by their attrs configs."""
from __future__ import annotations

import typing
from typing import Any, Iterable, Mapping

import attrs

from dgr.errors import OptionError
from dgr.numbers import NumberError, check

COMPONENT_PREFIXES = ("generator", "detector", "rule", "policy")


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "generator.b=x"]`` → ``{"a": "1", "generator.b": "x"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"option {pair!r} is not key=value; write e.g. -o strength=0.7")
        out[key.strip()] = value.strip()
    return out


def _convert(cls: type, field: "attrs.Attribute[Any]", raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    hints = typing.get_type_hints(cls)
    kind = hints.get(field.name, str)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if args and typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if raw.lower() in ("none", "null", ""):
            return None
        kind = args[0]
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind in (int, float):
            return check(f"option {field.name}", kind(raw))  # NaN and infinity are refused here
        if kind is str:
            return raw
        if typing.get_origin(kind) is tuple:
            items = tuple(v.strip() for v in raw.split(",") if v.strip())
            inner = typing.get_args(kind)[0]
            if inner in (int, float):  # weights=1,nan: each number checked like a single one
                return tuple(check(f"option {field.name}", inner(v)) for v in items)
            return items
    except NumberError:
        raise
    except ValueError:
        inner = typing.get_args(kind)[:1] if typing.get_origin(kind) is tuple else ()
        expected = f"comma-separated {inner[0].__name__}s" if inner else getattr(kind, "__name__", kind)
        raise OptionError(f"option {field.name}={raw!r}: expected {expected}") from None
    return raw


def build_config(cls: type | None, values: Mapping[str, Any], owner: str) -> Any:
    """Instantiate a component's attrs config from option values; unknown keys are an error."""
    if cls is None:
        if values:
            raise OptionError(f"{owner} takes no options, got: {', '.join(sorted(values))}")
        return None
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise OptionError(f"{owner} has no option {', '.join(unknown)}; "
                          f"its options: {', '.join(sorted(fields)) or 'none'}")
    try:
        return cls(**{k: _convert(cls, fields[k], v) for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{owner}: {exc}") from None


def route_options(options: Mapping[str, str], accepts: Mapping[str, set[str]]) -> dict[str, dict[str, str]]:
    """Split options among components.

    ``accepts`` maps a component slot (``generator``, ``detector``, ``rule:low-confidence``,
    ``policy``) to the option names it takes. ``slot.key=value`` goes to that slot; a bare
    ``key=value`` goes to every slot that accepts ``key`` and is an error if none does.
    """
    routed: dict[str, dict[str, str]] = {slot: {} for slot in accepts}
    for key, value in options.items():
        prefix, dot, name = key.partition(".")
        if dot and prefix in COMPONENT_PREFIXES:
            slots = [s for s in accepts if s == prefix or s.startswith(prefix + ":")]
            if not slots:
                raise OptionError(f"option {key!r}: no {prefix} in this run")
            for slot in slots:
                routed[slot][name] = value
            continue
        slots = [s for s, names in accepts.items() if key in names]
        if not slots:
            every = sorted({n for names in accepts.values() for n in names})
            raise OptionError(f"no component of this run takes option {key!r}; "
                              f"options here: {', '.join(every) or 'none'}")
        for slot in slots:
            routed[slot][key] = value
    return routed


def option_names(cls: type | None) -> set[str]:
    """The option names an attrs config class takes (none for None)."""
    return {f.name for f in attrs.fields(cls)} if cls is not None else set()


DATASET_PREFIX = "dataset."


def split_dataset_options(options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``-o`` pairs → (the dataset's, without the ``dataset.`` prefix; the components')."""
    ours = {k[len(DATASET_PREFIX):]: v for k, v in options.items() if k.startswith(DATASET_PREFIX)}
    return ours, {k: v for k, v in options.items() if not k.startswith(DATASET_PREFIX)}
