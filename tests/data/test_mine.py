"""Hard-negative mining (`handdet/data/mine.py`, `handdet mine`) with the shipped model on real hand-free photos.

The photos are the first 10 CamVid street photos of the shared hand-free set, mined at a confidence (the `conf`
fixture) where the shipped model fires on about half of them and not on the others, whatever model is shipped.
Every expectation is checked against the predictor run directly on the same images, not against remembered
numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from handdet.cli import main
from handdet.core.errors import SourceError
from handdet.core.paths import SHIPPED_PT
from handdet.data.mine import CROP_MIN_PX, REPORT_NAME, crop_window, mine_negatives, read_report, rescore

pytestmark = pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")

N_PHOTOS = 10


def _images(folder: Path) -> set[str]:
    """Names of the image files directly in `folder` (not crops/, not the report)."""
    return {p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".jpg"}


@pytest.fixture(scope="module")
def photos(shared_dir, tmp_path_factory) -> Path:
    """A folder of links to 10 real hand-free street photos."""
    camvid = shared_dir / "data" / "hand-free" / "camvid-streets"
    if not camvid.is_dir():
        pytest.skip(f"{camvid} not present")
    out = tmp_path_factory.mktemp("camvid10")
    for f in sorted(camvid.glob("*.jpg"))[:N_PHOTOS]:
        (out / f.name).symlink_to(f)
    return out


@pytest.fixture(scope="module")
def conf(photos) -> float:
    """A confidence at which the shipped model fires on about half of the photos and not on the others, halfway
    between two photos' best scores (the better the model, the lower it is; at its default 0.5 a good model
    may fire on none of these streets)."""
    from handdet.infer.predictor import PredictorSettings, load_predictor

    p = load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=0.001))
    best = sorted((float(d.confidence.max()) if len(d) else 0.0 for d in
                   (p(cv2.imread(str(f))) for f in sorted(photos.iterdir()))), reverse=True)
    k = N_PHOTOS // 2 - 1
    assert best[k] > best[k + 1], "the photos' best scores must differ to split them"
    return round((best[k] + best[k + 1]) / 2, 6)


@pytest.fixture(scope="module")
def predictor(conf):
    """The shipped model at `conf`, as `mine_negatives` runs it."""
    from handdet.infer.predictor import PredictorSettings, load_predictor

    return load_predictor(SHIPPED_PT, settings=PredictorSettings(conf=conf))


@pytest.fixture(scope="module")
def direct(photos, predictor) -> dict:
    """Photo name -> the predictor's detections, run here directly."""
    return {f.name: predictor(cv2.imread(str(f))) for f in sorted(photos.iterdir())}


@pytest.fixture(scope="module")
def mined(photos, conf, tmp_path_factory):
    out = tmp_path_factory.mktemp("mined") / "out"
    return out, mine_negatives(SHIPPED_PT, [photos], out, conf=conf, crops=True, progress=False)


# --- the mined set ------------------------------------------------------------------------------------------

def test_mined_images_are_exactly_the_photos_where_the_model_fired(mined, direct, photos, conf):
    out, report = mined
    fired = {name for name, d in direct.items() if len(d)}
    assert 0 < len(fired) < N_PHOTOS, "the test needs photos with and without false detections"
    assert _images(out) == fired
    for name in fired:  # copies, byte for byte
        assert (out / name).read_bytes() == (photos / name).read_bytes()
    n_dets = sum(len(d) for d in direct.values())
    assert (report.images, report.fired, report.detections) == (N_PHOTOS, len(fired), n_dets)
    assert report.per_100 == pytest.approx(100 * n_dets / N_PHOTOS)
    assert report.conf == conf and report.out == out
    line = report.summary_line()
    assert f"fired on {len(fired)} of {N_PHOTOS} images: {n_dets} false detections" in line
    assert f"{100 * n_dets / N_PHOTOS:.1f} per 100 images" in line


def test_report_on_disk_lists_each_mined_photo_with_its_detections(mined, direct, photos):
    out, report = mined
    d = json.loads((out / REPORT_NAME).read_text())
    n_dets = sum(len(x) for x in direct.values())
    assert d["totals"]["images"] == N_PHOTOS and d["totals"]["detections"] == n_dets
    assert d["totals"]["per_100_images"] == pytest.approx(100 * n_dets / N_PHOTOS, abs=1e-3)
    assert d["sources"] == [{"source": str(photos), "kind": "folder", "images": N_PHOTOS,
                             "fired": sum(bool(len(x)) for x in direct.values()), "detections": n_dets}]
    for entry in d["images"]:
        want = direct[entry["name"]]
        assert entry["file"] == str(photos / entry["name"]) and entry["frame"] is None
        assert entry["detections"] == len(want) == len(entry["boxes"])
        assert entry["max_score"] == pytest.approx(float(want.confidence.max()), abs=1e-3)
    back = read_report(out)
    assert (back.images, back.fired, back.detections, back.crops) == (
        report.images, report.fired, report.detections, report.crops)


