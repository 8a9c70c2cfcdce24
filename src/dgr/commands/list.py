"""``dgr list KIND``: the registered components of one kind, their options and requirements."""
from __future__ import annotations

import click


@click.command(name="list")
@click.argument("kind")
def list_components(kind: str) -> None:
    """Registered components of KIND: generators, detectors, rules, policies, students, protocols, baselines
    or datasets (with the folder layout each reads)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from dgr.options import option_names
    from dgr.plugins import build_registry

    registry = build_registry()
    entries = registry.entries(kind)
    table = Table("name", "plugin", "options", "summary")
    for e in entries:
        missing = e.missing_requirements()
        summary = escape(e.summary)
        layout = getattr(e.factory, "layout", "") if e.kind == "dataset" else ""
        if layout:
            summary += escape(f"; --data-dir: {layout}")
        summary += f" [red](needs {', '.join(missing)})[/red]" if missing else ""
        table.add_row(e.name, e.plugin, ", ".join(sorted(option_names(e.config))), summary)
    Console().print(table)
