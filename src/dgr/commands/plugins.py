"""``dgr plugins``: the loaded plugins, what each registers, and the ones skipped."""
from __future__ import annotations

import click


@click.command(name="plugins")
def plugins() -> None:
    """Loaded plugins and what each registers."""
    from rich.console import Console
    from rich.table import Table

    from dgr.plugins import broken_plugins, build_registry, plugin_info, registered_plugins
    from dgr.registry import KINDS, PLURALS

    registry = build_registry()
    broken = broken_plugins()
    table = Table("plugin", "distribution", "version", "registers")
    for name, _ in registered_plugins():
        info = plugin_info(name)
        parts = []
        for kind in KINDS:
            names = [e.name for e in registry.entries(kind) if e.plugin == name]
            if names:
                parts.append(f"{PLURALS[kind]}: {', '.join(names)}")
        registers = "[yellow](skipped, see below)[/yellow]" if name in broken else "; ".join(parts) or "(hooks only)"
        table.add_row(name, info.distribution, info.version, registers)
    console = Console()
    console.print(table)
    for name, why in broken.items():
        console.print(f"[yellow]skipped {name}: {why}[/yellow]")
