"""Recipes: named, versioned sets of run settings, kept as data (``dgr/assets/recipes/*.json``).

A recipe sets the method's settings a run may change — the fields of :class:`~dgr.config.DistillConfig`
marked ``recipe`` (``candidates``, ``early_stop``, ``polish_steps``, ``refine_from``, ``prototypes``) and
component ``options`` — and lists what it
measured (``dgr recipes``). ``dgr distill --recipe NAME|FILE`` runs it; without ``--recipe`` a run
takes its dataset's default for the IPC (``DatasetDescription.recipes``), else ``paper`` (the
paper's method exactly). A value given explicitly (a flag, an ``-o`` option, an API argument) wins
over the recipe's, and run.json records the recipe whole and what was overridden.
``--recipe runs/X/run.json`` takes the settings of a run that was made before.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import attrs

from dgr.assets import ASSETS_DIR
from dgr.config import DEFAULTS, RECIPE_SETTINGS
from dgr.errors import DgrError
from dgr.registry import suggest
from dgr.rundir import RunFiles

RECIPES_DIR = ASSETS_DIR / "recipes"
PAPER = "paper"
SETTINGS = (*RECIPE_SETTINGS, "options")
"""The run settings a recipe may set (the rest of a run — dataset, IPC, models, seed — is the user's)."""


@attrs.frozen
class Recipe:
    """A named, versioned set of run settings and the results it measured."""

    name: str
    version: int
    summary: str
    settings: Mapping[str, Any]
    results: tuple[Mapping[str, Any], ...] = ()
    source: str = ""  # the file it was read from

    def record(self, overridden: Mapping[str, Any]) -> dict[str, Any]:
        """What run.json says of the recipe: all of it, and the settings given explicitly instead."""
        return {"name": self.name, "version": self.version, "settings": dict(self.settings),
                "overridden": dict(overridden)}


def _check(data: Any, where: str) -> Recipe:
    if not isinstance(data, dict):
        raise DgrError(f"recipe {where} is not a JSON object; see `dgr recipes` and docs/recipes.md")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise DgrError(f"recipe {where}: settings must be an object of {', '.join(SETTINGS)}")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise DgrError(f"recipe {where} sets {', '.join(unknown)}, which a recipe cannot set; it may set "
                       f"{', '.join(SETTINGS)}")
    options = settings.get("options", {})
    if not isinstance(options, dict):
        raise DgrError(f"recipe {where}: options must be an object {{\"key\": \"value\"}}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise DgrError(f"recipe {where} has no name")
    return Recipe(name=name, version=int(data.get("version", 1)), summary=str(data.get("summary", "")),
                  settings={**settings, "options": {str(k): str(v) for k, v in options.items()}},
                  results=tuple(data.get("results", ())), source=where)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise DgrError(f"recipe file {path} cannot be read ({type(exc).__name__})") from None
    except ValueError as exc:
        raise DgrError(f"recipe file {path} is not valid JSON ({exc})") from None


def from_run(run: Mapping[str, Any], path: Path) -> Recipe:
    """The settings of a finished run (its run.json) as a recipe."""
    config = run.get("config") or {}
    settings = {k: config[k] for k in SETTINGS if k in config and k != "options"}
    settings["options"] = dict(config.get("options") or {})
    settings.setdefault("early_stop", False)  # run.json leaves defaults out: a repeat must not take a recipe's
    settings.setdefault("polish_steps", 0)
    return Recipe(name=f"run:{path}", version=1, summary=f"the settings of the run in {path.parent}",
                  settings=settings, source=str(path))


def run_config(spec: str | None) -> dict[str, Any]:
    """The config of the run ``spec`` names (a run folder or its run.json), or {} when it names none."""
    if not spec or "/" not in spec and (RECIPES_DIR / f"{spec}.json").is_file():
        return {}
    path = Path(spec).expanduser()
    path = RunFiles(path).run_file if path.is_dir() else path
    if not path.is_file():
        return {}
    data = _read_json(path)
    config = data.get("config") if isinstance(data, dict) and "settings" not in data else None
    return dict(config) if isinstance(config, dict) else {}


def builtin_names() -> list[str]:
    """The names of the shipped recipes, sorted."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def load_recipe(spec: str) -> Recipe:
    """A shipped recipe by name, a recipe file, or a run's ``run.json`` (or its folder)."""
    builtin = RECIPES_DIR / f"{spec}.json"
    if "/" not in spec and builtin.is_file():
        return _check(_read_json(builtin), spec)
    path = Path(spec).expanduser()
    if path.is_dir() and RunFiles(path).run_file.is_file():
        path = RunFiles(path).run_file
    if path.is_file():
        data = _read_json(path)
        if isinstance(data, dict) and "config" in data and "settings" not in data:
            return from_run(data, path)
        return _check(data, str(path))
    names = builtin_names()
    raise DgrError(f"unknown recipe {spec!r}{suggest(spec, names)}; available recipes: {', '.join(names)}, "
                   "or a recipe .json file, or a run folder / its run.json")


def default_recipe(dataset: str, ipc: int) -> str:
    """The recipe a run takes without ``--recipe``: its dataset's default for the IPC, else ``paper``."""
    from dgr.datasets import known_description

    description = known_description(dataset)
    return description.recipe_for(ipc) if description is not None else PAPER


def resolve(recipe: Recipe, explicit: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the run's settings, the ones given explicitly that differ from the recipe's).

    ``explicit`` holds the settings the caller gave (None: not given) and ``options``, the ``-o``
    pairs, which are merged with the recipe's key by key (the caller's win)."""
    settings: dict[str, Any] = {}
    overridden: dict[str, Any] = {}
    for key in RECIPE_SETTINGS:
        given, planned = explicit.get(key), recipe.settings.get(key)
        settings[key] = given if given is not None else planned if planned is not None else getattr(DEFAULTS, key)
        if given is not None and planned is not None and given != planned:
            overridden[key] = given
    options = dict(recipe.settings.get("options", {}))
    for key, value in dict(explicit.get("options") or {}).items():
        if key in options and options[key] != value:
            overridden.setdefault("options", {})[key] = value
        options[key] = value
    settings["options"] = options
    return settings, overridden


def choose_recipe(spec: str | None, dataset: str, ipc: int,
                  explicit: Mapping[str, Any]) -> tuple[Recipe, dict[str, Any], dict[str, Any]]:
    """(the recipe a run takes, its resolved settings, what was given explicitly instead): ``spec``,
    else the dataset's default for ``ipc``."""
    recipe = load_recipe(spec if spec is not None else default_recipe(dataset, ipc))
    settings, overridden = resolve(recipe, explicit)
    return recipe, settings, overridden

