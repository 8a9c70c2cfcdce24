"""Recipes: named run settings as data, the dataset's default per IPC, explicit values winning,
a run repeated from its run.json, and one-line refusals."""
from __future__ import annotations

import json

import pytest
from dgr_runs import run_dgr

from dgr.errors import DgrError


def test_a_dataset_carries_its_default_recipe_per_ipc():
    from dgr.recipes import choose_recipe, default_recipe

    assert default_recipe("digits", 10) == "medoids-polish" and default_recipe("digits", 1) == "polish"
    assert default_recipe("digits", 50) == "medoids-low" and default_recipe("digits", 40) == "medoids-low"
    assert default_recipe("fashion-mnist", 50) == "polish"
    assert default_recipe("cifar10", 10) == "paper" and default_recipe("some/folder", 10) == "paper"
    recipe, settings, overridden = choose_recipe(None, "fashion-mnist", 10, {})
    assert recipe.name == "polish" and overridden == {}
    assert settings == {"candidates": 20, "early_stop": True, "polish_steps": 200, "refine_from": "prototype",
                        "prototypes": "centroids", "options": {"strength": "0.5"}}


def test_explicit_values_win_over_the_recipe_and_are_recorded():
    from dgr.recipes import choose_recipe

    recipe, settings, overridden = choose_recipe("polish", "digits", 10, {
        "polish_steps": 0, "candidates": 20, "options": {"strength": "0.7", "steps": "5"}})
    assert settings["polish_steps"] == 0 and settings["early_stop"] is True
    assert settings["options"] == {"strength": "0.7", "steps": "5"}
    assert overridden == {"polish_steps": 0, "options": {"strength": "0.7"}}  # candidates: the recipe's own value
    assert recipe.record(overridden)["settings"]["polish_steps"] == 200


def test_the_paper_recipe_is_the_papers_method():
    from dgr.config import DEFAULTS
    from dgr.recipes import choose_recipe

    _, settings, _ = choose_recipe("paper", "digits", 10, {})
    assert settings == {"candidates": DEFAULTS.candidates, "early_stop": False, "polish_steps": 0,
                        "refine_from": "prototype", "prototypes": "centroids", "options": {}}


def test_recipe_files_are_checked(tmp_path):
    from dgr.recipes import load_recipe

    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"name": "mine", "settings": {"candidates": 4, "options": {"strength": 0.6}}}))
    assert load_recipe(str(good)).settings == {"candidates": 4, "options": {"strength": "0.6"}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "settings": {"ipc": 5}}))
    with pytest.raises(DgrError, match="sets ipc, which a recipe cannot set"):
        load_recipe(str(bad))
    bad.write_text("{not json")
    with pytest.raises(DgrError, match="is not valid JSON"):
        load_recipe(str(bad))
    with pytest.raises(DgrError, match="unknown recipe 'polsh' \\(did you mean 'polish'\\?\\)"):
        load_recipe("polsh")


def test_bad_recipes_are_one_line_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    result = run_dgr("distill", "--recipe", "nosuch", "--out", out)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: unknown recipe 'nosuch'") and not out.exists()
    listed = run_dgr("recipes")
    assert listed.returncode == 0 and all(n in listed.stdout for n in ("paper", "polish", "medoids-low",
                                                                       "medoids-polish"))


@pytest.mark.slow
def test_a_run_is_repeated_from_its_run_json(tmp_path):
    """``--recipe RUN`` takes the run's settings, dataset, IPC and seed: the same images, byte for byte."""
    first = tmp_path / "first"
    made = run_dgr("distill", "--recipe", "polish", "--ipc", "2", "--seed", "4", "--polish-steps", "3",
                   "-o", "steps=4", "--out", first, "-q")
    assert made.returncode == 0, made.stderr[-2000:]
    again = tmp_path / "again"
    repeated = run_dgr("distill", "--recipe", first, "--out", again, "-q")
    assert repeated.returncode == 0, repeated.stderr[-2000:]
    one, two = (json.loads((d / "run.json").read_text()) for d in (first, again))
    assert one["fingerprint"] == two["fingerprint"] and two["config"]["ipc"] == 2 and two["config"]["seed"] == 4
    assert one["recipe"]["name"] == "polish" and one["recipe"]["overridden"] == {"polish_steps": 3}
    assert two["recipe"]["name"].startswith("run:")
    pngs = sorted(p.relative_to(first) for p in (first / "images").rglob("*.png"))
    assert pngs and all((first / p).read_bytes() == (again / p).read_bytes() for p in pngs)
