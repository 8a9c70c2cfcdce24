"""dgr.rundir is the one owner of the run folder's layout: RunFiles reads it, RunFolder writes it,
and no other module spells its file names."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from dgr.errors import DgrError
from dgr.rundir import CLASSES_DIR, IMAGES_DIR, INITIAL_DIR, MANIFEST_FILE, REPORT_FILE, RUN_FILE, SELECTED_DIR, RunFiles

ROOT = Path(__file__).resolve().parents[1]
# the names only a run folder has ("images" and "classes" are also dataset layouts: Tiny-ImageNet's train/<wnid>/images)
LAYOUT = {RUN_FILE, MANIFEST_FILE, REPORT_FILE, INITIAL_DIR, SELECTED_DIR}


def test_no_module_but_rundir_spells_a_run_folder_file():
    offenders = []
    for root in ("src/dgr", "plugins/dgr_plugins"):
        for path in sorted((ROOT / root).rglob("*.py")):
            if path.name == "rundir.py":
                continue
            tree = ast.parse(path.read_text())
            docs = {id(node.body[0].value) for node in ast.walk(tree)
                    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.body and isinstance(node.body[0], ast.Expr)}
            for node in ast.walk(tree):
                # a path joined from a literal (folder / "images") or a file name on its own
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                        and node.right.value in LAYOUT:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} joins {node.right.value!r}")
                elif isinstance(node, ast.Constant) and id(node) not in docs and node.value in (
                        RUN_FILE, MANIFEST_FILE, REPORT_FILE):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} spells {node.value!r}")
    assert offenders == [], offenders


def test_run_files_read_a_run_and_refuse_a_missing_or_damaged_one(tmp_path):
    files = RunFiles(tmp_path)
    assert not files.holds_run() and files.read_run() is None
    with pytest.raises(DgrError, match="holds no dgr run"):
        files.load_run()
    files.run_file.write_text("{not json")
    assert files.holds_run() and files.read_run() is None
    with pytest.raises(DgrError, match="is damaged"):
        files.load_run()
    files.run_file.write_text(json.dumps({"status": "running", "dataset": {"classes": ["b", "a"]}}))
    assert files.load_run()["status"] == "running" and files.class_names() == ["b", "a"]
    assert (files.images_dir, files.initial_dir, files.manifest_file, files.report_file) == (
        tmp_path / IMAGES_DIR, tmp_path / INITIAL_DIR, tmp_path / MANIFEST_FILE, tmp_path / REPORT_FILE)
    (tmp_path / CLASSES_DIR).mkdir()
    (tmp_path / CLASSES_DIR / "z.json").write_text(json.dumps({"records": []}))
    assert files.class_names({"dataset": {}}) == ["z"]  # a run.json that names none: the summaries on disk
    assert files.summaries(["z", "a"]) == [{"records": []}]  # classes that are in
