"""Group splits: a group never spans two splits; ratios parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handdet.core.errors import ConfigError
from handdet.data.split import group_of, group_split, parse_ratios


@settings(max_examples=150, deadline=None)
@given(
    groups=st.lists(st.sampled_from([f"g{i}" for i in range(12)]), min_size=0, max_size=60),
    ratios=st.dictionaries(st.sampled_from(["train", "val", "test"]), st.floats(0.01, 1.0), min_size=1),
    seed=st.integers(0, 2**31),
)
def test_groups_never_span_splits(groups, ratios, seed):
    out = group_split(groups, ratios, seed)
    assert len(out) == len(groups) and set(out) <= set(ratios)
    seen: dict[str, str] = {}
    for g, s in zip(groups, out, strict=True):
        assert seen.setdefault(g, s) == s
    assert out == group_split(groups, ratios, seed)  # deterministic


@pytest.mark.parametrize(
    "name, pattern, group",
    [
        ("1528664299.56_pic00012", r"^(.+)_pic", "1528664299.56"),
        ("pic00012", r"^(.+)_pic", "pic00012"),  # no match: own group
        ("pic00012", r"^(.*?)_?pic\d+$", ""),  # SubhiH preset: plain picNNNNN frames are one sequence
        ("3_1528499009.07_pic00001", r"^(.*?)_?pic\d+$", "3_1528499009.07"),
        ("abc", None, "abc"),
    ],
)
def test_group_of(name, pattern, group):
    assert group_of(name, pattern) == group


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train=0.8,val=0.2", {"train": 0.8, "val": 0.2}),
        ("train=8, val=1, test=1", {"train": 0.8, "val": 0.1, "test": 0.1}),
        ("train=1,val=0", {"train": 1.0}),
        ({"train": 3, "val": 1}, {"train": 0.75, "val": 0.25}),
    ],
)
def test_parse_ratios(text, expected):
    assert parse_ratios(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("train", "name=fraction"),
        ("train=a", "not a number"),
        ("train=0.8,dev=0.2", "unknown split 'dev'"),
        ("train=-1,val=1", "must be a finite fraction"),
        ("val=1", "train needs a positive fraction"),
        ("train=0,val=0", "positive fraction"),
    ],
)
def test_parse_ratios_errors(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_ratios(text)
