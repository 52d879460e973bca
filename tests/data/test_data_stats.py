"""Dataset statistics on converted fixtures (numbers checked by hand) and on the real SubhiH data."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.stats import dataset_stats, format_stats, hands_histogram, plot_stats, size_buckets


def _dataset(build, tmp_path):
    """200x100 images. train/: s0 (no hands), s1 (a 10x10 hand). test/: s2 (40x40, 100x100), s3 (20x10,
    10x20, a 50x50 face). Converted keeping the splits, so `val` and `test` both point at images/test."""
    src = tmp_path / "src"
    hand = lambda x, y, w, h, name="hand": {"name": name, "box": (x, y, x + w, y + h)}  # noqa: E731
    build.write_voc(src / "train", "s0", (200, 100), [], seed=0)
    build.write_voc(src / "train", "s1", (200, 100), [hand(5, 5, 10, 10)], seed=1)
    build.write_voc(src / "test", "s2", (200, 100), [hand(0, 0, 40, 40), hand(100, 0, 100, 100)], seed=2)
    build.write_voc(src / "test", "s3", (200, 100), [hand(0, 0, 20, 10), hand(50, 50, 10, 20),
                                                     hand(120, 10, 50, 50, "face")], seed=3)
    convert("voc", src, tmp_path / "yolo", class_map={"hand": "hand", "face": "face"}, keep_splits=True,
            decode=False, progress=False)
    return tmp_path / "yolo"


def test_numbers(build, tmp_path):
    stats = dataset_stats(_dataset(build, tmp_path) / "data.yaml")
    assert list(stats.splits) == ["train", "val", "test"]
    train, val, test = stats.splits.values()
    assert (train.images, train.boxes, train.per_class) == (2, 1, {"hand": 1, "face": 0})
    assert train.hands_per_image == {"0": 1, "1": 1, "2": 0, "3+": 0}
    assert train.sizes == {"small": 1, "medium": 0, "large": 0}
    assert (test.images, test.boxes, test.per_class) == (2, 5, {"hand": 4, "face": 1})
    assert test.hands_per_image == {"0": 0, "1": 0, "2": 1, "3+": 1}
    assert test.sizes == {"small": 2, "medium": 2, "large": 1}  # 200, 200 | 1600, 2500 | 10000 px²
    assert vars(val) == {**vars(test), "name": "val"}  # the same folder
    # distinct images: each counted once
    assert (stats.images, stats.boxes) == (4, 6)
    assert stats.size_counts() == {"small": 3, "medium": 2, "large": 1}
    q = stats.aspect_quantiles()  # w/h of the six boxes: 1, 1, 1, 2, 0.5, 1
    assert (q[0.0], q[0.5], q[1.0]) == pytest.approx((0.5, 1.0, 2.0))
    np.testing.assert_allclose(sorted(stats.box_wh.prod(axis=1)), [100, 200, 200, 1600, 2500, 10000])
    assert len(stats.samples) == 4 and stats.bad_files == 0
    assert stats.summary_line() == "stats: 4 images, 6 boxes, 2 classes (train 2 / val 2 / test 2)"


def test_printed_table(build, tmp_path):
    text = format_stats(dataset_stats(_dataset(build, tmp_path)))
    lines = text.splitlines()
    assert lines[0].split() == ["split", "images", "boxes", "hand", "face", "0", "hands", "1", "hand", "2", "hands",
                                "3+", "hands", "small", "medium", "large"]
    assert lines[1].split() == ["train", "2", "1", "1", "0", "1", "1", "0", "0", "1", "0", "0"]
    assert lines[3].split() == ["test", "2", "5", "4", "1", "0", "0", "1", "1", "2", "2", "1"]
    assert "small 3 (50.0%), medium 2 (33.3%), large 1 (16.7%)" in text
    assert "min 0.50" in text and "median 1.00" in text and "max 2.00" in text


@pytest.mark.parametrize(
    "wh, expected",
    [
        (np.zeros((0, 2)), {"small": 0, "medium": 0, "large": 0}),  # empty
        ([[31.9, 32], [32, 32], [95.9, 96], [96, 96]], {"small": 1, "medium": 2, "large": 1}),  # bucket edges
    ],
)
def test_size_buckets(wh, expected):
    assert size_buckets(np.asarray(wh, float)) == expected


@pytest.mark.parametrize("counts, expected", [([], [0, 0, 0, 0]), ([0, 1, 2, 3, 7, 1], [1, 2, 1, 2])])
def test_hands_histogram(counts, expected):
    assert list(hands_histogram(counts).values()) == expected


def test_bad_label_and_image_are_counted_not_raised(build, tmp_path):
    yolo = _dataset(build, tmp_path)
    (yolo / "labels/train/s1.txt").write_text("0 0.5 0.5 abc 0.1\n")
    (yolo / "images/test/s3.jpg").unlink()
    (yolo / "images/test/s3.jpg").write_bytes(b"")
    stats = dataset_stats(yolo)
    assert stats.bad_files == 2 and stats.images == 3 and stats.boxes == 2
    assert any("s1.txt:1: not numbers" in p for p in stats.problems)
    assert "2 unreadable files left out" in format_stats(stats)


def test_empty_dataset(build, tmp_path):
    src = tmp_path / "src"
    build.write_voc(src, "only", (64, 48), [])
    convert("voc", src, tmp_path / "yolo", ratios={"train": 1.0}, decode=False, progress=False)
    stats = dataset_stats(tmp_path / "yolo")
    assert (stats.images, stats.boxes, stats.aspect_quantiles()) == (1, 0, {})
    assert stats.splits["train"].hands_per_image["0"] == 1
    assert len(plot_stats(stats, tmp_path / "plots")) == 5


def test_missing_data_yaml(tmp_path):
    with pytest.raises(DataError, match="data.yaml not found"):
        dataset_stats(tmp_path)


def test_plots(build, tmp_path):
    import cv2

    stats = dataset_stats(_dataset(build, tmp_path))
    out = tmp_path / "plots"
    files = plot_stats(stats, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)
    for p in files[:4]:
        img = cv2.imread(str(p))
        assert img is not None and img.shape[0] > 100 and img.std() > 5, p  # a real picture, not blank
    assert json.loads((out / "stats.json").read_text())["sizes"] == {"small": 3, "medium": 2, "large": 1}
    assert cv2.imread(str(out / "samples.jpg")).shape == (512, 512, 3)  # 4 images: a 2x2 grid of 256 px tiles
    plot_stats(stats, out)  # a stats folder may be replaced


@pytest.mark.parametrize("target", ["yolo", "file"])
def test_plots_never_replace_other_folders(build, tmp_path, target):
    yolo = _dataset(build, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a stats folder"):
        plot_stats(dataset_stats(yolo), tmp_path / target)
    assert (yolo / "data.yaml").is_file() and (tmp_path / "file").read_text() == "x"


def test_subhi(subhi_voc, tmp_path):
    convert("voc", subhi_voc, tmp_path / "subhi", group=r"^(.*?)_?pic\d+$", decode=False, progress=False)
    t = time.perf_counter()
    stats = dataset_stats(tmp_path / "subhi")
    elapsed = time.perf_counter() - t
    assert (stats.images, stats.boxes) == (1557, 1730) and stats.bad_files == 0
    assert sum(s.images for s in stats.splits.values()) == 1557
    hist = {k: sum(s.hands_per_image[k] for s in stats.splits.values()) for k in ("0", "1", "2", "3+")}
    assert hist["1"] + 2 * hist["2"] == 1730 and hist["0"] == hist["3+"] == 0
    assert stats.size_counts()["large"] > 0.9 * 1730  # webcam close-ups
    assert elapsed < 20, elapsed  # headers only: about 0.3 s on an idle machine
