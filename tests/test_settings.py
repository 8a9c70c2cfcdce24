"""One source per distill setting: the fields of ``DistillConfig`` and their metadata make the flags of
``dgr distill``, the keywords of ``dgr.distill``, the settings a recipe carries and the fingerprint."""
from __future__ import annotations

import json

import attrs
import click
import pytest

from dgr.config import DEFAULTS, RECIPE_SETTINGS, DistillConfig, given_settings, setting_fields
from dgr.errors import DgrError


def test_every_setting_has_its_flag_and_a_recipe_setting_is_left_to_the_recipe():
    from dgr.commands.distill import distill

    params = {p.name: p for p in distill.params if isinstance(p, click.Option)}
    for name, (field, meta) in setting_fields().items():
        if not meta.cli:
            assert name not in params or params[name].opts == ["-o"]
            continue
        assert name in params, name
        if isinstance(field.default, tuple):
            assert params[name].multiple, name  # none given: the default rules
        else:
            assert params[name].default == (None if meta.recipe else field.default), name  # None: the recipe's
    assert params["rules"].opts == ["--rule"] and params["rules"].multiple
    assert params["early_stop"].secondary_opts == ["--no-early-stop"]
    assert "[default: the recipe's, else off]" in params["early_stop"].help


def test_the_fingerprints_of_earlier_runs_stay():
    """Settings added after the first runs are left out at their default (pinned fingerprints)."""
    assert DEFAULTS.fingerprint() == "ce6d5839ba53e407"
    assert set(DEFAULTS.identity()) == {"dataset", "data_dir", "ipc", "generator", "model", "detector",
                                        "detector_model", "rules", "policy", "candidates", "seed", "options"}
    changed = DistillConfig(early_stop=True, polish_steps=3, refine_from="members", prototypes="medoids",
                            image_size=16, device="cuda", batch_size=8)
    assert [k for k in changed.identity() if k not in DEFAULTS.identity()] == [
        "early_stop", "image_size", "polish_steps", "refine_from", "prototypes"]
    assert attrs.evolve(changed, device="cpu", batch_size=1).fingerprint() == changed.fingerprint()


def test_the_recipe_settings_are_the_fields_marked_recipe():
    from dgr.recipes import SETTINGS

    assert RECIPE_SETTINGS == ("candidates", "early_stop", "polish_steps", "refine_from", "prototypes")
    assert SETTINGS == (*RECIPE_SETTINGS, "options")


def test_a_config_is_given_whole_and_keywords_win():
    config = DistillConfig(ipc=3, polish_steps=0)
    given = given_settings(config, {"seed": 7, "candidates": None})
    assert given["ipc"] == 3 and given["polish_steps"] == 0 and given["seed"] == 7 and given["candidates"] == 20
    assert given_settings(None, {"ipc": 2, "model": None}) == {"ipc": 2}


def test_an_unknown_keyword_is_one_line_naming_the_settings(tmp_path):
    import dgr

    with pytest.raises(DgrError) as caught:
        dgr.distill(polish_step=3, out=tmp_path / "run")
    message = str(caught.value)
    assert message.startswith("dgr.distill() got an unknown argument 'polish_step' (did you mean 'polish_steps'?)")
    assert "\n" not in message and "refine_from" in message and not (tmp_path / "run").exists()
    with pytest.raises(DgrError, match="unknown argument 'overwite' \\(did you mean 'overwrite'\\?\\)"):
        dgr.distill(overwite=True, out=tmp_path / "run")


def test_a_config_object_runs_as_its_keywords_would(tmp_path):
    import dgr

    config = DistillConfig(ipc=1, candidates=1, seed=2, options=(("steps", "2"),))
    result = dgr.distill(config, recipe="paper", out=tmp_path / "run")
    run = json.loads(result.run_json.read_text())
    assert run["config"] == config.identity() and run["fingerprint"] == config.fingerprint()
    assert run["recipe"] == {"name": "paper", "version": 1, "settings": {"options": {}}, "overridden": {}}
