"""Every Python block of README.md and docs/*.md runs as written (issue 11: docs must work when
copied). Blocks of one file run in order in one namespace, in a scratch folder where the README's
quick start (`dgr distill`) has already filled runs/digits, as it has for a reader.

A block may be marked not runnable with the line ``<!-- docs-test: skip (why) -->`` right above it
(a fragment that shows a signature, or one that needs weights this machine does not have); the test
requires the reason. docs/plugins.md is left to its own tests (tests/test_examples.py): most of its
blocks are signatures and fragments of a plugin package.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "plugins.md")]
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.S)
SKIP = re.compile(r"<!-- docs-test: skip \((?P<why>[^)]+)\) -->")


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, skip reason) of each ```python block."""
    text = path.read_text()
    blocks = []
    for m in BLOCK.finditer(text):
        line = text[: m.start("code")].count("\n") + 1
        skip = SKIP.search(m.group("before"))
        if "docs-test: skip" in m.group("before") and skip is None:
            raise AssertionError(f"{path.name}:{line}: a skip marker needs a reason: <!-- docs-test: skip (why) -->")
        blocks.append((line, m.group("code"), skip.group("why") if skip else None))
    return blocks


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory) -> Path:
    """A folder where the quick start has run: runs/digits holds the default digits run."""
    import os

    import dgr

    folder = tmp_path_factory.mktemp("reader")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        dgr.distill()  # `dgr distill`, the README's quick start
    finally:
        os.chdir(cwd)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_python_blocks_run_as_written(path, reader_folder, monkeypatch):
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no Python block")
    monkeypatch.chdir(reader_folder)
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    for line, code, skip in blocks:
        if skip:
            continue
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the block that failed
            raise AssertionError(f"{path.name} block at line {line} fails as written: "
                                 f"{type(exc).__name__}: {exc}") from exc


def test_skip_markers_name_a_reason():
    for path in FILES:
        python_blocks(path)  # raises on a marker without a reason