def test_image_list_names_the_mined_photos_for_the_next_training_round(mined, direct, photos, tmp_path,
                                                                        monkeypatch):
    """`images.txt` lists each mined photo's own file; the `images` reader reads that list back as the
    background images of a training source, relative to the data directory."""
    from handdet.core.errors import DataError
    from handdet.data.formats.images import read_images
    from handdet.data.mine import LIST_NAME

    out, _ = mined
    lines = [x for x in (out / LIST_NAME).read_text().splitlines() if not x.startswith("#")]
    fired = sorted(name for name, d in direct.items() if len(d))
    assert sorted(Path(x).name for x in lines) == fired
    assert all(Path(x).is_absolute() for x in lines), "photos outside the data directory are listed in full"
    assert [r.image_path for r in read_images(out / LIST_NAME)] == [Path(x) for x in lines]
    assert all(len(r.xyxy) == 0 for r in read_images(out / LIST_NAME))

    monkeypatch.setenv("HANDDET_DATA", str(photos.parent))  # now the photos lie in the data directory
    relisted = tmp_path / "list.txt"
    relisted.write_text("# comment\n\n" + "".join(f"{photos.name}/{n}  # why\n" for n in fired))
    assert [r.image_path.name for r in read_images(relisted)] == fired
    relisted.write_text(f"{photos.name}/{fired[0]}\n{photos.name}/no-such.jpg\n")
    with pytest.raises(DataError, match=r"list.txt:2: image '.*no-such.jpg' not found"):
        list(read_images(relisted))


# --- crops --------------------------------------------------------------------------------------------------

def test_crops_lie_inside_their_images_and_contain_the_detection(mined, photos):
    out, report = mined
    assert report.crops == report.detections > 0
    for hit in report.hits:
        image = cv2.imread(str(photos / hit.name))
        h, w = image.shape[:2]
        assert hit.resolution_wh == (w, h) and len(hit.crops) == len(hit.detections)
        for crop, box in zip(hit.crops, hit.detections.xyxy, strict=True):
            x1, y1, x2, y2 = crop.window
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
            assert x1 <= box[0] and y1 <= box[1] and box[2] <= x2 and box[3] <= y2
            assert x2 - x1 >= min(w, CROP_MIN_PX) and y2 - y1 >= min(h, CROP_MIN_PX)
            pixels = cv2.imread(str(out / crop.file))
            assert pixels.shape == (y2 - y1, x2 - x1, 3)
            diff = np.abs(pixels.astype(int) - image[y1:y2, x1:x2].astype(int)).mean()
            assert diff < 3  # the same pixels, through one more JPEG encoding


# (box xyxy, image (w, h), expected window, what it covers)
WINDOW_CASES = [
    ((100, 100, 160, 200), (640, 480), (70, 50, 190, 250), "2x the box, centred on it"),
    ((100, 100, 160, 140), (640, 480), (70, 72, 190, 168), "a flat box: 2x its width, 96 px high"),
    ((300, 200, 310, 210), (640, 480), (257, 157, 353, 253), "a tiny box gets the 96 px minimum"),
    ((0, 0, 60, 60), (640, 480), (0, 0, 120, 120), "a box in the corner: the window slides inside, not cut"),
    ((600, 440, 640, 480), (640, 480), (544, 384, 640, 480), "a box at the far corner"),
    ((100, 50, 500, 400), (640, 480), (0, 0, 640, 480), "a box larger than half the image: the whole image"),
    ((10, 10, 40, 40), (64, 48), (0, 0, 64, 48), "an image smaller than 96 px: the whole image"),
    ((-5, -5, 20, 20), (640, 480), (0, 0, 96, 96), "a box reaching out of the image is clipped first"),
]


@pytest.mark.parametrize("box, wh, window, what", WINDOW_CASES, ids=[c[-1] for c in WINDOW_CASES])
def test_crop_window(box, wh, window, what):
    got = crop_window(np.array(box, np.float32), wh)
    assert got == window
    assert all(isinstance(v, int) for v in got)


