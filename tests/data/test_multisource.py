"""Multi-source datasets on real photos: every image keeps its source, no group spans two splits,
weights repeat or thin training images, test-only folders stay whole, the output is atomic."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from handdet.core.errors import ConfigError, DataError
from handdet.data.manifest import Kind, read_manifest, sources_of
from handdet.data.multisource import build_multisource, copies
from handdet.data.yolo_dataset import label_path_for, read_data_yaml, read_labels
from handdet.train.config import SourceConfig

ASL_GROUP = r"^(.*?)(?:_jpg)?\.rf\."
HANDS_V2_GROUP = r"^(\d+(?=-\d+-_png)|IMG_?\d{8}|\d{8}(?=_\d{6})|S__\d{5}|.*?(?=(?:_jpg|_png|_jpeg|_JPG)*\.rf\.))"


def _link_yolo(src: Path, dst: Path, stems: list[str]) -> Path:
    """A YOLO folder (images/, labels/) of the given real photos, linked."""
    for sub in ("images", "labels"):
        (dst / sub).mkdir(parents=True)
    for s in stems:
        (dst / "images" / f"{s}.jpg").symlink_to(src / "images" / f"{s}.jpg")
        (dst / "labels" / f"{s}.txt").symlink_to(src / "labels" / f"{s}.txt")
    return dst


@pytest.fixture(scope="module")
def two_sources(shared_dir, tmp_path_factory) -> Path:
    """A data folder with 24 real hands-v2 photos (4 webcam videos' frames among them), 16 asl-letters
    photos and 10 hand-free room photos."""
    data = shared_dir / "data"
    root = tmp_path_factory.mktemp("multi_data")
    hv2 = sorted(p.stem for p in (data / "hands-v2" / "images").glob("*.jpg"))
    video = [s for s in hv2 if s.split("-")[0].isdigit() and "-_png" in s][:12]
    phone = [s for s in hv2 if s.startswith("IMG2022")][:12]
    _link_yolo(data / "hands-v2", root / "hands-v2", video + phone)
    asl = sorted(p.stem for p in (data / "asl-letters" / "images").glob("*.jpg"))[:16]
    _link_yolo(data / "asl-letters", root / "asl-letters", asl)
    rooms = root / "hand-free" / "rooms"
    rooms.mkdir(parents=True)
    for p in sorted((data / "hand-free" / "places365-rooms").glob("*.jpg"))[:10]:
        (rooms / p.name).symlink_to(p)
    return root


SOURCES = [
    SourceConfig("hands-v2", group=HANDS_V2_GROUP, split={"train": 0.5, "val": 0.5}, weight=2.0),
    SourceConfig("asl-letters", group=ASL_GROUP, split={"train": 0.75, "val": 0.25}, weight=0.5),
    SourceConfig("hand-free/rooms", format="images", split={"test": 1.0}),
]


@pytest.fixture(scope="module")
def built(two_sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("multi_out") / "ds"
    report = build_multisource(SOURCES, out, two_sources, seed=0, progress=False, log=lambda *a: None)
    return two_sources, out, report


def test_every_image_keeps_its_source(built):
    root, out, _ = built
    rows = read_manifest(out)
    on_disk = sorted(str(p.relative_to(out)) for p in (out / "images").rglob("*.jpg"))
    assert sorted(r.image for r in rows) == on_disk, "the manifest lists exactly the written images"
    for r in rows:
        target = Path(os.readlink(out / r.image))  # the link names the source's own file
        assert target.is_relative_to(root / r.source), f"{r.image} is not a photo of {r.source}"
        assert r.image.startswith(f"images/{r.split}/{r.source.replace('/', '-')}__")
    kinds = {r.source: r.kind for r in rows}
    assert kinds == {"hands-v2": Kind.HANDS, "asl-letters": Kind.HANDS, "hand-free/rooms": Kind.BACKGROUND}


def test_no_group_in_two_splits(built):
    _, out, _ = built
    splits_of = collections.defaultdict(set)
    for r in read_manifest(out):
        splits_of[(r.source, r.group)].add(r.split)
    assert all(len(s) == 1 for s in splits_of.values()), [g for g, s in splits_of.items() if len(s) > 1]
    groups = {g for (src, g) in splits_of if src == "hands-v2"}
    assert len(groups) < 24, "the webcam frames of one video share a group"


def test_labels_follow_the_photos(built):
    root, out, _ = built
    info = read_data_yaml(out)
    for images in info.splits.values():
        for img in images:
            src = Path(os.readlink(img))
            wh = (1, 1)
            got = read_labels(label_path_for(img), wh).xyxy
            if src.parent.name == "images":  # a hand photo: its label file is the source's own
                want = read_labels(src.parent.parent / "labels" / f"{src.stem}.txt", wh).xyxy
                assert got.shape == want.shape and abs(got - want).max(initial=0) < 1e-5, img


def test_weights_repeat_and_thin_training_images(built):
    _, out, report = built
    rows = read_manifest(out)
    hv2 = collections.Counter(r.stem.split("__w")[0] for r in rows if r.split == "train" and r.source == "hands-v2")
    assert hv2 and set(hv2.values()) == {2}, "weight 2 shows each training photo twice"
    by_source = {s.name: s for s in report.sources}
    asl_train = by_source["asl-letters"].images["train"]
    assert 0 < asl_train < 12, "weight 0.5 keeps about half of the 12 training photos"
    assert {r.split for r in rows if r.source != "hand-free/rooms"} == {"train", "val"}
    assert all(r.split == "train" for r in rows if "__w" in r.image), "val and test photos are never repeated"


def test_test_only_folder_stays_whole(built):
    _, out, report = built
    rows = [r for r in read_manifest(out) if r.source == "hand-free/rooms"]
    assert len(rows) == 10 and {r.split for r in rows} == {"test"}
    info = read_data_yaml(out)
    assert len(info.images("test")) == 10
    assert sources_of(out, "test", [p.stem for p in info.images("test")]) == [("hand-free/rooms", Kind.BACKGROUND)] * 10


def test_repeatable(built, tmp_path):
    root, out, _ = built
    again = tmp_path / "again"
    build_multisource(SOURCES, again, root, seed=0, progress=False, log=lambda *a: None)
    assert (again / "manifest.csv").read_text() == (out / "manifest.csv").read_text()


def test_a_list_of_mined_photos_is_a_training_source(built, two_sources, tmp_path):
    """A hard-negative list (`handdet mine`'s images.txt) names photos of another source: they enter training
    again under the list's own name, weighted, while the folder's own split is unchanged."""
    listed = sorted((two_sources / "hand-free" / "rooms").iterdir())[:3]
    lst = tmp_path / "mined.txt"
    lst.write_text("# mined\n" + "".join(f"{p.resolve()}\n" for p in listed))
    sources = [*SOURCES, SourceConfig(str(lst), name="mined", format="images", split={"train": 1.0}, weight=2.0)]
    out = tmp_path / "ds"
    build_multisource(sources, out, two_sources, seed=0, progress=False, log=lambda *a: None)
    rows = read_manifest(out)
    mined = [r for r in rows if r.source == "mined"]
    assert len(mined) == 6 and {r.split for r in mined} == {"train"} and {r.kind for r in mined} == {Kind.BACKGROUND}
    assert collections.Counter(r.group for r in mined) == {p.stem: 2 for p in listed}
    without = read_manifest(built[1])
    assert [r for r in rows if r.source != "mined"] == without, "the other sources' images and splits are unchanged"


def test_select_makes_one_folder_two_sources(two_sources, tmp_path):
    """`select` reads only the photos whose stem matches: one folder's webcam videos trained on, its phone
    photos kept whole for testing, each photo in exactly one of the two."""
    sources = [SourceConfig("hands-v2", name="hv2-video", select=r"-_png", group=HANDS_V2_GROUP,
                            split={"train": 0.5, "val": 0.5}),
               SourceConfig("hands-v2", name="hv2-phone", select=r"^(?!.*-_png)", split={"test": 1.0})]
    out = tmp_path / "ds"
    build_multisource(sources, out, two_sources, seed=0, progress=False, log=lambda *a: None)
    rows = read_manifest(out)
    read = {src: sorted(Path(os.readlink(out / r.image)).stem for r in rows if r.source == src)
            for src in ("hv2-video", "hv2-phone")}
    assert len(read["hv2-video"]) == 12 and all("-_png" in s for s in read["hv2-video"])
    assert len(read["hv2-phone"]) == 12 and all(s.startswith("IMG2022") for s in read["hv2-phone"])
    assert {r.split for r in rows if r.source == "hv2-phone"} == {"test"}
    assert {r.split for r in rows if r.source == "hv2-video"} <= {"train", "val"}
    every = sorted(p.stem for p in (two_sources / "hands-v2" / "images").glob("*.jpg"))
    assert sorted(read["hv2-video"] + read["hv2-phone"]) == every


def test_select_matching_nothing_is_one_clear_error(two_sources, tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(DataError, match=r"hands-v2: source 'hands-v2' has no usable image whose name matches "
                                        r"select 'no-such-photo'"):
        build_multisource([SourceConfig("hands-v2", select="no-such-photo")], out, two_sources, progress=False,
                          log=lambda *a: None)
    assert not out.exists()


@pytest.mark.parametrize("weight,expected", [
    (1.0, {1}),  # every image once
    (2.0, {2}),  # exactly twice
    (0.5, {0, 1}),  # kept or not
    (1.5, {1, 2}),  # once, sometimes twice
])
def test_copies(weight, expected):
    got = [copies(f"img{i}", weight, seed=0) for i in range(200)]
    assert set(got) == expected
    assert abs(sum(got) / len(got) - weight) < 0.15


@pytest.mark.parametrize("sources,error,match", [
    ([], ConfigError, "no sources"),
    ([SourceConfig("hands-v2"), SourceConfig("hands-v2")], ConfigError, "two sources are named 'hands-v2'"),
    ([SourceConfig("nowhere")], DataError, "source 'nowhere' not found"),
])
def test_bad_sources(two_sources, tmp_path, sources, error, match):
    out = tmp_path / "ds"
    with pytest.raises(error, match=match):
        build_multisource(sources, out, two_sources, progress=False, log=lambda *a: None)
    assert not out.exists(), "nothing is left behind"


@pytest.mark.parametrize("kwargs,match", [
    ({"weight": 0}, "weight must be > 0"),
    ({"split": {"holdout": 1}}, "unknown split 'holdout'"),
    ({"split": {"train": 0}}, "one > 0"),
    ({"negatives": 2}, "negatives must be a fraction"),
    ({"select": "(unclosed"}, "select is not a regular expression"),
])
def test_source_config_checks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SourceConfig("x", **kwargs)


def test_config_file_with_sources(tmp_path):
    from handdet.train.config import load_train_config

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("data:\n  sources:\n    - {source: a, weight: 2}\n    - {source: b, format: images, "
                        "split: {test: 1}}\n")
    cfg = load_train_config(cfg_file)
    assert [(s.source, s.format, s.weight, s.split) for s in cfg.data.sources] == [
        ("a", "yolo", 2.0, {"train": 0.8, "val": 0.2}), ("b", "images", 1.0, {"test": 1})]
    cfg_file.write_text("data:\n  sources:\n    - {source: a, wieght: 2}\n")
    with pytest.raises(ConfigError, match="unknown key 'data.sources.wieght'"):
        load_train_config(cfg_file)
