"""Gloved copies of real hand photos: only the gloved hands' pixels change, and they change to the glove's
colour; labels are the photo's own; only one split's photos are used; a recipe remakes its set byte for byte;
the output reads as a YOLO source; bad inputs fail in one line. Cutting hands out is tested in test_cutout.py."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.errors import DataError
from handdet.data.compose import hand_photos
from handdet.data.formats.yolo import read_yolo
from handdet.data.gloves import (
    DECOY_CLEARANCE,
    DECOY_SCALE,
    GLOVE_COLOURS,
    RECIPE_NAME,
    GloveParams,
    clear_of,
    decoy_candidates,
    glove,
    glove_photo,
    recolour,
)
from handdet.data.records import ImageRecord
from handdet.data.yolo_dataset import read_data_yaml, read_labels

PARAMS = GloveParams(n=5, seed=2, share=1.0)


@pytest.fixture(scope="module")
def written(hand_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("glove_out") / "set"
    report = glove(out, hand_data.data, PARAMS, progress=False)
    return out, report, json.loads((out / RECIPE_NAME).read_text())


@pytest.fixture(scope="module")
def with_decoys(scene_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("glove_decoys") / "set"
    glove(out, scene_data, GloveParams(n=4, seed=2, share=1.0, decoys=3), progress=False)
    return out, json.loads((out / RECIPE_NAME).read_text())


def _images(out, recipe):
    """(record, source photo, gloved image) of every written image."""
    for rec in recipe["images"]:
        ph = recipe["photos"][rec["photo"]]
        yield rec, ph, cv2.imread(ph["image"]), cv2.imread(str(out / "images" / "train" / f"{rec['name']}.jpg"))


def test_only_the_gloved_hands_change(written):
    out, report, recipe = written
    assert report.images == len(recipe["images"]) >= 3 and report.hands >= report.images
    for rec, ph, src, gloved in _images(out, recipe):
        assert gloved.shape == src.shape
        diff = np.abs(gloved.astype(int) - src.astype(int)).max(axis=2)
        inside = np.zeros(diff.shape, bool)
        for k in rec["hands"]:
            x1, y1, x2, y2 = ph["xyxy"][k]
            inside[max(0, int(y1) - 1):int(np.ceil(y2)) + 1, max(0, int(x1) - 1):int(np.ceil(x2)) + 1] = True
        # Outside the gloved boxes only JPEG re-encoding noise; inside, a large part of the box is recoloured.
        assert np.percentile(diff[~inside], 99) <= 12, rec["name"]
        assert (diff[inside] > 15).mean() > 0.3, rec["name"]


def test_the_hand_takes_the_glove_colour(written):
    out, _, recipe = written
    for rec, ph, src, gloved in _images(out, recipe):
        target = np.asarray(GLOVE_COLOURS[rec["colour"]], float)
        for k in rec["hands"]:
            x1, y1, x2, y2 = (int(round(v)) for v in ph["xyxy"][k])
            changed = np.abs(gloved[y1:y2, x1:x2].astype(int) - src[y1:y2, x1:x2].astype(int)).max(axis=2) > 15
            # The recoloured pixels' median hue direction is the glove's: closer to it than the skin was.
            before = np.median(src[y1:y2, x1:x2][changed].astype(float), axis=0)
            after = np.median(gloved[y1:y2, x1:x2][changed].astype(float), axis=0)
            chroma = lambda c: c - c.mean()  # noqa: E731  colour without brightness
            assert np.linalg.norm(chroma(after) - chroma(target)) < np.linalg.norm(chroma(before) - chroma(target)) \
                or np.linalg.norm(chroma(target)) < 5, rec  # a grey glove: only brightness says


def test_labels_are_the_photos_own(written):
    out, report, recipe = written
    for rec, ph, src, _ in _images(out, recipe):
        gt = read_labels(out / "labels" / "train" / f"{rec['name']}.txt", src.shape[1::-1])
        np.testing.assert_allclose(gt.xyxy, ph["xyxy"], atol=0.01)
        np.testing.assert_array_equal(gt.class_id, ph["class_id"])
    assert report.summary_line().startswith(f"gloved {report.hands} hands in {report.images} images")


def test_output_reads_as_a_yolo_source(written):
    out, report, _ = written
    items = list(read_yolo(out))
    assert len(items) == report.images and all(isinstance(r, ImageRecord) for r in items)
    assert set(read_data_yaml(out).splits) == {"train"}
    assert "handdet glove" in (out / "data.yaml").read_text()


def test_only_photos_of_one_split_are_used(hand_data, written):
    _, _, recipe = written
    photos = {p["image"] for p in recipe["photos"]}
    assert photos and photos <= hand_data.train and not photos & hand_data.val
    assert {p.image for p in hand_photos(hand_data.data, "val").photos} <= hand_data.val


def test_each_photo_is_gloved_at_most_once(written):
    _, _, recipe = written
    used = [rec["photo"] for rec in recipe["images"]]
    assert len(used) == len(set(used))


def test_recipe_remakes_the_set_byte_for_byte(written, tmp_path, capsys):
    out, report, _ = written
    again = tmp_path / "again"
    assert main(["glove", "--recipe", str(out / RECIPE_NAME), "--out", str(again)]) == 0
    assert capsys.readouterr().out.startswith(f"gloved {report.hands} hands in {report.images} images")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (again / f).read_bytes(), f


def test_recipe_that_no_longer_matches_is_refused(written, tmp_path):
    out, _, recipe = written
    recipe["images"][0]["colour"] = "orange" if recipe["images"][0]["colour"] != "orange" else "white"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(recipe))
    with pytest.raises(DataError, match="came out differently"):
        glove(tmp_path / "x", recipe=edited, progress=False)
    assert not (tmp_path / "x").exists()


def test_glove_photo_with_no_chance_changes_nothing(hand_data):
    ph = hand_photos(hand_data.data, "train").photos[0]
    image = cv2.imread(ph.image)
    out, done, colour, decoys = glove_photo(image, ph, np.random.default_rng(0), share=1e-9, decoys=2)
    assert done == [] and decoys == [] and colour in GLOVE_COLOURS and (out == image).all()


def test_max_width_gloves_only_the_narrower_hands(scene_data):
    for ph in hand_photos(scene_data, "train").photos:  # a scene where two hands of different widths are gloved
        image = cv2.imread(ph.image)
        widths = np.array([(b[2] - b[0]) / ph.resolution_wh[0] for b in ph.xyxy])
        _, every, _, _ = glove_photo(image, ph, np.random.default_rng(3), 1.0)
        if len(every) >= 2 and np.ptp(widths[every]) > 0:
            break
    else:
        pytest.fail("no scene with two gloved hands of different widths")
    cap = float(widths[every].min() + widths[every].max()) / 2
    _, done, _, _ = glove_photo(image, ph, np.random.default_rng(3), 1.0, max_width=cap)
    assert done == [k for k in every if widths[k] <= cap] and len(done) < len(every)  # the wider stay bare
    untouched, none, _, _ = glove_photo(image, ph, np.random.default_rng(3), 1.0, max_width=widths.min() / 2)
    assert none == [] and (untouched == image).all()


# --- decoys ----------------------------------------------------------------------------------------


def test_decoys_are_recoloured_regions_clear_of_every_hand(with_decoys):
    out, recipe = with_decoys
    assert sum(len(rec["decoys"]) for rec in recipe["images"]) >= 3  # wide scenes leave room beside the hands
    for rec, ph, src, gloved in _images(out, recipe):
        hands = np.asarray(ph["xyxy"], float)
        diff = np.abs(gloved.astype(int) - src.astype(int)).max(axis=2)
        inside = np.zeros(diff.shape, bool)
        for x1, y1, x2, y2 in [hands[k] for k in rec["hands"]] + rec["decoys"]:
            inside[max(0, int(y1) - 1):int(np.ceil(y2)) + 1, max(0, int(x1) - 1):int(np.ceil(x2)) + 1] = True
        assert np.percentile(diff[~inside], 99) <= 12, rec["name"]  # nothing else changed
        for x1, y1, x2, y2 in rec["decoys"]:
            assert clear_of(np.array([x1, y1, x2, y2], float), hands, DECOY_CLEARANCE - 0.01), rec
            assert (diff[y1:y2, x1:x2] > 15).mean() > 0.25, rec  # an object's outline, not a speck
        # Decoys are unlabelled: the label file holds the photo's own hands and nothing else.
        gt = read_labels(out / "labels" / "train" / f"{rec['name']}.txt", src.shape[1::-1])
        np.testing.assert_allclose(gt.xyxy, hands, atol=0.01)


def test_decoys_leave_the_gloved_hands_as_without(scene_data, with_decoys):
    _, recipe = with_decoys
    photos = {p.image: p for p in hand_photos(scene_data, "train").photos}
    rec = next(r for r in recipe["images"] if r["decoys"])
    ph = photos[recipe["photos"][rec["photo"]]["image"]]
    image = cv2.imread(ph.image)
    i = int(rec["name"].split("_")[1])
    plain, done0, colour0, none = glove_photo(image, ph, np.random.default_rng([2, i]), 1.0)
    decoyed, done, colour, decoys = glove_photo(image, ph, np.random.default_rng([2, i]), 1.0, decoys=3)
    assert none == [] and done == done0 == rec["hands"] and colour == colour0 and decoys == rec["decoys"]
    for k in done:  # the same draws glove each hand the same way: only the decoys' pixels differ
        x1, y1, x2, y2 = (int(round(v)) for v in ph.xyxy[k])
        np.testing.assert_array_equal(decoyed[y1:y2, x1:x2], plain[y1:y2, x1:x2])
    assert (decoyed != plain).any()


def test_recipe_with_decoys_remakes_the_set(with_decoys, tmp_path):
    out, recipe = with_decoys
    assert recipe["params"]["decoys"] == 3
    report = glove(tmp_path / "again", recipe=out / RECIPE_NAME, progress=False)
    n = sum(len(rec["decoys"]) for rec in recipe["images"])
    assert report.decoys == n and f" images with {n} decoys from " in report.summary_line()
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        assert f.read_bytes() == (tmp_path / "again" / f.relative_to(out)).read_bytes(), f


def test_decoy_candidates_fit_the_photo_and_keep_clear():
    hands = np.array([[100.0, 100.0, 160.0, 180.0], [400.0, 50.0, 430.0, 90.0]])
    boxes = list(decoy_candidates(hands, hands[:1], (640, 480), 200, np.random.default_rng(0)))
    assert len(boxes) > 50
    for b in boxes:
        assert b[0] >= 0 and b[1] >= 0 and b[2] <= 640 and b[3] <= 480
        assert clear_of(b, hands, DECOY_CLEARANCE)
        w, h = b[2] - b[0], b[3] - b[1]
        assert DECOY_SCALE[0] * 60 - 1e-6 <= w <= DECOY_SCALE[1] * 60 + 1e-6 and abs(h / w - 80 / 60) < 1e-6
    # A hand that fills the photo leaves no room for a decoy.
    full = np.array([[5.0, 5.0, 315.0, 235.0]])
    assert list(decoy_candidates(full, full, (320, 240), 100, np.random.default_rng(0))) == []


@pytest.mark.parametrize("box, clear", [([0, 0, 10, 10], True), ([0, 0, 41, 10], False), ([0, 0, 36, 10], True),
                                        ([50, 50, 60, 60], False), ([79, 0, 95, 100], False), ([80, 0, 95, 100], True)])
def test_clear_of_grows_each_box_by_its_margin(box, clear):
    others = np.array([[50.0, 0.0, 70.0, 100.0]])  # longer side 100: a margin of 0.1 is 10 px (40..80)
    assert clear_of(np.array(box, float), others, 0.1) is clear


# --- pure functions --------------------------------------------------------------------------------


def test_recolour_keeps_shading_and_leaves_the_rest():
    region = np.zeros((10, 20, 3), np.uint8)
    region[:, :10] = (90, 120, 170)  # skin-like, darker left half of the hand ...
    region[:, 10:] = (120, 160, 220)  # ... brighter right half
    alpha = np.zeros((10, 20), np.float32)
    alpha[:, 2:18] = 1.0
    out = recolour(region, alpha, (200, 120, 40), contrast=0.5, noise=0.0, rng=np.random.default_rng(0))
    assert (out[:, :2] == region[:, :2]).all() and (out[:, 18:] == region[:, 18:]).all()
    dark, bright = out[5, 5].astype(int), out[5, 15].astype(int)
    assert (bright >= dark).all() and bright.sum() > dark.sum()  # the shading survives
    assert dark[0] > dark[2] and bright[0] > bright[2]  # blue now dominates red: a nitrile glove
    flat = recolour(region, alpha, (200, 120, 40), contrast=0.0, noise=0.0, rng=np.random.default_rng(0))
    assert (flat[5, 5] == flat[5, 15]).all()  # no contrast: one flat colour


# --- command line ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--out", "{out}"], "give --data"),
        (["--data", "{tmp}/none.yaml", "--out", "{out}"], "data.yaml not found"),
        (["--data", "{data}", "--split", "test", "--out", "{out}"], "no split 'test'"),
        (["--data", "{data}", "--split", "dev", "--out", "{out}"], "--split must be one of"),
        (["--data", "{data}", "--out", "{out}", "--share", "0"], "--share must be in (0, 1]"),
        (["--data", "{data}", "--out", "{out}", "--n", "0"], "--n must be >= 1"),
        (["--data", "{data}", "--out", "{out}", "--decoys", "-1"], "--decoys must be >= 0"),
        (["--data", "{data}", "--out", "{out}", "--max-width", "0"], "--max-width must be in (0, 1]"),
        (["--recipe", "{tmp}/missing.json", "--out", "{out}"], "recipe not found"),
        (["--recipe", "{bad}", "--out", "{out}"], "not a glove recipe"),
        (["--recipe", "{bad}", "--out", "{out}", "--n", "3"], "drop --n"),
        (["--data", "{data}", "--out", "{existing}"], "already exists"),
    ],
)
def test_errors_are_one_line(hand_data, tmp_path, capsys, args, fragment):
    (tmp_path / "existing").mkdir()
    (tmp_path / "bad.json").write_text("{\"version\": 1, \"params\": 3}")
    subs = {"out": tmp_path / "out", "tmp": tmp_path, "data": hand_data.data, "bad": tmp_path / "bad.json",
            "existing": tmp_path / "existing"}
    assert main(["glove", *(a.format(**subs) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("handdet: error:") and "\n" not in err and fragment in err, err
    assert not (tmp_path / "out").exists()
