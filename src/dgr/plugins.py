"""The plugin manager: loads the ``dgr`` entry-point group and fills the registry.

Built-in plugins are entry points of the dgr distribution itself, so they load through
exactly the path a third-party package uses.

Environment:
  DGR_LOAD_PLUGINS      comma-separated entry-point names: load only these
  DGR_DISABLE_PLUGINS   comma-separated entry-point names: skip these
"""
from __future__ import annotations

import os
import warnings
from importlib.metadata import entry_points
from typing import Any, Callable, Sequence

import attrs
import pluggy

from dgr import hookspecs
from dgr.components import ModelFolder
from dgr.errors import DgrError, DuplicateNameError
from dgr.hookspecs import Register
from dgr.registry import KINDS, Entry, Registry

ENTRY_POINT_GROUP = "dgr"


class PluginWarning(UserWarning):
    """A third-party plugin that failed to load or register; it is skipped."""


@attrs.frozen
class PluginInfo:
    """Where a loaded plugin comes from: its name, distribution, version and module."""

    name: str
    distribution: str
    version: str
    module: str


_manager: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}
_broken: dict[str, str] = {}


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def _warn(plugin: str, message: str) -> None:
    _broken[plugin] = message
    warnings.warn(f"dgr plugin {plugin!r} skipped: {message}", PluginWarning, stacklevel=3)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    only = _env_names("DGR_LOAD_PLUGINS")
    disabled = _env_names("DGR_DISABLE_PLUGINS") or set()
    # dgr's own plugins first: a third-party plugin that reuses a built-in name is the one skipped.
    def order(ep: Any) -> tuple[bool, str]:
        return (ep.dist is None or ep.dist.metadata["Name"] != "dgr", ep.name)

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=order):
        if ep.name in disabled or (only is not None and ep.name not in only):
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            pm.check_pending()
        except Exception as exc:  # one broken plugin must not brick the CLI
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            _warn(ep.name, f"{type(exc).__name__}: {exc}")
            continue
        dist = ep.dist
        _infos[ep.name] = PluginInfo(
            name=ep.name,
            distribution=dist.metadata["Name"] if dist else "?",
            version=dist.version if dist else "?",
            module=ep.value,
        )


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with the entry-point plugins loaded."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("dgr")
        pm.add_hookspecs(hookspecs)
        _load_entry_points(pm)
        _manager = pm
    return _manager


def plugin_info(name: str) -> PluginInfo:
    """Distribution and version of a loaded plugin (``?`` for one registered in code)."""
    return _infos.get(name, PluginInfo(name=name, distribution="(registered in code)", version="?",
                                       module="?"))


def broken_plugins() -> dict[str, str]:
    """Plugins that failed to load or register in this process, with the reason."""
    return dict(_broken)


def _make_register(entries: list[Entry], kind: str, plugin: str) -> Register:
    def register(name: str, factory: Callable[..., Any], *, summary: str = "",
                 config: type | None = None, requires: Sequence[str] = (), teacher: bool = False,
                 model_folder: ModelFolder | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise DgrError(f"plugin {plugin!r} registered a {kind} with an empty or non-string name")
        if not callable(factory):
            raise DgrError(f"plugin {plugin!r} registered {kind} {name!r} with a factory that is not callable")
        if kind == "dataset":  # a dgr.DatasetDescription, recognised by its face (no import upwards)
            if not hasattr(factory, "read") or getattr(factory, "name", None) != name:
                raise DgrError(f"plugin {plugin!r} registered dataset {name!r} with something other than a "
                               f"DatasetDescription named {name!r}")
            summary = summary or getattr(factory, "summary", "")
        if model_folder is not None and (kind not in ("generator", "detector")
                                         or not isinstance(model_folder, ModelFolder)):
            raise DgrError(f"plugin {plugin!r} registered {kind} {name!r} with model_folder="
                           f"{model_folder!r}; only a generator or a detector declares one, as a dgr.ModelFolder")
        entries.append(Entry(kind=kind, name=name, factory=factory, summary=summary or "",
                             plugin=plugin, config=config, requires=tuple(requires),
                             teacher=bool(teacher), model_folder=model_folder))

    return register


def build_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Call every ``dgr_register_*`` hook and collect the entries.

    Built fresh on each call (it is cheap: plugins only register factories), so a plugin
    registered or removed in code takes effect at once. A plugin whose hook raises, or that
    registers a name another plugin registered before it, is reported and skipped whole
    (none of its entries is added); the first plugin keeps the name.
    """
    pm = pm or get_plugin_manager()
    pending: dict[str, list[Entry]] = {}  # plugin → its entries, plugins in registration order
    failed: set[str] = set()
    for kind, hook_name in KINDS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            plugin = impl.plugin_name
            entries = pending.setdefault(plugin, [])
            register = _make_register(entries, kind, plugin)
            kwargs = {"register": register} if "register" in impl.argnames else {}
            try:
                impl.function(**kwargs)
            except Exception as exc:
                failed.add(plugin)
                _warn(plugin, f"{hook_name} failed: {type(exc).__name__}: {exc}")
    registry = Registry()
    order = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}  # registration order
    for plugin, entries in sorted(pending.items(), key=lambda item: order.get(item[0], len(order))):
        if plugin in failed:
            continue
        try:
            trial = registry.copy()
            for entry in entries:
                trial.add(entry)
        except DuplicateNameError as exc:
            _warn(plugin, str(exc))
            continue
        registry = trial
    return registry


def registered_plugins(pm: pluggy.PluginManager | None = None) -> list[tuple[str, object]]:
    """The registered plugins (name, plugin object), sorted by name."""
    pm = pm or get_plugin_manager()
    return sorted(((name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None),
                  key=lambda item: item[0])

