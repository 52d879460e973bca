"""`bench_convert`: generated VOC / COCO annotations convert completely, and the timing is reported."""

from __future__ import annotations

import pytest

from handdet.core.errors import ConfigError
from handdet.data.bench import bench_convert


@pytest.mark.parametrize("fmt, n, per_image, images", [("voc", 201, 2, 101), ("coco", 200, 3, 67), ("coco", 1, 1, 1)])
def test_every_annotation_is_converted(tmp_path, fmt, n, per_image, images):
    r = bench_convert(fmt, n, tmp_path, per_image=per_image)
    assert (r["annotations"], r["images"], r["boxes_written"]) == (n, images, n)
    assert r["seconds"] > 0 and r["annotations_per_s"] == pytest.approx(n / r["seconds"], rel=0.01)
    assert list(tmp_path.iterdir()) == []  # cleans up after itself


@pytest.mark.parametrize("fmt, n", [("labelme", 10), ("voc", 0)])
def test_bad_arguments(fmt, n):
    with pytest.raises(ConfigError):
        bench_convert(fmt, n)
