"""Tiled inference (`handdet.infer.tile`): window geometry, mapping back, the merge, and the shipped model
on real gloves-ppe photos: a hand cut by a tile border is found once, and a large frame gains small hands."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.boxes import box_ios, box_iou
from handdet.core.detections import FAR_LEVEL, Detections
from handdet.core.errors import ConfigError
from handdet.core.paths import SHIPPED_ONNX, SHIPPED_PT, SHIPPED_WEIGHTS_DIR
from handdet.infer.postprocess import batched_nms
from handdet.infer.tile import (
    DEFAULT_OVERLAP,
    MERGE_IOU,
    TiledPredictor,
    check_overlap,
    cut_by_border,
    merge_passes,
    people_from_afar,
    predict_many,
    tile_option,
    tile_windows,
    tiled,
    tiles_on_people,
    to_frame,
    windows_on_people,
)

SHIPPED_INT8 = SHIPPED_WEIGHTS_DIR / "handdet-n-int8.onnx"  # what `handdet webcam` runs on CPU
# A hand-free photo (ImageNet, no person in it) where a full-resolution tile scores a dog's paw above 0.45.
DOG = "in_n02093428_American_Staffordshire_terrier.jpg"
# A person in an office holding up two hands, 60 px wide in the 416 px photo (gloves-ppe).
OFFICE = "IMG_4692_11-34sec_jpg.rf.a4695ad998d5da8ef09978b33dc13d28"
# Four office-camera frames for a 2x2 "CCTV wall": 7 labelled hands, 20-50 px wide in a 1280x720 frame.
WALL = (
    "IMG_20220228_233452_jpg.rf.923cbd1ab0f37141265447ed712d0eae",
    "IMG_4697_18-40sec_jpg.rf.e5bf3a1a2e3fcefb950d3556e0a0ef35",
    "IMG_5575_2-28sec_jpg.rf.c619120b5cdab939093aa84acba30cf0",
    "IMG_5723_21-30sec_jpg.rf.bf8719a99b6f1ef9e62f3366754fab0d",
)


def dets(xyxy, conf=None, cls=None) -> Detections:
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    conf = np.linspace(0.9, 0.6, len(xyxy)) if conf is None else conf
    return Detections(xyxy, conf, cls)


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize("wh, tile, overlap, expected", [
    ((0, 0), 320, 0.2, []),  # empty frame: no windows
    ((0, 480), 320, 0.2, []),  # no columns
    ((200, 150), 320, 0.2, [[0, 0, 200, 150]]),  # smaller than a tile: the frame itself
    ((320, 320), 320, 0.2, [[0, 0, 320, 320]]),  # exactly one tile
    ((1000, 200), 320, 0.25, [[0, 0, 320, 200], [240, 0, 560, 200], [480, 0, 800, 200],
                              [680, 0, 1000, 200]]),  # lower than a tile: one row as high as the frame
    ((640, 320), 320, 0.0, [[0, 0, 320, 320], [320, 0, 640, 320]]),  # exact multiple, no overlap
    # remainder: the last tile flush with the border
    ((700, 320), 320, 0.0, [[0, 0, 320, 320], [320, 0, 640, 320], [380, 0, 700, 320]]),
    ((576, 320), 320, 0.2, [[0, 0, 320, 320], [256, 0, 576, 320]]),  # exact multiple of the 256 px step
    ((330, 330), 320, 0.5, [[0, 0, 320, 320], [10, 0, 330, 320], [0, 10, 320, 330], [10, 10, 330, 330]]),
])
def test_tile_windows(wh, tile, overlap, expected):
    w = tile_windows(wh, tile, overlap)
    assert w.dtype == np.int64 and w.shape == (len(expected), 4)
    assert w.tolist() == expected


@pytest.mark.parametrize("wh", [(1280, 720), (1920, 1080), (321, 999), (4000, 33)])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5])
def test_tile_windows_cover_the_frame_with_model_sized_tiles(wh, overlap):
    tile = 320
    win = tile_windows(wh, tile, overlap)
    covered = np.zeros(wh[::-1], np.int32)
    for x1, y1, x2, y2 in win:
        covered[y1:y2, x1:x2] += 1
    assert covered.min() >= 1  # every pixel is in a tile
    sides = win[:, 2:] - win[:, :2]
    assert (sides == np.minimum(tile, wh)).all()  # the model's size (or the frame's, if smaller)
    assert win[:, 2].max() == wh[0] and win[:, 3].max() == wh[1] and win.min() >= 0
    xs = np.unique(win[:, 0])
    if len(xs) > 1:  # neighbours share at least the requested overlap
        assert (np.diff(xs) <= round(tile * (1 - overlap))).all()


@pytest.mark.parametrize("wh, tile, overlap, what", [
    ((640, 480), 320, -0.1, "negative overlap"),
    ((640, 480), 320, 0.6, "overlap over MAX_OVERLAP"),
    ((640, 480), 320, 1.0, "overlap of a whole tile"),
    ((640, 480), 0, 0.2, "zero tile"),
    ((-1, 480), 320, 0.2, "negative width"),
])
def test_tile_windows_rejects_bad_input(wh, tile, overlap, what):
    with pytest.raises(ValueError):
        tile_windows(wh, tile, overlap)


@pytest.mark.parametrize("overlap", [-0.1, 0.51, 1.0])
def test_check_overlap_names_the_option(overlap):
    with pytest.raises(ConfigError, match="--tile-overlap"):
        check_overlap(overlap)


# ---------------------------------------------------------------- mapping back, cut boxes, IoS


@pytest.mark.parametrize("window, xyxy, expected", [
    ([0, 0, 320, 320], [[10, 20, 30, 40]], [[10, 20, 30, 40]]),  # first tile: unchanged
    ([256, 400, 576, 720], [[10, 20, 30, 40], [0, 0, 320, 320]],
     [[266, 420, 286, 440], [256, 400, 576, 720]]),  # a later tile: shifted by its corner
    ([256, 400, 576, 720], [], []),  # no boxes
])
def test_to_frame_shifts_by_the_window_corner(window, xyxy, expected):
    d = dets(xyxy)
    out = to_frame(d, np.asarray(window))
    assert out.xyxy.reshape(-1, 4).tolist() == expected
    assert np.array_equal(out.confidence, d.confidence)


@pytest.mark.parametrize("box, window, expected, what", [
    ([300, 100, 350, 150], [256, 0, 576, 320], False, "inside, away from every border"),
    ([256, 100, 300, 150], [256, 0, 576, 320], True, "on the left border, inside the frame"),
    ([259, 100, 300, 150], [256, 0, 576, 320], True, "within CUT_MARGIN of the left border"),
    ([262, 100, 300, 150], [256, 0, 576, 320], False, "6 px from the left border"),
    ([500, 100, 576, 150], [256, 0, 576, 320], True, "on the right border, inside the frame"),
    ([0, 100, 40, 150], [0, 0, 320, 320], False, "on the frame's own left edge"),
    ([1200, 650, 1280, 720], [960, 400, 1280, 720], False, "in the frame's bottom-right corner"),
    ([1000, 400, 1050, 450], [960, 400, 1280, 720], True, "on the top border, inside the frame"),
])
def test_cut_by_border(box, window, expected, what):
    cut = cut_by_border(np.asarray([box], np.float32), np.asarray(window), (1280, 720))
    assert cut.tolist() == [expected]


# ---------------------------------------------------------------- the merge

WHOLE = [100, 100, 160, 180]  # a hand seen whole (a neighbouring tile, or the full frame)
PIECE_L = [100, 102, 130, 178]  # its left half, cut by a tile's right border at x=130
PIECE_R = [110, 101, 161, 181]  # its right part, cut by the next tile's left border at x=110


@pytest.mark.parametrize("passes, cut, expected, what", [
    ([], [], [], "no passes"),
    ([[]], [[]], [], "one empty pass"),
    ([[WHOLE, [130, 100, 190, 180]]], [[False, False]], [WHOLE, [130, 100, 190, 180]],
     "two hands side by side (IoU 0.33) stay two"),
    ([[[997, 528, 1021, 556], [997, 512, 1022, 557]]], [[False, False]], [[997, 528, 1021, 556]],
     "one small hand boxed twice by one tile (IoU 0.62, which the model's NMS at 0.7 keeps): one"),
    ([[WHOLE], [[104, 98, 163, 184]]], [[False], [False]], [WHOLE], "the same hand in two passes (IoU 0.82)"),
    ([[PIECE_L], [WHOLE]], [[True], [False]], [WHOLE], "a cut piece and the whole hand: the whole geometry"),
    ([[PIECE_L], [PIECE_R]], [[True], [True]], [[100, 101, 161, 181]], "two pieces only: their union"),
    ([[PIECE_L], [PIECE_R], [WHOLE]], [[True], [True], [False]], [WHOLE], "two pieces and the full frame"),
    ([[[120, 120, 140, 140]], [WHOLE]], [[False], [False]], [[120, 120, 140, 140], WHOLE],
     "a box inside another, neither cut (a hand before a body): both kept, unlike IoS-everywhere NMM"),
    ([[[300, 100, 330, 180]], [WHOLE]], [[True], [False]], [[300, 100, 330, 180], WHOLE],
     "a cut piece far from the whole box stays"),
    ([[PIECE_L], [[90, 80, 220, 200]], [WHOLE]], [[True], [False], [False]], [WHOLE],
     "a cut piece leads: the whole box overlapping it most, not a looser one around it"),
    ([[[100, 102, 114, 178]], [WHOLE], [[112, 101, 161, 181]]], [[True], [False], [True]], [WHOLE],
     "a sliver leads and takes the whole hand; the piece cut on the far side barely meets the sliver (IoS 0.14) "
     "but is the whole hand (IoU 0.77): one hand (the shipped model on a 1280x720 wall of gloves-ppe photos)"),
])
def test_merge_passes(passes, cut, expected, what):
    conf = 0.9
    ds = []
    for p in passes:  # scores fall pass after pass, so the first pass's box leads its group
        ds.append(dets(p, np.full(len(p), conf)))
        conf -= 0.1
    out = merge_passes(ds, [np.asarray(c, bool) for c in cut])
    expected = np.asarray(expected, np.float32).reshape(-1, 4)
    assert sorted(out.xyxy.round().tolist()) == sorted(expected.tolist())
    assert (np.diff(out.confidence) <= 0).all()  # best first


def test_merge_keeps_the_best_confidence_and_never_merges_classes():
    a = Detections(np.float32([WHOLE]), np.float32([0.6]), np.int64([0]))
    b = Detections(np.float32([PIECE_L]), np.float32([0.9]), np.int64([0]))
    c = Detections(np.float32([WHOLE]), np.float32([0.8]), np.int64([1]))
    out = merge_passes([a, b, c], [np.zeros(1, bool), np.ones(1, bool), np.zeros(1, bool)])
    assert len(out) == 2
    assert out.confidence.tolist() == pytest.approx([0.9, 0.8]) and out.class_id.tolist() == [0, 1]
    assert out.xyxy[0].tolist() == WHOLE  # the group's score, the whole box's geometry


def test_merge_rejects_mismatched_masks():
    with pytest.raises(ValueError):
        merge_passes([dets([WHOLE])], [])
    with pytest.raises(ValueError):
        merge_passes([dets([WHOLE])], [np.zeros(2, bool)])


# ---------------------------------------------------------------- TiledPredictor with a stand-in model


class CornerBox:
    """Stands in for a model: one box at (10, 10, 20, 20) in every image it sees; records image sizes."""

    names, imgsz, backend, weights = {0: "hand"}, 320, "fake", "fake.onnx"

    def __init__(self):
        self.seen: list[tuple[int, int]] = []

    def __call__(self, image):
        self.seen.append(image.shape[1::-1])
        return dets([[10, 10, 20, 20]], [0.8])


def test_tiled_predictor_runs_the_frame_and_every_tile_and_maps_back():
    fake = CornerBox()
    frame = np.zeros((720, 1280, 3), np.uint8)
    tp = TiledPredictor(fake, overlap=0.2)
    out = tp(frame)
    windows = tp.windows((1280, 720))
    assert len(windows) == 15
    assert fake.seen == [(1280, 720)] + [(320, 320)] * 15  # the frame, then each tile (no predict_batch)
    # One box per tile, at its corner + 10 px; the full frame's own box coincides with the first tile's.
    expected = sorted((np.tile(windows[:, :2], 2) + [10, 10, 20, 20]).tolist())
    assert sorted(out.xyxy.tolist()) == expected


def test_a_frame_no_larger_than_a_tile_runs_untiled():
    fake = CornerBox()
    out = TiledPredictor(fake)(np.zeros((240, 320, 3), np.uint8))
    assert fake.seen == [(320, 240)] and out.xyxy.tolist() == [[10, 10, 20, 20]]


def test_predict_many_batches_at_most_max_batch_images_a_call():
    class Batched(CornerBox):
        def __init__(self):
            super().__init__()
            self.batches: list[int] = []

        def predict_batch(self, images):
            self.batches.append(len(images))
            return [self(im) for im in images]

    fake = Batched()
    out = predict_many(fake, [np.zeros((8, 8, 3), np.uint8)] * 33, max_batch=16)
    assert len(out) == 33 and fake.batches == [16, 16, 1]


@pytest.mark.parametrize("tile, overlap, expected", [
    (False, None, None),  # no tiling
    (True, None, DEFAULT_OVERLAP),
    (True, 0.3, 0.3),
])
def test_tile_option(tile, overlap, expected):
    assert tile_option(tile, overlap) == expected


@pytest.mark.parametrize("tile, overlap, fragment", [
    (False, 0.2, "add --tile"),
    (True, 0.9, "--tile-overlap must be between 0 and 0.5"),
])
def test_tile_option_rejects(tile, overlap, fragment):
    with pytest.raises(ConfigError, match=fragment):
        tile_option(tile, overlap)


# ---------------------------------------------------------------- tiles count on people

GRID = np.array([[0, 0, 320, 320], [256, 0, 576, 320], [0, 256, 320, 576], [256, 256, 576, 576]])


@pytest.mark.parametrize("people, expected, what", [
    ([], [], "no people: no tiles"),
    ([[10, 10, 50, 100]], [0], "a person inside one tile only"),
    ([[280, 10, 300, 100]], [0, 1], "a person in the overlap of two tiles"),
    ([[400, 400, 500, 500]], [3], "a person inside the last tile only"),
    ([[324, 330, 374, 400]], [2, 3], "grown by a tenth of its width (5 px) it reaches x 319, into tile 2"),
    ([[330, 330, 380, 400]], [3], "grown 5 px it starts at x 325, clear of tile 2"),
])
def test_windows_on_people(people, expected, what):
    got = windows_on_people(GRID, np.asarray(people, np.float32).reshape(-1, 4), pad=0.1)
    assert got.tolist() == GRID[expected].tolist(), what


ON, OFF = [40, 40, 60, 60], [400, 400, 420, 420]  # centres on the person below, and off it
PERSON = np.array([[0, 0, 200, 200]], np.float32)


def test_tiles_on_people_keeps_merged_boxes_on_people_and_the_full_frames_elsewhere():
    merged = dets([ON, OFF, [41, 41, 61, 61]], [0.8, 0.7, 0.3])  # the tiled merge: on, off, a twin on
    full = dets([[42, 42, 62, 62], OFF, [500, 100, 520, 120]], [0.3, 0.2, 0.25])  # the untiled frame
    out = tiles_on_people(merged, full, PERSON)
    # On the person: the merged boxes (the tile's 0.8, and its twin, as the merge left them). Off people: the
    # full frame's own boxes with the full frame's scores (OFF at 0.2, not the tile's 0.7), never a tile's.
    assert out.xyxy.tolist() == [ON, [41, 41, 61, 61], [500, 100, 520, 120], OFF]
    assert out.confidence.tolist() == pytest.approx([0.8, 0.3, 0.25, 0.2])


def test_tiles_on_people_drops_a_full_frame_box_that_a_kept_box_on_a_person_covers():
    # A box off the person (its centre 1 px past the grown edge) that is the same hand as a box on it.
    merged = dets([[190, 90, 226, 110]], [0.8])  # centre x 208 <= 220: on the person grown by 20 px
    full = dets([[196, 90, 246, 110]], [0.3])  # centre x 221 > 220: off it; IoU 0.54 with the merged box
    assert tiles_on_people(merged, full, PERSON).xyxy.tolist() == [[190, 90, 226, 110]]


def test_tiles_on_people_without_people_is_the_full_frame():
    full = dets([OFF], [0.3])
    assert tiles_on_people(dets([ON, OFF], [0.9, 0.8]), full, np.zeros((0, 4))) is full


class People:
    """Stands in for a person model: the same people in every image."""

    def __init__(self, xyxy):
        self.xyxy, self.calls = np.asarray(xyxy, np.float32).reshape(-1, 4), 0

    def __call__(self, image):
        self.calls += 1
        return Detections(self.xyxy, np.full(len(self.xyxy), 0.9, np.float32))


def test_with_a_person_model_only_the_tiles_on_people_run():
    fake, people = CornerBox(), People([[20, 20, 100, 200]])  # inside the first tile only
    frame = np.zeros((720, 1280, 3), np.uint8)
    out = TiledPredictor(fake, overlap=0.2, persons=people)(frame)
    assert people.calls == 1
    assert fake.seen == [(1280, 720), (320, 320)]  # the frame and the one tile on the person
    assert out.xyxy.tolist() == [[10, 10, 20, 20]]  # the frame's box and the tile's are one box


@pytest.mark.parametrize("person, kept, what", [
    ([0, 0, 500, 600], True, "600 px tall in a 1280 px frame: 0.47, from afar"),
    ([100, 0, 1000, 700], False, "900 px wide: 0.70 of the frame, a close-up"),
    ([0, 0, 895, 719], True, "895 px: just under 0.7"),
])
def test_people_from_afar(person, kept, what):
    got = people_from_afar(np.float32([person]), (1280, 720))
    assert len(got) == int(kept), what


def test_with_a_person_model_a_close_up_runs_untiled():
    fake, people = CornerBox(), People([[100, 0, 1100, 720]])  # 1000 px of 1280: a close-up
    out = TiledPredictor(fake, overlap=0.2, persons=people)(np.zeros((720, 1280, 3), np.uint8))
    assert fake.seen == [(1280, 720)] and out.xyxy.tolist() == [[10, 10, 20, 20]]


def test_with_a_person_model_a_frame_without_people_runs_untiled():
    fake, people = CornerBox(), People([])
    out = TiledPredictor(fake, overlap=0.2, persons=people)(np.zeros((720, 1280, 3), np.uint8))
    assert fake.seen == [(1280, 720)] and out.xyxy.tolist() == [[10, 10, 20, 20]]


def test_tiled_predictor_rejects_a_bad_overlap():
    with pytest.raises(ConfigError, match="--tile-overlap"):
        TiledPredictor(CornerBox(), overlap=0.7)


# ---------------------------------------------------------------- batching in the real predictors


@pytest.fixture(scope="module")
def int8():
    if not SHIPPED_INT8.is_file():
        pytest.skip(f"{SHIPPED_INT8} not built yet")
    from handdet.infer.onnx_predictor import OnnxPredictor

    return OnnxPredictor(SHIPPED_INT8)


LOW_CONF = 0.05  # (float) a cut-off at which the shipped model keeps boxes on Zidane's small pointing hand


@pytest.fixture(scope="module")
def int8_low():
    """The shipped INT8 model at LOW_CONF: the Zidane tests need boxes whatever the model's own threshold keeps."""
    if not SHIPPED_INT8.is_file():
        pytest.skip(f"{SHIPPED_INT8} not built yet")
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import PredictorSettings

    return OnnxPredictor(SHIPPED_INT8, PredictorSettings(conf=LOW_CONF))


