"""Records: class maps and path safety."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import ConfigError, DataError
from handdet.data.records import ClassMap, ImageRecord, ProblemKind, Severity, safe_join


@pytest.mark.parametrize(
    "spec, names, lookups",
    [
        (None, ["hand"], {"0-hand": 0, "anything": 0}),
        ({"left": "left_hand", "right": "right_hand"}, ["left_hand", "right_hand"],
         {"left": 0, "right": 1, "face": KeyError}),
        ("0-hand=hand,1-hand=hand,*=-", ["hand"], {"0-hand": 0, "1-hand": 0, "person": None}),
        ({"a": "x", "b": None}, ["x"], {"a": 0, "b": None, "c": KeyError}),
    ],
)
def test_class_map(spec, names, lookups):
    cm = ClassMap.parse(spec)
    assert cm.names == names
    for src, expected in lookups.items():
        if expected is KeyError:
            with pytest.raises(KeyError):
                cm(src)
        else:
            assert cm(src) == expected


def test_class_map_callable_and_yaml(tmp_path):
    cm = ClassMap(lambda s: "hand" if s.endswith("hand") else None, names=["hand"])
    assert cm("3-hand") == 0 and cm("car") is None
    (tmp_path / "m.yaml").write_text("left: left_hand\nright: right_hand\n")
    assert ClassMap.parse(tmp_path / "m.yaml").names == ["left_hand", "right_hand"]


@pytest.mark.parametrize("spec", ["", "hand", "=hand"])
def test_class_map_errors(spec):
    with pytest.raises(ConfigError):
        ClassMap.parse(spec)


@pytest.mark.parametrize(
    "name, ok",
    [("a.jpg", True), ("sub/a.jpg", True), ("sub/../a.jpg", True), ("../a.jpg", False), ("a/../../b", False),
     ("/etc/passwd", False), ("", False), ("..\\..\\x.jpg", False), (".", False)],
)
def test_safe_join(tmp_path, name, ok):
    if ok:
        assert safe_join(tmp_path, name, "x.xml").is_relative_to(tmp_path)
    else:
        with pytest.raises(DataError, match="x.xml: file name"):
            safe_join(tmp_path, name, "x.xml")


def test_record_checks_lengths_and_kinds_have_severities(tmp_path):
    with pytest.raises(ValueError):
        ImageRecord(tmp_path / "a.jpg", np.zeros((2, 4)), ("hand",))
    assert {k.severity for k in ProblemKind} == set(Severity)
