"""``dgr recipes``: the shipped recipes, their settings and what each measured."""
from __future__ import annotations

import click


@click.command(name="recipes")
@click.argument("name", required=False)
def recipes(name: str | None) -> None:
    """The recipes `dgr distill --recipe` takes, with their settings and measured results (NAME: one)."""
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from dgr.recipes import builtin_names, load_recipe

    console = Console()
    for recipe in [load_recipe(n) for n in ([name] if name else builtin_names())]:
        console.print(f"[bold]{escape(recipe.name)}[/bold] (version {recipe.version}): {escape(recipe.summary)}")
        console.print(f"  settings: {escape(json.dumps(dict(recipe.settings), sort_keys=True))}")
        if recipe.results:
            table = Table("dataset", "IPC", "protocol", "accuracy", "random real", "IOR", "note", box=None,
                          padding=(0, 1))
            for r in recipe.results:
                table.add_row(str(r.get("dataset", "")), str(r.get("ipc", "")),
                              f"{r.get('protocol', '')} {r.get('labels', '')}, {r.get('seeds', '?')} seeds",
                              str(r.get("accuracy", "")), str(r.get("random_real", "")), str(r.get("ior", "")),
                              escape(str(r.get("note", ""))))
            console.print(table)
        console.print()
    console.print("Defaults: a run without --recipe takes its dataset's recipe for the IPC (`dgr list datasets`, "
                  "docs/recipes.md), else paper.")
