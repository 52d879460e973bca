"""Composed wide scenes on real photos: boxes lie exactly on the pasted hands, only one split's hands are
used, a recipe remakes its set byte for byte, the output reads as a YOLO source, and bad inputs fail in one
line. Cutting the hands out is tested in test_cutout.py."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.errors import DataError
from handdet.data.compose import (
    RECIPE_NAME,
    ComposeParams,
    Composer,
    compose,
    feather_rect,
    load_pools,
    match_colour,
    parse_hands,
    paste,
)
from handdet.data.formats.yolo import read_yolo
from handdet.data.records import ImageRecord
from handdet.data.yolo_dataset import read_data_yaml, read_labels

PARAMS = ComposeParams(n=6, seed=1, hands=(2, 3), zoom_out=0.3)


@pytest.fixture(scope="module")
def pools(hand_data):
    return load_pools(hand_data.data, "train", [hand_data.bg])


@pytest.fixture(scope="module")
def composites(pools):
    composer = Composer(pools, PARAMS)
    return [composer.image(i) for i in range(PARAMS.n)]


@pytest.fixture(scope="module")
def written(hand_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("compose_out") / "set"
    report = compose(out, hand_data.data, [hand_data.bg], PARAMS, progress=False)
    return out, report


def _background(pools, comp) -> np.ndarray:
    return cv2.imread(pools.backgrounds[comp.background], cv2.IMREAD_COLOR)


def _nonzero_box(a: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(a > 0)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


# --- composed images -----------------------------------------------------------------------------


def test_the_set_has_pastes_and_zoom_outs(composites):
    pasted = [c for c in composites if c.pastes]
    zoomed = [c for c in composites if c.closeup is not None]
    assert pasted and zoomed and len(pasted) + len(zoomed) == len(composites)
    assert all(len(c.xyxy) == len(c.class_id) >= 1 for c in composites)


def test_boxes_lie_exactly_on_the_pasted_hands(pools, composites):
    for comp in (c for c in composites if c.pastes):
        h, w = comp.image.shape[:2]
        bg = _background(pools, comp)
        touched = np.zeros((h, w), bool)
        assert len(comp.xyxy) == len(comp.pastes)
        for box, q in zip(comp.xyxy, comp.pastes, strict=True):
            alpha = q.full_alpha((w, h))
            assert _nonzero_box(alpha) == list(q.xyxy) == box.astype(int).tolist()  # tight box of the alpha
            assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h
            solid = alpha > 0.5
            diff = np.abs(comp.image.astype(int) - bg.astype(int)).sum(axis=2)
            assert solid.any() and diff[solid].mean() > 8, "the pixels under the hand are not the scene's"
            assert not (touched & (alpha > 0)).any(), "a paste covers an earlier one"
            touched |= alpha > 0
        np.testing.assert_array_equal(comp.image[~touched], bg[~touched])  # nothing else changed


def test_zoom_out_moves_the_close_up_with_its_boxes(pools, composites):
    for comp in (c for c in composites if c.closeup is not None):
        h, w = comp.image.shape[:2]
        photo = pools.photos[comp.closeup]
        x1, y1, x2, y2 = comp.closeup_xyxy
        src = np.asarray(photo.xyxy, np.float64)
        sx, sy = (x2 - x1) / photo.resolution_wh[0], (y2 - y1) / photo.resolution_wh[1]
        np.testing.assert_allclose(comp.xyxy, src * [sx, sy, sx, sy] + [x1, y1, x1, y1], atol=1e-6)
        longest = np.max(np.maximum(comp.xyxy[:, 2] - comp.xyxy[:, 0], comp.xyxy[:, 3] - comp.xyxy[:, 1]))
        assert PARAMS.min_width * w - 1 <= longest <= PARAMS.max_width * w + 1
        assert x2 <= w and y2 <= h and (x2 - x1) < w
        outside = np.ones((h, w), bool)
        outside[y1:y2, x1:x2] = False
        np.testing.assert_array_equal(comp.image[outside], _background(pools, comp)[outside])


def test_image_depends_only_on_seed_and_index(pools, composites):
    fresh = Composer(pools, PARAMS)
    for i in (4, 2):  # another order, another cache: the same pixels
        again = fresh.image(i)
        np.testing.assert_array_equal(again.image, composites[i].image)
        np.testing.assert_array_equal(again.xyxy, composites[i].xyxy)
    other = Composer(pools, ComposeParams(n=6, seed=2, hands=(2, 3))).image(2)
    assert other.image.shape != composites[2].image.shape or not np.array_equal(other.image, composites[2].image)


DECOY_PARAMS = ComposeParams(n=6, seed=1, hands=(2, 3), zoom_out=0.3, decoys=2)


@pytest.fixture(scope="module")
def with_decoys(pools):
    composer = Composer(pools, DECOY_PARAMS)
    return [composer.image(i) for i in range(DECOY_PARAMS.n)]


def test_decoys_are_pasted_unlabelled_beside_the_same_hands(pools, composites, with_decoys):
    decoyed = [(c, d) for c, d in zip(composites, with_decoys, strict=True) if d.pastes]
    assert sum(len(d.decoys) for _, d in decoyed) >= len(decoyed), "too few decoys were cut"
    for plain, comp in decoyed:
        # Placed after the hands: the same hands in the same places, the same labels.
        np.testing.assert_array_equal(comp.xyxy, plain.xyxy)
        assert [q.hand for q in comp.pastes] == [q.hand for q in plain.pastes]
        assert all(q.hand == -1 for q in comp.decoys) and len(comp.decoy_sources) == len(comp.decoys)
        h, w = comp.image.shape[:2]
        hands = np.zeros((h, w), bool)
        for q in comp.pastes:
            hands |= q.full_alpha((w, h)) > 0
        decoys = np.zeros((h, w), bool)
        bg = _background(pools, comp)
        for q, (j, *box) in zip(comp.decoys, comp.decoy_sources, strict=True):
            alpha = q.full_alpha((w, h))
            assert j != comp.background, "a decoy is cut from another photo than the scene"
            src_h, src_w = cv2.imread(pools.backgrounds[j]).shape[:2]
            assert 0 <= box[0] < box[2] <= src_w and 0 <= box[1] < box[3] <= src_h
            assert _nonzero_box(alpha) == list(q.xyxy)
            assert not (alpha > 0)[hands | decoys].any(), "a decoy covers a hand or another decoy"
            diff = np.abs(comp.image.astype(int) - bg.astype(int)).sum(axis=2)
            assert diff[alpha > 0.5].mean() > 8, "the pixels under the decoy are not the scene's"
            decoys |= alpha > 0
        np.testing.assert_array_equal(comp.image[~decoys], plain.image[~decoys])  # decoys change only their pixels
    assert all(d.decoy_sources is None for d in composites) and all(not d.decoys for d in composites)


def test_decoys_are_recorded_and_remade(hand_data, with_decoys, tmp_path):
    out = tmp_path / "decoys"
    report = compose(out, hand_data.data, [hand_data.bg], DECOY_PARAMS, progress=False)
    assert report.decoys == sum(len(c.decoys) for c in with_decoys) > 0
    assert f", {report.decoys} decoys, " in report.summary_line()
    recipe = json.loads((out / RECIPE_NAME).read_text())
    assert recipe["params"]["decoys"] == 2
    assert [im["decoys"] for im in recipe["images"]] == [c.decoy_sources for c in with_decoys]
    for i, comp in enumerate(with_decoys):  # decoys are unlabelled: the labels are the hands' boxes only
        gt = read_labels(out / "labels" / "train" / f"compose_{i:05d}.txt", comp.image.shape[1::-1])
        np.testing.assert_allclose(gt.xyxy, comp.xyxy, atol=0.01)
    again = compose(tmp_path / "again", recipe=out / RECIPE_NAME, progress=False)
    assert again.decoys == report.decoys
    for f in sorted(p.relative_to(out) for p in out.rglob("*.jpg")):
        assert (out / f).read_bytes() == (tmp_path / "again" / f).read_bytes(), f


# --- the written set -------------------------------------------------------------------------------


def test_written_labels_are_the_composed_boxes(written, composites):
    out, report = written
    assert report.images == PARAMS.n and report.boxes == sum(len(c.xyxy) for c in composites)
    for i, comp in enumerate(composites):
        image = cv2.imread(str(out / "images" / "train" / f"compose_{i:05d}.jpg"))
        assert image.shape == comp.image.shape
        gt = read_labels(out / "labels" / "train" / f"compose_{i:05d}.txt", image.shape[1::-1])
        np.testing.assert_allclose(gt.xyxy, comp.xyxy, atol=0.01)
        np.testing.assert_array_equal(gt.class_id, comp.class_id)
    assert report.summary_line().startswith(f"composed {PARAMS.n} images (")


def test_output_reads_as_a_yolo_source(written):
    out, report = written
    items = list(read_yolo(out))
    assert len(items) == PARAMS.n and all(isinstance(r, ImageRecord) for r in items)
    assert sum(len(r.xyxy) for r in items) == report.boxes
    assert set(read_data_yaml(out).splits) == {"train"}


def test_split_out_names_the_only_split(hand_data, tmp_path):
    out = tmp_path / "val-set"
    compose(out, hand_data.data, [hand_data.bg], ComposeParams(n=1, split="val", split_out="val"), progress=False)
    assert set(read_data_yaml(out).splits) == {"val"} and len(list(read_yolo(out))) == 1


def test_only_hands_of_one_split_are_used(hand_data, pools, written):
    out, _ = written
    recipe = json.loads((out / RECIPE_NAME).read_text())
    photos = [p["image"] for p in recipe["photos"]]
    assert photos and set(photos) <= hand_data.train and not set(photos) & hand_data.val
    used = {recipe["hands"][k][0] for im in recipe["images"] for k in im["hands"]}
    used |= {im["closeup"] for im in recipe["images"] if im["closeup"] is not None}
    assert used and {photos[i] for i in used} <= hand_data.train
    # The room photo that the dataset holds out in val is no training background.
    assert hand_data.held_bg not in recipe["backgrounds"] and recipe["excluded_backgrounds"] == 1
    val = load_pools(hand_data.data, "val", [hand_data.bg])
    assert {p.image for p in val.photos} <= hand_data.val and val.excluded_backgrounds == 0


def test_recipe_remakes_the_set_byte_for_byte(written, tmp_path, capsys):
    out, _ = written
    again = tmp_path / "again"
    assert main(["compose", "--recipe", str(out / RECIPE_NAME), "--out", str(again)]) == 0
    assert capsys.readouterr().out.startswith(f"composed {PARAMS.n} images (")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    assert any(f.startswith("labels/") for f in files)
    for f in files:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f


def test_recipe_that_no_longer_matches_is_refused(written, tmp_path):
    out, _ = written
    recipe = json.loads((out / RECIPE_NAME).read_text())
    recipe["images"][1]["background"] = (recipe["images"][1]["background"] + 1) % len(recipe["backgrounds"])
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(recipe))
    with pytest.raises(DataError, match="image 1 came out differently"):
        compose(tmp_path / "x", recipe=edited, progress=False)
    assert not (tmp_path / "x").exists()


# --- pure functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin, expected",
    [
        ((10, 20), (12, 21, 14, 25)),  # inside
        ((-3, 0), (0, 1, 1, 5)),  # cut by the left border
        ((97, 48), (99, 49, 100, 50)),  # cut by the bottom-right corner
        ((200, 10), None),  # entirely outside
    ],
)
def test_paste_returns_the_tight_box_of_landed_alpha(origin, expected):
    image = np.zeros((50, 100, 3), np.uint8)
    alpha = np.zeros((6, 5), np.float32)
    alpha[1:5, 2:4] = 1.0
    assert paste(image, np.full((6, 5, 3), 200, np.uint8), alpha, origin) == expected
    if expected:
        x1, y1, x2, y2 = expected
        assert (image[y1:y2, x1:x2] == 200).all() and image.sum() == 200 * 3 * (x2 - x1) * (y2 - y1)


def test_feather_rect_ramps_from_the_border():
    a = feather_rect(20, 30, 4)
    assert a.shape == (20, 30) and a[10, 15] == 1 and a[0, 15] < 0.2 and a[10, 0] < 0.2
    assert (feather_rect(5, 5, 0) == 1).all()


def test_match_colour_moves_partly_toward_the_background():
    hand = np.full((10, 10, 3), (120, 150, 200), np.uint8)  # skin-like BGR
    dark = np.full((20, 20, 3), 30, np.uint8)
    weight = np.ones((10, 10), np.float32)
    assert match_colour(hand, weight, dark, 0.0) is hand
    half = match_colour(hand, weight, dark, 0.5).astype(int)
    assert (half < hand).all() and (half > dark[:10, :10]).all()  # darker, not the background's colour


@pytest.mark.parametrize("text, expected", [("1-4", (1, 4)), ("2", (2, 2)), (" 3-5", (3, 5))])
def test_parse_hands(text, expected):
    assert parse_hands(text) == expected


# --- command line ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--out", "{out}"], "give --data"),
        (["--data", "{tmp}/none.yaml", "--backgrounds", "{bg}", "--out", "{out}"], "data.yaml not found"),
        (["--data", "{data}", "--split", "test", "--backgrounds", "{bg}", "--out", "{out}"], "no split 'test'"),
        (["--data", "{data}", "--split", "dev", "--backgrounds", "{bg}", "--out", "{out}"], "--split must be one of"),
        (["--data", "{data}", "--out", "{out}"], "no --backgrounds folder given"),
        (["--data", "{data}", "--backgrounds", "{tmp}/nope", "--out", "{out}"], "background folder not found"),
        (["--data", "{data}", "--backgrounds", "{empty}", "--out", "{out}"], "no images in the background folder"),
        (["{bg}", "--data", "{data}", "--out", "{out}"], "unexpected argument"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--hands", "x"], "--hands must be N or LO-HI"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--hands", "3-1"], "1 <= LO <= HI"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--min-width", "0.3", "--max-width", "0.1"],
         "need 0 < --min-width <= --max-width"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--zoom-out", "1.5"], "--zoom-out must be"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--n", "0"], "--n must be >= 1"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{out}", "--decoys", "-1"], "--decoys must be >= 0"),
        (["--data", "{tiny}", "--backgrounds", "{bg}", "--out", "{out}"], "has no usable hand box"),
        (["--recipe", "{tmp}/missing.json", "--out", "{out}"], "recipe not found"),
        (["--recipe", "{bad}", "--out", "{out}"], "not a compose recipe"),
        (["--recipe", "{bad}", "--out", "{out}", "--n", "3"], "drop --n"),
        (["--data", "{data}", "--backgrounds", "{bg}", "--out", "{existing}"], "already exists"),
    ],
)
def test_errors_are_one_line(hand_data, tmp_path, capsys, args, fragment):
    (tmp_path / "empty").mkdir()
    (tmp_path / "existing").mkdir()
    (tmp_path / "bad.json").write_text("{\"version\": 1, \"params\": 3}")
    tiny = tmp_path / "tiny"  # one photo whose only box is a 5 px speck
    (tiny / "images" / "train").mkdir(parents=True)
    (tiny / "labels" / "train").mkdir(parents=True)
    (tiny / "images" / "train" / "a.jpg").symlink_to(next((hand_data.root / "backgrounds").iterdir()))
    (tiny / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.02 0.02\n")
    (tiny / "data.yaml").write_text("train: images/train\nnames:\n  0: hand\n")
    fill = {"out": tmp_path / "out", "tmp": tmp_path, "bg": hand_data.bg, "data": hand_data.data,
            "empty": tmp_path / "empty", "bad": tmp_path / "bad.json", "tiny": tiny / "data.yaml",
            "existing": tmp_path / "existing"}
    assert main(["compose", *(a.format(**fill) for a in args)]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("handdet:")]
    assert len(err) == 1 and err[0].startswith("handdet: error: ") and fragment in err[0], err
    assert not (tmp_path / "out").exists()
