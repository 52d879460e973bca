"""The wrapping base (`handdet/infer/wrapping.py`): attributes reach the wrapped predictor, copies do not recurse."""

from __future__ import annotations

import copy

import pytest

from handdet.infer.person_anchor import PersonAnchor
from handdet.infer.two_level import TwoLevelPredictor


class Inner:
    names, imgsz, conf, weights = {0: "hand"}, 320, 0.2, "inner.onnx"


@pytest.mark.parametrize("make", [lambda p: TwoLevelPredictor(p, 0.36, 0.2), lambda p: PersonAnchor(p, Inner())])
def test_attributes_reach_the_wrapped_predictor_and_copies_do_not_recurse(make):
    w = make(Inner())
    assert (w.names, w.imgsz, w.weights) == ({0: "hand"}, 320, "inner.onnx")
    twin = copy.copy(w)
    assert twin.predictor is w.predictor and twin.imgsz == 320
    with pytest.raises(AttributeError):
        w.nothing_here  # noqa: B018
    bare = object.__new__(type(w))  # as copy and pickle make it, before its fields are set
    with pytest.raises(AttributeError):
        bare.imgsz  # noqa: B018