# --- video --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def video(photos, direct, tmp_path_factory) -> Path:
    """An MJPG video of 4 real photos (2 where the model fires first, then 2 where it does not), each
    shown for 2 frames: 8 frames."""
    fired = sorted((n for n, d in direct.items() if len(d)), key=lambda n: -float(direct[n].confidence.max()))
    silent = sorted(n for n, d in direct.items() if not len(d))
    path = tmp_path_factory.mktemp("video") / "street.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (480, 360))
    assert writer.isOpened()
    for name in fired[:2] + silent[:2]:
        image = cv2.resize(cv2.imread(str(photos / name)), (480, 360))
        for _ in range(2):
            writer.write(image)
    writer.release()
    return path


def test_video_every_second_frame_is_scanned_and_fired_frames_written(video, predictor, conf, tmp_path):
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    assert len(frames) == 8
    direct = {i: predictor(frames[i]) for i in range(0, 8, 2)}
    want = {f"street_{i:06d}.jpg" for i, d in direct.items() if len(d)}
    assert want, "the video must hold frames the model fires on"

    report = mine_negatives(SHIPPED_PT, [video], tmp_path / "out", conf=conf, every=2, progress=False)
    assert _images(tmp_path / "out") == want
    assert report.images == 4 and report.detections == sum(len(d) for d in direct.values())
    assert report.sources[0].kind == "video"
    for hit in report.hits:
        assert hit.frame % 2 == 0 and hit.file == str(video)
        assert cv2.imread(str(tmp_path / "out" / hit.name)).shape == (360, 480, 3)


def test_max_images_counts_across_sources(photos, video, conf, tmp_path):
    report = mine_negatives(SHIPPED_PT, [photos, video], tmp_path / "out", conf=conf, max_images=N_PHOTOS + 2,
                            progress=False)
    assert report.images == N_PHOTOS + 2
    assert [(s.kind, s.images) for s in report.sources] == [("folder", N_PHOTOS), ("video", 2)]


# --- before and after ---------------------------------------------------------------------------------------

def test_rescore_scans_the_same_images_again(mined, photos, conf):
    out, before = mined
    again = rescore(SHIPPED_PT, out, conf=conf, progress=False)  # from the report: same sources, same images
    assert (again.images, again.fired, again.detections) == (before.images, before.fired, before.detections)
    assert again.out is None and {h.name for h in again.hits} == {""}
    assert rescore(SHIPPED_PT, [photos], conf=conf, progress=False).per_100 == pytest.approx(before.per_100)


