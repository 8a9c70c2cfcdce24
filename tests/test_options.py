from __future__ import annotations

import attrs
import pytest

from dgr.errors import OptionError
from dgr.options import build_config, parse_pairs, route_options


@attrs.frozen
class Opts:
    strength: float = 0.7
    steps: int = 25
    fast: bool = False
    name: str | None = None


def test_parse_pairs_and_errors():
    assert parse_pairs(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(OptionError, match="not key=value"):
        parse_pairs(["novalue"])


def test_build_config_converts_types_and_refuses_unknown_keys():
    cfg = build_config(Opts, {"strength": "0.5", "steps": "10", "fast": "yes", "name": "none"}, "generator 'x'")
    assert cfg == Opts(0.5, 10, True, None)
    with pytest.raises(OptionError, match="its options: fast, name, steps, strength"):
        build_config(Opts, {"strenght": "1"}, "generator 'x'")
    with pytest.raises(OptionError, match="expected bool"):
        build_config(Opts, {"fast": "maybe"}, "generator 'x'")
    with pytest.raises(OptionError, match="takes no options"):
        build_config(None, {"a": "1"}, "rule 'mismatch'")


def test_route_options_by_name_and_by_prefix():
    accepts = {"generator": {"steps", "strength"}, "detector": {"steps"}, "rule:low-confidence": {"threshold"},
               "policy": set()}
    routed = route_options({"strength": "0.5", "threshold": "0.9", "detector.steps": "3"}, accepts)
    assert routed["generator"] == {"strength": "0.5"}
    assert routed["rule:low-confidence"] == {"threshold": "0.9"}
    assert routed["detector"] == {"steps": "3"}
    assert route_options({"steps": "7"}, accepts)["detector"] == {"steps": "7"}  # every slot that takes it
    with pytest.raises(OptionError, match="no component of this run takes option 'weight'"):
        route_options({"weight": "1"}, accepts)