@pytest.fixture(scope="module")
def zidane_image(zidane):
    return cv2.imread(str(zidane))  # 1280x720, two people, a hand pointing


def zidane_crops(image):
    """The frame, three of its tiles (two with the pointing hand) and a smaller crop: three sizes."""
    return [image, image[:320, :320], image[256:576, 768:1088], image[400:720, 768:1088], image[:200, :320]]


def same_detections(a: Detections, b: Detections, atol=1e-2):
    assert len(a) == len(b)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=atol)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_onnx_predict_batch_equals_one_image_at_a_time(int8_low, zidane_image):
    assert int8_low.batch_dynamic  # the shipped export has a dynamic batch axis
    images = zidane_crops(zidane_image)
    batched = int8_low.predict_batch(images)
    assert sum(len(d) for d in batched) >= 1  # the pointing hand
    for d, im in zip(batched, images, strict=True):
        same_detections(d, int8_low(im))


def test_onnx_with_a_fixed_batch_of_one_runs_tiles_one_at_a_time(int8, zidane_image, tmp_path, monkeypatch):
    import onnx

    from handdet.infer.onnx_predictor import OnnxPredictor

    model = onnx.load(str(SHIPPED_ONNX))
    for v in (model.graph.input[0], model.graph.output[0]):
        v.type.tensor_type.shape.dim[0].dim_value = 1  # replaces the named "batch" dimension
    path = tmp_path / "batch1.onnx"
    onnx.save(model, str(path))
    fixed = OnnxPredictor(path)
    assert not fixed.batch_dynamic
    runs = []
    real_infer = fixed.infer
    monkeypatch.setattr(fixed, "infer", lambda blob: runs.append(blob.shape[0]) or real_infer(blob))
    images = zidane_crops(zidane_image)
    out = fixed.predict_batch(images)
    assert runs == [1] * len(images)
    for d, im in zip(out, images, strict=True):
        same_detections(d, fixed(im), atol=0)


@pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")
def test_torch_predict_batch_equals_one_image_at_a_time(zidane_image):
    from handdet.infer.predictor import TorchPredictor

    pred = TorchPredictor(SHIPPED_PT)
    images = zidane_crops(zidane_image)
    for d, im in zip(predict_many(pred, images), images, strict=True):
        same_detections(d, pred(im))


# ---------------------------------------------------------------- the shipped model on real photos


@pytest.fixture(scope="module")
def gloves(shared_dir):
    d = shared_dir / "data" / "gloves-ppe"
    if not (d / "images" / f"{OFFICE}.jpg").is_file():
        pytest.skip(f"{d}: the gloves-ppe photos are not there")
    return d


def labels(gloves, name, side):
    from handdet.data.yolo_dataset import read_labels

    return read_labels(gloves / "labels" / f"{name}.txt", (side, side)).xyxy


def matches(hand: np.ndarray, d: Detections, iou: float) -> int:
    return int((box_iou(hand[None], d.xyxy)[0] >= iou).sum()) if len(d) else 0


@pytest.mark.parametrize("centre_x, what", [
    (320, "across tile 0's right border: a piece in tile 0, whole in tile 1"),
    (300, "wider than the overlap, cut in both tiles: two pieces"),
])
def test_a_hand_cut_by_a_tile_border_is_found_once(int8, gloves, centre_x, what):
    # The office photo at 2x (the hand 118x102 px), shifted so that the hand's centre sits at `centre_x`,
    # y=150, in a 960x720 frame: tile 0 spans x 0-320, tile 1 x 256-576, both in row 0 (y 0-320).
    scale, frame_wh = 2.0, (960, 720)
    hand = labels(gloves, OFFICE, 416)[0] * scale
    shift = np.float32([centre_x - (hand[0] + hand[2]) / 2, 150 - (hand[1] + hand[3]) / 2])
    hand = hand + np.tile(shift, 2)
    photo = cv2.imread(str(gloves / "images" / f"{OFFICE}.jpg"))
    frame = cv2.warpAffine(photo, np.float32([[scale, 0, shift[0]], [0, scale, shift[1]]]), frame_wh,
                           borderValue=(114, 114, 114))
    tp = TiledPredictor(int8)
    passes, cut = tp.passes(frame)
    # The construction holds: two tiles see the hand, and a border cuts it in at least one of them.
    on_hand = [box_ios(hand[None], d.xyxy)[0] > 0.5 for d in passes]
    seeing = [k for k in range(1, len(passes)) if on_hand[k].any()]
    assert len(seeing) >= 2, what
    assert any(cut[k][on_hand[k]].any() for k in seeing), what
    # Found once: one box at IoU >= 0.5, and no leftover piece of it.
    merged = tp(frame)
    assert matches(hand, merged, 0.5) == 1, what
    assert matches(hand, merged, 0.1) == 1, what
    # The tiles alone (the full frame left out) also join their pieces into one hand.
    tiles_only = merge_passes(passes[1:], cut[1:])
    assert matches(hand, tiles_only, 0.5) == 1 and matches(hand, tiles_only, 0.1) == 1, what
    # Plain NMS at the same IoU may keep a piece as a second box on the hand (it did with the first shipped
    # model): the IoS rule is what joins them, so the merge never keeps more boxes on the hand than plain NMS.
    every = Detections.merge(passes)
    plain = every[batched_nms(every.xyxy, every.confidence, every.class_id, MERGE_IOU)]
    assert matches(hand, plain, 0.1) >= matches(hand, merged, 0.1), what


