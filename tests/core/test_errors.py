"""The shared option check: a value outside [0, 1] fails in one line naming the option."""

from __future__ import annotations

import pytest

from handdet.core.errors import ConfigError, check_fractions


def test_fractions_in_range_pass():
    check_fractions({"--conf": 0.0, "--conf-low": 1.0, "--iou": None})


@pytest.mark.parametrize("name, value", [("--conf", -0.01), ("--conf-low", 1.5), ("--iou", float("nan"))])
def test_fraction_out_of_range_names_the_option(name, value):
    with pytest.raises(ConfigError) as e:
        check_fractions({"--other": 0.5, name: value})
    assert str(e.value) == f"{name} must be between 0 and 1, got {value}"
