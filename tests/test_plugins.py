"""The plugin core: registration through hooks, duplicates, unknown names, broken plugins."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import dgr
from dgr.errors import DuplicateNameError, UnknownNameError
from dgr.plugins import PluginWarning, broken_plugins, build_registry, get_plugin_manager


class PickLastPolicy:
    def select(self, candidates, label, accepted, valid):
        from dgr.components import Choice

        return Choice(len(valid) - 1, 0.0, {})


class TestPlugin:
    """A class-based plugin registering one policy and one rule."""

    @dgr.hookimpl
    def dgr_register_selection_policies(self, register):
        register("pick-last", lambda context: PickLastPolicy(), summary="always the last candidate")

    @dgr.hookimpl
    def dgr_register_anomaly_rules(self, register):
        register("never", lambda context: None, summary="flags nothing")


class DuplicatePlugin:
    @dgr.hookimpl
    def dgr_register_selection_policies(self, register):
        register("confidence", lambda context: None)


def test_builtins_register_through_entry_points():
    registry = build_registry()
    assert {"dit"} <= set(registry.names("generators"))
    assert {"convnet"} <= set(registry.names("detectors"))
    assert {"mismatch", "low-confidence"} <= set(registry.names("rules"))
    assert {"confidence-uniqueness", "confidence", "uniqueness", "first-valid"} <= set(registry.names("policies"))
    assert registry.get("generator", "dit").plugin == "dit"
    assert registry.names("students") == ["convnet", "mlp", "resnet18"]
    assert registry.names("protocols") == ["dc", "dsa", "minimax", "rded"]
    assert registry.names("baselines") == ["full", "kmeans-real", "kmeans-real-polish", "random-real", "unrefined"]
    third_party = {"csv-images"}  # examples/dgr-dataset-example, when installed
    assert set(registry.names("datasets")) - third_party == {"cifar10", "cifar100", "digits", "fashion-mnist", "hf",
                                                             "imagenet", "tiny-imagenet"}
    assert registry.get("dataset", "cifar10").plugin == "datasets"
    assert registry.get("protocol", "dc").plugin == "evaluation"
    assert registry.get("detector", "convnet").teacher  # dgr evaluate asks this, not the name


def test_evaluation_names_have_the_registry_errors():
    registry = build_registry()
    for kind, typo, meant in (("student", "convnte", "convnet"), ("protocol", "dsaa", "dsa"),
                              ("baseline", "unrefind", "unrefined")):
        with pytest.raises(UnknownNameError, match=f"did you mean {meant!r}.*available {kind}s: "):
            registry.get(kind, typo)


class DuplicateStudentPlugin:
    @dgr.hookimpl
    def dgr_register_students(self, register):
        register("convnet", lambda context: None)


def test_a_duplicate_student_degrades_with_a_warning():
    pm = get_plugin_manager()
    pm.register(DuplicateStudentPlugin(), name="dup-student")
    try:
        with pytest.warns(PluginWarning, match="'evaluation' before plugin 'dup-student'"):
            registry = build_registry()
        assert registry.get("student", "convnet").plugin == "evaluation"
    finally:
        pm.unregister(name="dup-student")


def test_class_based_plugin_registers_and_unregisters():
    pm = get_plugin_manager()
    pm.register(TestPlugin(), name="test-plugin")
    try:
        registry = build_registry()
        entry = registry.get("policy", "pick-last")
        assert entry.plugin == "test-plugin"
        assert entry.summary == "always the last candidate"
        assert "never" in registry.names("rule")
    finally:
        pm.unregister(name="test-plugin")
    assert "pick-last" not in build_registry().names("policy")


def test_duplicate_name_skips_the_later_plugin_with_a_warning_naming_both():
    pm = get_plugin_manager()
    pm.register(DuplicatePlugin(), name="dup-plugin")
    try:
        with pytest.warns(PluginWarning) as caught:
            registry = build_registry()
        assert registry.get("policy", "confidence").plugin == "policies"  # the first keeps the name
        message = " ".join(str(w.message) for w in caught)
        assert "'policies'" in message and "'dup-plugin'" in message
        assert "dup-plugin" in broken_plugins()
    finally:
        pm.unregister(name="dup-plugin")


def test_registry_refuses_a_duplicate_name():
    from dgr.registry import Entry, Registry

    registry = Registry()
    registry.add(Entry(kind="policy", name="x", factory=print, summary="", plugin="a"))
    with pytest.raises(DuplicateNameError, match="'a' before plugin 'b'"):
        registry.add(Entry(kind="policy", name="x", factory=print, summary="", plugin="b"))


def test_unknown_name_lists_available_and_suggests():
    registry = build_registry()
    with pytest.raises(UnknownNameError) as err:
        registry.get("policy", "confidense")
    message = str(err.value)
    assert "did you mean 'confidence'" in message
    assert "confidence-uniqueness" in message and "first-valid" in message


def test_misspelled_hook_fails_check_pending():
    import pluggy

    class Misspelled:
        @dgr.hookimpl
        def dgr_register_generatorz(self, register):
            pass

    pm = pluggy.PluginManager("dgr")
    from dgr import hookspecs

    pm.add_hookspecs(hookspecs)
    pm.register(Misspelled())
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def _fake_distribution(root, module_source: str, name: str = "brokenplug"):
    """An installed-looking distribution (dist-info + entry point) on a folder we put on sys.path."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[dgr]\n{name} = {name}\n")


