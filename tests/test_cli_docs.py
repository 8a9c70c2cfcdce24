"""docs/cli.md documents every option of every command, in that command's section (the options
come from the click commands themselves, so a new option without its line fails here)."""
from __future__ import annotations

import re
from pathlib import Path

import click

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands(command: click.Command, path: tuple[str, ...] = ()):
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))
    else:
        yield path, command


def section(text: str, name: str) -> str:
    """The part of docs/cli.md under the heading that names ``dgr NAME``."""
    parts = re.split(r"^## ", text, flags=re.M)
    found = [p for p in parts if re.match(rf"[^\n]*`dgr {re.escape(name)}[ `|\]]", p)]
    assert found, f"docs/cli.md has no section for dgr {name}"
    return found[0]


def test_every_option_of_every_command_is_in_its_section():
    from dgr.cli import cli

    text = DOC.read_text()
    missing = []
    for path, command in commands(cli):
        body = section(text, path[0])
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            spelled = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")] or list(param.opts)
            if not any(re.search(rf"`[^`]*{re.escape(o)}\b", body) for o in spelled):
                missing.append(f"dgr {' '.join(path)} {spelled[0]}")
    assert not missing, f"docs/cli.md lacks: {', '.join(missing)}"
