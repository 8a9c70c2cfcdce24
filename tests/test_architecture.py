"""docs/architecture.md lists every module of the core and of the built-in plugins."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_lists_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    core, plugins = text.split("### The built-in plugins", 1)
    listed = {"src/dgr": set(re.findall(r"^\| `([\w/]+\.py)` \|", core, re.M)),
              "plugins/dgr_plugins": set(re.findall(r"^\| `([\w/]+\.py)` \|", plugins, re.M))}
    missing = [f"{root}/{path.relative_to(ROOT / root).as_posix()}"
               for root in listed for path in sorted((ROOT / root).rglob("*.py"))
               if path.relative_to(ROOT / root).as_posix() not in listed[root]]
    assert not missing, f"docs/architecture.md lacks: {missing}"
    stale = [f"{root}/{name}" for root, names in listed.items() for name in names if not (ROOT / root / name).exists()]
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_no_core_module_imports_a_plugin_or_the_orchestrator_from_below():
    below = ["components.py", "registry.py", "options.py", "build.py", "prototypes.py", "synthesis.py",
             "detection.py", "refinement.py", "selection.py", "uniqueness.py", "rundir.py", "report.py",
             "seeds.py", "imaging.py"]
    offenders = []
    for path in (ROOT / "src" / "dgr").rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(from|import) dgr_plugins", text, re.M):
            offenders.append(f"{path.name} imports a plugin")
        if path.name in below and re.search(r"^\s*(from dgr\.pipeline|import dgr\.pipeline|from dgr\.api|"
                                            r"from dgr import (api|pipeline))", text, re.M):
            offenders.append(f"{path.name} imports the orchestrator")
    assert not offenders, offenders