def _dgr(args, env_extra, tmp_path):
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "dgr", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_broken_third_party_plugin_is_skipped_with_a_warning(tmp_path):
    _fake_distribution(tmp_path, "raise ImportError('this plugin is broken on purpose')\n")
    result = _dgr(["list", "policies"], {"PYTHONPATH": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "confidence-uniqueness" in result.stdout
    assert "brokenplug" in result.stderr and "broken on purpose" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_vars_disable_and_restrict_plugins(tmp_path):
    disabled = _dgr(["list", "policies"], {"DGR_DISABLE_PLUGINS": "policies"}, tmp_path)
    assert disabled.returncode == 0
    assert "confidence-uniqueness" not in disabled.stdout
    only = _dgr(["list", "rules"], {"DGR_LOAD_PLUGINS": "rules"}, tmp_path)
    assert "mismatch" in only.stdout
    gens = _dgr(["list", "generators"], {"DGR_LOAD_PLUGINS": "rules"}, tmp_path)
    assert "dit" not in gens.stdout


def test_third_party_entry_point_plugin_is_listed(tmp_path):
    _fake_distribution(tmp_path, """
        import dgr

        @dgr.hookimpl
        def dgr_register_selection_policies(register):
            register("third-party-pick", lambda context: None, summary="from an installed package")
    """, name="goodplug")
    result = _dgr(["list", "policies"], {"PYTHONPATH": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "third-party-pick" in result.stdout and "goodplug" in result.stdout


def test_installed_plugin_reusing_a_builtin_name_degrades_like_a_broken_one(tmp_path):
    """A real installed distribution (dist-info + entry point, loaded by importlib.metadata)
    that registers the built-in policy name ``confidence`` and one name of its own."""
    _fake_distribution(tmp_path, """
        import dgr

        @dgr.hookimpl
        def dgr_register_selection_policies(register):
            register("its-own-pick", lambda context: None, summary="never added: the plugin is skipped whole")
            register("confidence", lambda context: None, summary="clashes with the built-in")
    """, name="clashplug")
    env = {"PYTHONPATH": str(tmp_path)}
    listed = _dgr(["list", "policies"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "highest p(label)" in listed.stdout and "its-own-pick" not in listed.stdout
    warnings = [line for line in listed.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, listed.stderr
    assert "'clashplug'" in warnings[0] and "'policies'" in warnings[0] and "'confidence'" in warnings[0]
    shown = _dgr(["plugins"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "clashplug" in shown.stdout and "skipped clashplug" in " ".join(shown.stdout.split())
    assert "'policies'" in shown.stdout