def cctv_wall(gloves) -> tuple[np.ndarray, np.ndarray]:
    """A 2x2 wall of four office-camera photos, each 360x360 in a 640x360 cell: a 1280x720 frame in which the 7
    labelled hands (returned, xyxy) are 20-50 px wide (7-12 px once the whole frame is letterboxed to 320)."""
    frame = np.full((720, 1280, 3), 114, np.uint8)
    hands = []
    for k, name in enumerate(WALL):
        x0, y0 = (k % 2) * 640 + 140, (k // 2) * 360
        photo = cv2.imread(str(gloves / "images" / f"{name}.jpg"))
        frame[y0:y0 + 360, x0:x0 + 360] = cv2.resize(photo, (360, 360), interpolation=cv2.INTER_AREA)
        hands.append(labels(gloves, name, 360) + np.float32([x0, y0, x0, y0]))
    return frame, np.concatenate(hands)


def test_tiling_finds_more_small_hands_in_a_large_frame(int8, gloves):
    frame, hands = cctv_wall(gloves)
    assert len(hands) == 7

    def found(d: Detections) -> np.ndarray:
        return (box_iou(hands, d.xyxy) >= 0.5).sum(axis=1) if len(d) else np.zeros(len(hands), np.int64)

    untiled, every_tile = found(int8(frame)), found(TiledPredictor(int8)(frame))
    assert (every_tile > 0).sum() >= max(1, (untiled > 0).sum())  # tiling loses no hand (the first model: 4 vs 1)
    assert every_tile.max() <= 1  # and finds none of them twice


def test_tiles_on_people_find_the_small_hands_of_a_large_frame(gloves):
    # The shipped model as `handdet predict --tile` runs it: its cut-offs, and its person model picking the tiles.
    if not SHIPPED_INT8.is_file():
        pytest.skip(f"{SHIPPED_INT8} not built yet")
    from handdet.infer.predictor import load_predictor

    frame, hands = cctv_wall(gloves)
    pred = load_predictor(SHIPPED_INT8)
    tp = tiled(pred)
    windows, people = tp.plan(frame)
    assert len(people) >= 3 and len(windows) < len(tp.windows((1280, 720))) == 15  # only the tiles on people

    def found(d: Detections) -> int:
        return int(((box_iou(hands, d.xyxy) >= 0.5).sum(axis=1) > 0).sum()) if len(d) else 0

    out = tp(frame)
    assert found(out) > found(pred(frame))  # measured: 7 of 7 against 3 untiled
    assert (box_iou(hands, out.xyxy) >= 0.5).sum(axis=1).max() <= 1  # none twice


def test_tiles_on_people_leave_a_hand_free_photo_without_people_as_untiled(shared_dir):
    # A tile at full resolution scores the dog's paw above the first cut-off (0.6 with the shipped model); no one
    # is in the photo, so the tiled frame keeps what the untiled one keeps: nothing.
    photo = shared_dir / "data" / "hand-free" / "imagenet-sample" / DOG
    if not photo.is_file() or not SHIPPED_ONNX.is_file():
        pytest.skip(f"{photo} or {SHIPPED_ONNX} not there")
    from handdet.infer.predictor import PredictorSettings, load_predictor
    from handdet.infer.two_level import inside

    image = cv2.imread(str(photo))
    pred = load_predictor(SHIPPED_ONNX)
    assert len(pred(image)) == 0 and len(tiled(pred)(image)) == 0
    every_tile = inside(load_predictor(SHIPPED_ONNX, settings=PredictorSettings(persons="none")),
                        lambda p: TiledPredictor(p))
    assert len(every_tile(image)) >= 1  # without people picking the tiles, the paw fires


# ---------------------------------------------------------------- CLI


def test_predict_tile_on_a_real_frame_writes_the_tiled_boxes(int8_low, zidane, zidane_image, tmp_path, capsys):
    from handdet.infer.predictions_json import read_predictions

    out = tmp_path / "preds.json"
    assert main(["predict", str(SHIPPED_INT8), str(zidane), "--tile", "--tile-overlap", "0.25",
                 "--conf", str(LOW_CONF), "--save-json", str(out)]) == 0
    line = capsys.readouterr().out
    assert "(onnx, 320 px, 320 px tiles, overlap 0.25)" in line, line
    saved = read_predictions(out)["zidane"]
    expected = TiledPredictor(int8_low, overlap=0.25)(zidane_image)
    assert len(saved) == len(expected) >= 1  # Zidane's pointing hand (22 px wide at 320 in the full frame)
    np.testing.assert_allclose(saved.xyxy, expected.xyxy, atol=0.01)


def test_webcam_tile_runs_the_same_options(zidane, capsys):
    if not SHIPPED_INT8.is_file():
        pytest.skip(f"{SHIPPED_INT8} not built yet")
    assert main(["webcam", "--weights", str(SHIPPED_INT8), "--source", str(zidane), "--no-show", "--tile",
                 "--tile-overlap", "0.25", "--max-frames", "1"]) == 0
    line = capsys.readouterr().out
    assert "(onnx, 320 px, 320 px tiles, overlap 0.25): 1 frames" in line, line


def test_eval_tile_scores_photos_as_predict_tile_keeps_them(gloves, shared_dir, tmp_path, capsys):
    import json

    if not SHIPPED_INT8.is_file():
        pytest.skip(f"{SHIPPED_INT8} not built yet")
    frame, hands = cctv_wall(gloves)
    data = tmp_path / "wall"
    (data / "images" / "val").mkdir(parents=True)
    (data / "labels" / "val").mkdir(parents=True)
    cv2.imwrite(str(data / "images" / "val" / "wall.png"), frame)
    cx, cy = (hands[:, 0] + hands[:, 2]) / 2 / 1280, (hands[:, 1] + hands[:, 3]) / 2 / 720
    w, h = (hands[:, 2] - hands[:, 0]) / 1280, (hands[:, 3] - hands[:, 1]) / 720
    (data / "labels" / "val" / "wall.txt").write_text(
        "".join(f"0 {a:.6f} {b:.6f} {c:.6f} {d:.6f}\n" for a, b, c, d in zip(cx, cy, w, h, strict=True)))
    shutil.copy(shared_dir / "data" / "hand-free" / "imagenet-sample" / DOG, data / "images" / "val" / "dog.jpg")
    (data / "data.yaml").write_text(f"path: {data}\ntrain: images/val\nval: images/val\nnames: {{0: hand}}\n")
    runs = {}
    for flags in ([], ["--tile"]):
        out = tmp_path / ("tiled" if flags else "untiled")
        args = ["eval", str(SHIPPED_INT8), str(data / "data.yaml"), "--out", str(out), "--conf-threshold", "0.2"]
        assert main([*args, *flags]) == 0
        runs["tiled" if flags else "untiled"] = json.loads((out / "metrics.json").read_text())
    meta = runs["tiled"]["meta"]
    # made down to the lowest score a kept box can have (a box on a person seen from afar: FAR_LEVEL)
    assert meta["tile_overlap"] == DEFAULT_OVERLAP and meta["predict_conf"] == pytest.approx(FAR_LEVEL)
    assert runs["untiled"]["meta"]["tile_overlap"] is None
    assert runs["tiled"]["tp"] > runs["untiled"]["tp"]  # the wall's small hands
    assert runs["tiled"]["fp_per_100_negatives"] == runs["untiled"]["fp_per_100_negatives"] == 0  # not the paw
    assert "ap50" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--tile-overlap", "0.2"], "add --tile"),
    (["--tile", "--tile-overlap", "0.9"], "--tile-overlap must be between 0 and 0.5"),
])
@pytest.mark.parametrize("command", ["predict", "webcam", "eval"])
def test_tile_options_are_checked_alike_in_predict_webcam_and_eval(command, args, fragment, zidane, capsys):
    base = {"predict": ["predict", "/nonexistent/model.onnx", str(zidane)],
            "webcam": ["webcam", "--weights", "/nonexistent/model.onnx", "--source", str(zidane), "--no-show"],
            "eval": ["eval", "/nonexistent/model.onnx", "/nonexistent/data.yaml"]}[command]
    assert main([*base, *args]) == 2  # rejected before the (missing) weights are even looked for
    err = capsys.readouterr().err
    assert fragment in err and "not found" not in err


# ---------------------------------------------------------------- bench


def test_bench_tiling_reports_time_and_recall(int8, gloves, zidane):
    from handdet.infer.bench import bench_tiling

    r = bench_tiling(SHIPPED_INT8, zidane, gloves, size=640, max_images=2, repeats=1, rounds=1)
    assert r["frame_wh"] == (1280, 720) and r["grid_tiles"] == 15 and r["photos"] == 2 and r["hands"] > 0
    assert 1 <= r["tiles"] < 15  # the tiles on Zidane's people (9 of the frame's 15)
    assert r["tiled_ms"] > r["untiled_ms"] > 0  # 16 runs against one
    assert r["tiled_vs_untiled"] == r["tiled_ms"] / r["untiled_ms"]
    for k in ("untiled_recall", "tiled_recall"):
        assert 0.0 <= r[k] <= 1.0, k
    # The never-trained hand-free photos (streets with people, night scenes): none fires, tiled or not.
    assert r["handfree_photos"] == 101 and r["untiled_handfree_firing"] == r["tiled_handfree_firing"] == 0
