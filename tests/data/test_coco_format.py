"""COCO JSON reader + converter: real COCO fields, checked box by box against hand-computed YOLO lines."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.coco import find_image_root, read_coco, split_from_name

CATEGORIES = [{"id": 1, "name": "hand", "supercategory": "person"}, {"id": 2, "name": "face", "supercategory": "person"}]


def _coco(build, src, json_rel="annotations/instances_train.json", image_dir="train"):
    """a.jpg 200x100: a float box, a crowd box, a box over the edge; b.jpg 64x48: a face; c.jpg: no boxes."""
    for name, wh, seed in (("a.jpg", (200, 100), 1), ("b.jpg", (64, 48), 2), ("c.jpg", (64, 48), 3)):
        build.make_image(src / image_dir / name, wh, seed=seed)
    images = [{"id": 7, "file_name": "a.jpg", "width": 200, "height": 100, "license": 1},
              {"id": 8, "file_name": "b.jpg", "width": 64, "height": 48},
              {"id": 9, "file_name": "c.jpg", "width": 64, "height": 48}]
    anns = [
        {"id": 1, "image_id": 7, "category_id": 1, "bbox": [20.5, 10.25, 40, 40], "area": 1600, "iscrowd": 0},
        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [100, 10, 20, 20], "area": 400, "iscrowd": 1,
         "segmentation": {"counts": [0, 10], "size": [100, 200]}},
        {"id": 3, "image_id": 7, "category_id": 1, "bbox": [150, -10, 80, 50], "area": 4000, "iscrowd": 0},
        {"id": 4, "image_id": 8, "category_id": 2, "bbox": [8, 8, 16, 24], "area": 384, "iscrowd": 0},
    ]
    return build.write_json(src / json_rel, {"info": {}, "images": images, "annotations": anns,
                                             "categories": CATEGORIES})


def test_reader_fields(build, tmp_path):
    _coco(build, tmp_path / "src")
    recs = list(read_coco(tmp_path / "src"))
    assert [r.image_path.name for r in recs] == ["a.jpg", "b.jpg", "c.jpg"]
    a = recs[0]
    assert a.labels == ("hand", "hand", "hand") and a.resolution_wh == (200, 100) and a.source_split == "train"
    np.testing.assert_allclose(a.xyxy, [[20.5, 10.25, 60.5, 50.25], [100, 10, 120, 30], [150, -10, 230, 40]])
    np.testing.assert_array_equal(a.ignore, [False, True, False])
    assert recs[1].labels == ("face",) and len(recs[2]) == 0


def test_convert_lines_box_by_box(build, tmp_path):
    _coco(build, tmp_path / "src")
    out = tmp_path / "out"
    rep = convert("coco", tmp_path / "src/annotations/instances_train.json", out,
                  class_map={"hand": "hand", "face": "face"}, ratios={"train": 1.0}, progress=False)
    # a: (20.5+60.5)/2/200, (10.25+50.25)/2/100, 40/200, 40/100; crowd box left out; clipped to (150, 0, 200, 40)
    assert build.yolo_lines(out, "train", "a") == ["0 0.202500 0.302500 0.200000 0.400000",
                                                   "0 0.875000 0.200000 0.250000 0.400000"]
    # b: (8, 8, 24, 32) in 64x48: 16/64, 20/48, 16/64, 24/48
    assert build.yolo_lines(out, "train", "b") == ["1 0.250000 0.416667 0.250000 0.500000"]
    assert build.yolo_lines(out, "train", "c") == []  # an image without annotations stays, without hands
    assert rep.names == ["hand", "face"]
    assert rep.problem_counts() == {"box_clipped": 1, "ignored_box": 1}
    assert (rep.boxes_in, rep.boxes_written, rep.boxes_ignored) == (4, 3, 1)


@pytest.mark.parametrize(
    "class_map, names, b_lines",
    [
        (None, ["hand"], ["0 0.250000 0.416667 0.250000 0.500000"]),  # default: every category -> hand
        ("hand=hand,face=-", ["hand"], []),  # categories dropped on purpose
        ({"face": "face", "hand": "hand"}, ["face", "hand"], ["0 0.250000 0.416667 0.250000 0.500000"]),
    ],
)
def test_category_names_go_through_the_class_map(build, tmp_path, class_map, names, b_lines):
    _coco(build, tmp_path / "src")
    rep = convert("coco", tmp_path / "src", tmp_path / "out", class_map=class_map, ratios={"train": 1.0}, progress=False)
    assert rep.names == names and build.yolo_lines(tmp_path / "out", "train", "b") == b_lines


@pytest.mark.parametrize(
    "json_rel, image_dir",
    [
        ("annotations/instances_train.json", "train"),  # images in a sibling folder named by split
        ("labels.json", "."),  # images beside the JSON
        ("annotations/instances_val2017.json", "images/val2017"),  # two levels below the parent
        ("coco/annotations/person_keypoints_val2017.json", "coco/val2017"),
    ],
)
def test_image_folder_is_found(build, tmp_path, json_rel, image_dir):
    path = _coco(build, tmp_path / "src", json_rel, image_dir)
    assert find_image_root(path, ["a.jpg"]).resolve() == (tmp_path / "src" / image_dir).resolve()
    rep = convert("coco", path, tmp_path / "out", progress=False)
    assert rep.images_written == 3 and rep.problem_counts() == {"box_clipped": 1, "ignored_box": 1}


def test_folder_of_jsons_keeps_their_splits(build, tmp_path):
    _coco(build, tmp_path / "src", "annotations/instances_train.json", "train")
    _coco(build, tmp_path / "src", "annotations/instances_val.json", "val")
    rep = convert("coco", tmp_path / "src/annotations", tmp_path / "out", keep_splits=True, progress=False)
    assert rep.split_sizes == {"train": 3, "val": 3}


@pytest.mark.parametrize(
    "name, split",
    [("instances_train2017", "train"), ("person_keypoints_val2017", "val"), ("image_info_test-dev2017", "test"),
     ("ann_train_val", "train"), ("coco_wholebody_val_v1.0", "val"), ("labels", None), ("trainval", "train")],
)
def test_split_from_name(name, split):
    assert split_from_name(name) == split


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: "{\"images\": [", "not valid JSON"),
        (lambda d: [d], "top level is not an object"),
        (lambda d: {**d, "images": "a.jpg"}, "no 'images' list"),
        (lambda d: {k: v for k, v in d.items() if k != "annotations"}, "no 'annotations' list"),
        (lambda d: {k: v for k, v in d.items() if k != "categories"}, "no 'categories' list"),
        (lambda d: {**d, "categories": [{"id": 1}]}, "categories[0] lacks 'id' or 'name'"),
        (lambda d: {**d, "images": [{"id": 7, "width": 200}]}, "images[0] lacks 'id' or 'file_name'"),
        (lambda d: {**d, "annotations": [{"image_id": 7, "category_id": 1}]}, "annotations[0] lacks 'bbox'"),
        (lambda d: {**d, "annotations": [{"bbox": [1, 2, 3, 4], "category_id": 1}]}, "annotations[0] lacks 'image_id'"),
        (lambda d: {**d, "annotations": [{"image_id": 7, "category_id": 1, "bbox": [1, 2, 3]}]}, "not four numbers"),
        (lambda d: {**d, "annotations": [{"image_id": 7, "category_id": 1, "bbox": [1, "2", 3, 4]}]}, "not four numbers"),
        (lambda d: {**d, "annotations": [{"image_id": 7, "category_id": 9, "bbox": [1, 2, 3, 4]}]},
         "category_id 9, not in 'categories'"),
        (lambda d: {**d, "annotations": [{"image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4]}]},
         "image_id 5, not in 'images'"),
    ],
)
def test_malformed_json_is_a_one_line_data_error(build, tmp_path, mutate, fragment):
    import json

    path = _coco(build, tmp_path / "src")
    bad = mutate(json.loads(path.read_text()))
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(DataError) as e:
        convert("coco", path, tmp_path / "out", progress=False)
    msg = str(e.value)
    assert msg.startswith(str(path)) and fragment in msg and "\n" not in msg, msg
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setup, fragment", [("missing", "not found"), ("empty", "no COCO .json files")])
def test_no_dataset(tmp_path, setup, fragment):
    if setup == "empty":
        (tmp_path / "src").mkdir()
    with pytest.raises(DataError, match=fragment):
        list(read_coco(tmp_path / "src"))


def test_file_names_escaping_the_image_folder_are_refused(build, tmp_path):
    build.write_json(tmp_path / "src/x.json", {"images": [{"id": 1, "file_name": "../../etc/passwd"}],
                                               "annotations": [], "categories": []})
    with pytest.raises(DataError, match="outside the dataset folder"):
        list(read_coco(tmp_path / "src"))


def test_missing_images_are_reported(build, tmp_path):
    path = _coco(build, tmp_path / "src")
    (tmp_path / "src/train/b.jpg").unlink()
    rep = convert("coco", path, tmp_path / "out", progress=False)
    assert rep.problem_counts().get("missing_image") == 1 and rep.images_written == 2
