"""`handdet restyle`: a dataset copy whose hand boxes end at the wrist MediaPipe finds (MediaPipe faked)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from handdet.core.errors import DataError, HanddetError
from handdet.data.restyle import REPORT_NAME, restyle_to_wrist
from handdet.data.yolo_dataset import image_size, label_path_for, read_data_yaml, read_labels


def _upright_hand(xyxy, wh, wrist_up: float) -> dict:
    """MediaPipe's 21 landmarks of an upright hand filling `xyxy`: the wrist `wrist_up` of the box's height above
    its bottom edge, the middle knuckle at its middle, the rest spread across it."""
    (x1, y1, x2, y2), (w, h) = xyxy, wh
    xs, ys = np.linspace(x1, x2, 21), np.linspace(y2, y1, 21)
    xs[0] = xs[9] = (x1 + x2) / 2
    ys[0], ys[9] = y2 - wrist_up * (y2 - y1), (y1 + y2) / 2
    return {"x": (xs / w).tolist(), "y": (ys / h).tolist(), "score": 0.9}


@pytest.fixture
def dataset(tiny_yolo, tmp_path):
    """`tiny_yolo` copied (images linked), plus one photo linked a second time under another name, as weighted
    sources are."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_yolo.parent, root, symlinks=True)
    first = sorted((root / "images" / "train").iterdir())[0]
    os.symlink(os.readlink(first), first.with_name(f"w2__{first.name}"))
    shutil.copy(label_path_for(first), label_path_for(first.with_name(f"w2__{first.name}")))
    return root / "data.yaml"


def test_boxes_are_cut_through_the_wrist_mediapipe_finds(dataset, tmp_path, fake_mediapipe):
    info = read_data_yaml(dataset)
    photos = info.images("train") + info.images("val")
    with_hands = [p for p in photos if len(read_labels(label_path_for(p), image_size(p)))]
    found = with_hands[: len(with_hands) // 2]  # MediaPipe finds the first box of half the photos with hands
    found_files = {os.path.realpath(p) for p in found}  # and in the second name of the photo linked twice
    for p in found:
        wh = image_size(p)
        box = read_labels(label_path_for(p), wh).xyxy[0].tolist()
        fake_mediapipe.hands[os.path.basename(os.path.realpath(p)).rsplit(".", 1)[0]] = [_upright_hand(box, wh, 0.25)]

    report = restyle_to_wrist(dataset, tmp_path / "wrist", work=tmp_path / "mp", log=lambda *a: None)

    out = read_data_yaml(report.data_yaml)
    assert {s: [p.name for p in v] for s, v in out.splits.items()} == {
        s: [p.name for p in v] for s, v in info.splits.items()}
    assert all(os.path.realpath(p) == os.path.realpath(q)
               for s in info.splits for p, q in zip(info.images(s), out.images(s), strict=True))
    n_cut = 0
    for s in info.splits:
        for p, q in zip(info.images(s), out.images(s), strict=True):
            wh = image_size(p)
            before, after = read_labels(label_path_for(p), wh), read_labels(label_path_for(q), wh)
            assert len(before) == len(after)
            if os.path.realpath(p) in found_files:
                x1, y1, x2, y2 = before.xyxy[0]
                np.testing.assert_allclose(after.xyxy[0], [x1, y1, x2, y2 - 0.25 * (y2 - y1)], atol=0.01 * max(wh))
                np.testing.assert_allclose(after.xyxy[1:], before.xyxy[1:], atol=0.01 * max(wh))
                n_cut += 1
            else:
                np.testing.assert_allclose(after.xyxy, before.xyxy, atol=0.01 * max(wh))  # no hand found: as drawn
    assert n_cut == sum(os.path.realpath(p) in found_files for p in with_hands) > len(found) // 2
    assert sum(report.cut.values()) == n_cut
    assert sum(report.boxes.values()) == sum(len(read_labels(label_path_for(p), image_size(p))) for p in photos)
    # one MediaPipe run a split, each file once though the photo is linked under two names
    assert [len(r) for r in fake_mediapipe.runs] == [len({os.path.realpath(p) for p in with_hands if p in info.images(s)})
                                                     for s in ("train", "val")]
    assert json.loads((tmp_path / "wrist" / REPORT_NAME).read_text())["cut"] == report.cut
    assert report.summary_line().startswith("handdet restyle: ") and str(tmp_path / "wrist") in report.summary_line()


def test_a_failed_mediapipe_run_leaves_nothing(dataset, tmp_path, monkeypatch):
    from handdet.bench import vs_mediapipe as vs

    def fails(*a, **k):
        raise HanddetError("mediapipe_hands.py: MediaPipe run failed: no wheel")

    monkeypatch.setattr(vs, "_run_script", fails)
    with pytest.raises(HanddetError, match="no wheel"):
        restyle_to_wrist(dataset, tmp_path / "wrist", work=tmp_path / "mp", log=lambda *a: None)
    assert not (tmp_path / "wrist").exists() and not list(tmp_path.glob(".wrist*"))


def test_bad_input_is_one_clear_error(dataset, tmp_path, fake_mediapipe):
    (tmp_path / "taken").mkdir()
    with pytest.raises(DataError, match="already exists"):
        restyle_to_wrist(dataset, tmp_path / "taken", work=tmp_path / "mp")
    with pytest.raises(DataError, match="is the dataset itself"):
        restyle_to_wrist(dataset, dataset.parent, work=tmp_path / "mp", overwrite=True)
    listed = tmp_path / "listed.yaml"
    listed.write_text(f"train: {dataset.parent}/images/train\nval: {tmp_path}/val.txt\nnames: {{0: hand}}\n")
    (tmp_path / "val.txt").write_text(f"{read_data_yaml(dataset).images('val')[0]}\n")
    with pytest.raises(DataError, match="listed.yaml: split 'train' is not a folder images/NAME"):
        restyle_to_wrist(listed, tmp_path / "out", work=tmp_path / "mp")


def test_cli(dataset, tmp_path, fake_mediapipe, capsys):
    from handdet.cli import main

    assert main(["restyle", str(dataset), "--out", str(tmp_path / "w"), "--reach", "0.1"]) == 0
    assert "handdet restyle:" in capsys.readouterr().out and (tmp_path / "w" / "data.yaml").is_file()


def test_splits_that_share_a_folder_are_restyled_once(dataset, tmp_path, fake_mediapipe):
    """`handdet loso`'s held-out datasets point val and test at one folder."""
    text = dataset.read_text().replace("val: images/val", "val: images/val\ntest: images/val")
    dataset.write_text(f"path: {dataset.parent}\n{text}")  # an absolute root must not follow the copy
    report = restyle_to_wrist(dataset, tmp_path / "w", work=tmp_path / "mp", log=lambda *a: None)
    out = read_data_yaml(report.data_yaml)
    assert out.root == (tmp_path / "w").resolve() and all(p.parent.parent.parent == out.root for p in out.images("val"))
    assert [p.name for p in out.images("test")] == [p.name for p in out.images("val")] and list(report.boxes) == [
        "train", "val"]
    assert len(fake_mediapipe.runs) == 2
