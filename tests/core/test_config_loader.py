"""The generic YAML -> dataclass loader and `key=value` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from handdet.core.config import deep_update, from_dict, parse_overrides, to_dict
from handdet.core.errors import ConfigError


@dataclass
class Inner:
    a: float = 1.0
    names: list = field(default_factory=list)


@dataclass
class Outer:
    n: int = 1
    path: Path = Path("x")
    opt: str | None = None
    inner: Inner = field(default_factory=Inner)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({}, Outer()),
        ({"n": 3, "inner": {"a": 2}}, Outer(n=3, inner=Inner(a=2.0))),  # int accepted for float
        ({"opt": None}, Outer()),
        ({"path": "a/b"}, Outer(path=Path("a/b"))),
    ],
)
def test_from_dict(data, expected):
    assert from_dict(Outer, data, "t.yaml") == expected


@pytest.mark.parametrize(
    "data, message",
    [
        ({"m": 1}, "t.yaml: unknown key 'm'"),
        ({"inner": {"b": 1}}, "unknown key 'inner.b'"),
        ({"n": 1.5}, "key 'n' expects int, got float"),
        ({"opt": 3}, "key 'opt' expects str"),
        ({"inner": {"names": "x"}}, "key 'inner.names' expects list"),
    ],
)
def test_from_dict_errors(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        from_dict(Outer, data, "t.yaml")


def test_overrides_and_round_trip():
    o = parse_overrides(["n=4", "inner.a=0.5", "opt=hello"])
    assert o == {"n": 4, "inner": {"a": 0.5}, "opt": "hello"}
    cfg = from_dict(Outer, deep_update({"inner": {"names": ["x"]}}, o))
    assert cfg.inner.names == ["x"] and cfg.inner.a == 0.5
    assert from_dict(Outer, to_dict(cfg)) == cfg