def test_cli_prints_the_summary_and_the_rate_after(photos, conf, tmp_path, capsys):
    out = tmp_path / "mined"
    rc = main(["mine", str(SHIPPED_PT), str(photos), "--out", str(out), "--crops", "--after", str(SHIPPED_PT),
               "--conf", str(conf)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(lines) == 2
    assert lines[0].startswith(f"handdet mine: handdet-n.pt at conf {conf:g} fired on ") and str(out) in lines[0]
    rate = read_report(out).per_100
    assert lines[1].startswith(f"after: handdet-n.pt at conf {conf:g}") and f"before {rate:.1f}, after {rate:.1f}" in lines[1]
    assert (out / "crops").is_dir()


def test_documented_group_rule_keeps_frames_and_crops_with_their_image():
    from handdet.data.mine import __doc__ as doc
    from handdet.data.split import group_of

    rule = r"^(.+?)(?:_\d{6})?(?:__crop\d+)?$"
    assert rule in doc
    assert group_of("street_000012__crop1", rule) == group_of("street_000014", rule) == "street"
    assert group_of("IMG_0042__crop0", rule) == group_of("IMG_0042", rule) == "IMG_0042"


# --- errors and atomic output -------------------------------------------------------------------------------

def _broken(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zz_broken.jpg").write_bytes(b"not a jpeg")
    return folder


# (arguments, fragment of the one-line error, what it covers); {photos} good photos, {tmp} a scratch folder
ERROR_CASES = [
    (["{w}", "{tmp}/missing", "--out", "{out}"], "{tmp}/missing: no such folder, image or video", "missing folder"),
    (["{w}", "{tmp}/bad.mp4", "--out", "{out}"], "{tmp}/bad.mp4: cannot open this video", "unreadable video"),
    (["{w}", "{tmp}/empty", "--out", "{out}"], "{tmp}/empty: folder holds no images", "empty folder"),
    (["{w}", "{tmp}/broken", "--out", "{out}"], "zz_broken.jpg: cannot read this image", "corrupt image in a folder"),
    (["{w}", "0", "--out", "{out}"], "0: mining reads folders, images, globs and videos", "camera index"),
    (["{w}", "{photos}", "--out", "{photos}"], "would replace the source", "out is the source"),
    (["{w}", "{photos}", "--out", "{tmp}/other"], "{tmp}/other: exists and is not a `handdet mine` output",
     "out is a folder of other files"),
    (["{w}", "{photos}", "--out", "{out}", "--every", "0"], "--every must be at least 1", "bad --every"),
    (["{w}", "{photos}", "--out", "{out}", "--max-images", "0"], "--max-images must be at least 1",
     "bad --max-images"),
    (["{w}", "{photos}", "--out", "{out}", "--conf", "2"], "--conf must be between 0 and 1", "bad --conf"),
    (["{tmp}/none.pt", "{photos}", "--out", "{out}"], "{tmp}/none.pt: weights not found", "missing weights"),
    (["{w}", "{photos}", "--out", "{out}", "--after", "{tmp}/none.pt"], "{tmp}/none.pt: weights not found",
     "missing --after weights: found before the scan"),
]


@pytest.mark.parametrize("args, fragment, what", ERROR_CASES, ids=[c[-1] for c in ERROR_CASES])
def test_errors_are_one_line_naming_the_file(args, fragment, what, photos, tmp_path, capsys):
    (tmp_path / "bad.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    shutil.copy(next(photos.iterdir()), _broken(tmp_path / "broken") / "a.jpg")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    fmt = dict(w=SHIPPED_PT, tmp=tmp_path, out=tmp_path / "out", photos=photos)
    assert main(["mine", *(a.format(**fmt) for a in args)]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("handdet:")]
    assert len(err) == 1 and err[0].startswith("handdet: error: ") and fragment.format(**fmt) in err[0], err
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me" and len(list(photos.iterdir())) == N_PHOTOS


def test_an_existing_output_survives_a_failure(mined, photos, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(mined[0], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = _broken(tmp_path / "broken")
    for f in photos.iterdir():  # photos the model fires on are read and written before the failure
        shutil.copy(f, broken / f.name)
    with pytest.raises(SourceError, match="zz_broken.jpg: cannot read this image"):
        mine_negatives(SHIPPED_PT, [broken], out, crops=True, progress=False)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "out"]  # no temporary folder left


def test_an_earlier_output_is_replaced(photos, tmp_path):
    out = tmp_path / "out"
    mine_negatives(SHIPPED_PT, [photos], out, crops=True, progress=False)
    report = mine_negatives(SHIPPED_PT, [photos], out, progress=False, max_images=1)
    assert report.images == 1 and not (out / "crops").exists() and read_report(out).images == 1


def test_mining_a_datasets_training_split_never_touches_held_out_photos(shared_dir, tmp_path, capsys):
    """`--data D --split train` scans exactly the hand-free training photos of a multi-source dataset, each
    once although a weighted source repeats it."""
    from handdet.data.manifest import Kind, images_of, read_manifest
    from handdet.data.multisource import build_multisource
    from handdet.train.config import SourceConfig

    street = tmp_path / "data" / "streets"
    street.mkdir(parents=True)
    for f in sorted((shared_dir / "data" / "hand-free" / "camvid-streets").glob("*.jpg"))[:12]:
        (street / f.name).symlink_to(f)
    ds = tmp_path / "ds"
    build_multisource([SourceConfig("streets", format="images", split={"train": 0.5, "val": 0.5}, weight=2.0)],
                      ds, tmp_path / "data", progress=False, log=lambda *a: None)
    rows = read_manifest(ds)
    copies = images_of(ds, "train")
    assert len(copies) == sum(r.split == "train" and r.kind == Kind.BACKGROUND for r in rows) > 0
    train = list({p.resolve(): p for p in copies}.values())
    assert len(copies) == 2 * len(train), "weight 2 writes each training photo twice"
    out = tmp_path / "mined"
    assert main(["mine", str(SHIPPED_PT), "--data", str(ds / "data.yaml"), "--out", str(out)]) == 0
    report = read_report(out)
    assert report.images == len(train), "every training photo scanned, nothing else"
    scanned = {Path(s.source).resolve() for s in report.sources}
    assert scanned == {p.resolve() for p in train}
    assert not scanned & {(ds / r.image).resolve() for r in rows if r.split != "train"}
    assert main(["mine", str(SHIPPED_PT), "--out", str(out)]) == 2
    assert "give SOURCE" in capsys.readouterr().err
