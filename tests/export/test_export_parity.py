"""The parity comparison itself: pairing, tolerances, boxes on the cut-off, AP through handdet.eval."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.detections import Detections
from handdet.export.parity import compare_detections, evenly, parity_report


def D(boxes, scores, cls=None):
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32), cls)


BOX = [10, 10, 50, 50]
FAR = [100, 100, 150, 150]

# (ref, test, unpaired ref, unpaired test, max box diff, what it covers)
CASES = [
    (D([], []), D([], []), 0, 0, 0.0, "both empty"),
    (D([BOX], [0.9]), D([BOX], [0.9]), 0, 0, 0.0, "identical"),
    (D([BOX], [0.9]), D([[10.5, 10, 50, 50.8]], [0.9]), 0, 0, 0.8, "sub-pixel shift"),
    (D([BOX, FAR], [0.9, 0.8]), D([BOX], [0.9]), 1, 0, 0.0, "a missing box"),
    (D([BOX], [0.9]), D([BOX, FAR], [0.9, 0.2505]), 0, 0, 0.0, "an extra box on the cut-off is excused"),
    (D([BOX], [0.9]), D([BOX], [0.9], [3]), 1, 1, 0.0, "another class does not pair"),
    (D([BOX], [0.1]), D([], []), 0, 0, 0.0, "boxes below the cut-off are not compared"),
]


@pytest.mark.parametrize("ref, test, ur, ut, box, what", CASES, ids=[c[-1] for c in CASES])
def test_compare_detections(ref, test, ur, ut, box, what):
    p = compare_detections(ref, test, conf=0.25)
    assert (p.unpaired_ref, p.unpaired_test) == (ur, ut)
    assert p.max_box_diff == pytest.approx(box, abs=1e-5)


@pytest.mark.parametrize("shift, dscore, failures", [
    (0.0, 0.0, []), (2.0, 0.0, ["boxes differ"]), (0.0, 0.01, ["scores differ"]),
])
def test_parity_report_tolerances(shift, dscore, failures):
    ref = [D([BOX, FAR], [0.9, 0.6]), D([], [])]
    test = [D(np.array([BOX, FAR], np.float32) + shift, [0.9 - dscore, 0.6]), D([], [])]
    gts = [D([BOX, FAR], [1, 1]), D([], [])]
    r = parity_report(["a", "b"], ref, test, {0: "hand"}, gts)
    assert r.passed == (not failures)
    for f, g in zip(failures, r.failures, strict=True):
        assert g.startswith(f)
    assert r.ap50_ref == pytest.approx(1.0)  # computed through handdet.eval


def test_ap_difference_fails_parity():
    gts = [D([BOX, FAR], [1, 1])]
    ref = [D([BOX, FAR], [0.9, 0.8])]
    test = [D([BOX, [300, 300, 350, 350]], [0.9, 0.8])]  # the second box lands elsewhere
    r = parity_report(["a"], ref, test, {0: "hand"}, gts)
    assert not r.passed and any(f.startswith("AP50 differs") for f in r.failures)
    assert "FAILED" in r.line()


@pytest.mark.parametrize("n, total, expected", [(3, 10, [0, 4, 9]), (None, 3, [0, 1, 2]), (5, 2, [0, 1]), (0, 4, [])])
def test_evenly(n, total, expected):
    assert evenly(list(range(total)), n) == expected
