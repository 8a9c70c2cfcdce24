"""The import graph of the core: no circle (imports inside functions count; ``TYPE_CHECKING``
blocks do not), and the layers point down — the stages, models and folders never import the API
(``dgr.api``), the run lifecycle (``dgr.run_lifecycle``, ``dgr.pipeline``), the commands or the package face;
the networks (``dgr.models``) never import what trains or uses them (training, evaluation, the stages)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
TOP = {"dgr": "the package face", "dgr.cli": "the command line", "dgr.api": "the Python API",
       "dgr.run_lifecycle": "the run lifecycle", "dgr.pipeline": "the orchestrator"}
MAY_IMPORT_TOP = {"dgr": {"dgr.api"}, "dgr.cli": {"dgr.commands"}, "dgr.api": {"dgr.run_lifecycle"},
                  "dgr.run_lifecycle": {"dgr.pipeline"}, "dgr.commands": {"dgr.api"}}
# A lower layer and what sits above it: the layer imports none of these (nor TOP, nor the commands).
BELOW = {"dgr.models": ("dgr.training", "dgr.evaluation", "dgr.polishing", "dgr.prototypes", "dgr.synthesis",
                        "dgr.detection", "dgr.refinement", "dgr.selection", "dgr.build", "dgr.plugins",
                        "dgr.sizes", "dgr.report")}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        hidden = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                  and "TYPE_CHECKING" in ast.unparse(block.test) for part in block.body for node in ast.walk(part)}
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                found |= subs | ({node.module} if len(subs) < len(node.names) else set())
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        edges[name] = {m for m in found if m in modules and m != name}
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_core_has_no_import_circle():
    assert circles(graph()) == []


def test_imports_point_down_the_layers():
    offenders = []
    for module, targets in graph().items():
        allowed = set().union(*(v for k, v in MAY_IMPORT_TOP.items() if module == k or module.startswith(k + ".")))
        for target in targets:
            top = next((t for t in (*TOP, "dgr.commands") if target == t or target.startswith(t + ".")), None)
            if top is None or top in allowed or module == top or module.startswith(top + "."):
                continue
            offenders.append(f"{module} imports {target}")
    assert offenders == [], offenders


def test_the_models_sit_below_what_trains_and_uses_them():
    offenders = [f"{module} imports {target}" for module, targets in graph().items() for layer, above in BELOW.items()
                 if module == layer or module.startswith(layer + ".")
                 for target in targets if any(target == a or target.startswith(a + ".") for a in above)]
    assert offenders == [], offenders


def test_the_benchmarks_use_only_the_public_api_and_the_registry():
    """A benchmark builds a component through ``dgr.plugins.build_registry``, never from a plugin's
    modules: the plugin's internals may move without breaking a benchmark."""
    offenders = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name} imports {n}" for n in names if n.split(".")[0] == "dgr_plugins"]
    assert offenders == [], offenders
