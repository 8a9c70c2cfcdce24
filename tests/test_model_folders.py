"""Plugins declare where their model folders record the image shape (``register(..., model_folder=)``);
dgr.sizes asks the registry and names no component."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dgr
from dgr.plugins import PluginWarning
from dgr.sizes import trained_shape

ROOT = Path(__file__).resolve().parents[1]


class ShapedGenerator:
    @dgr.hookimpl
    def dgr_register_generators(self, register):
        register("shaped", lambda context: None, model_folder=dgr.ModelFolder("shape.json", "planes", size_key="hw"))
        register("shapeless", lambda context: None)


def test_the_core_reads_a_shape_where_the_plugin_says(tmp_path):
    (tmp_path / "shape.json").write_text(json.dumps({"planes": 3, "hw": [12, 12]}))
    pm = dgr.get_plugin_manager()
    pm.register(ShapedGenerator(), name="test-shaped")
    try:
        shape = trained_shape("generator", "shaped", str(tmp_path), "digits")
        assert shape is not None and (shape.channels, shape.height, shape.width) == (3, 12, 12)
        assert trained_shape("generator", "shapeless", str(tmp_path), "digits") is None
        assert trained_shape("generator", "shaped", None, "digits") is None  # not shipped: no folder, no shape
    finally:
        pm.unregister(name="test-shaped")


def test_the_built_ins_declare_their_folders_and_find_the_shipped_models():
    registry = dgr.build_registry()
    assert registry.get("generator", "dit").model_folder.shipped
    assert registry.get("detector", "convnet").model_folder.architectures == ("convnet",)
    assert registry.get("detector", "resnet").model_folder.architectures == ("torchvision",)
    assert registry.get("generator", "sd").model_folder is None
    generator = trained_shape("generator", "dit", None, "digits")  # the shipped digits models
    detector = trained_shape("detector", "convnet", None, "digits")
    assert generator is not None and detector is not None
    assert (generator.height, generator.width) == (detector.height, detector.width) == (8, 8)
    assert trained_shape("generator", object(), None, "digits") is None  # an instance declares nothing


class Misdeclared:
    @dgr.hookimpl
    def dgr_register_anomaly_rules(self, register):
        register("odd-rule", lambda context: None, model_folder=dgr.ModelFolder("x.json", "c"))


def test_only_generators_and_detectors_declare_a_model_folder():
    pm = dgr.get_plugin_manager()
    pm.register(Misdeclared(), name="test-misdeclared")
    try:
        with pytest.warns(PluginWarning, match="only a generator or a detector declares one"):
            assert "odd-rule" not in dgr.build_registry().names("rules")
    finally:
        pm.unregister(name="test-misdeclared")


def test_sizes_names_no_component():
    text = (ROOT / "src" / "dgr" / "sizes.py").read_text()
    code = re.sub(r'"""[\s\S]*?"""', "", text)  # docstrings may name examples
    assert not re.search(r'"(dit|convnet|resnet|dgr_model\.json|config\.json)"', code)
