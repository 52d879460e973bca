"""EgoHands reader: real `polygons.mat` struct arrays written by scipy, frames matched by order, video groups."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.formats.egohands import read_egohands

FRAMES = ("frame_0002", "frame_0011", "frame_0100")  # numeric order; entry i is the i-th frame
VIDEO_1 = [
    {"myleft": [[10, 20], [30, 40], [15, 45]], "yourright": [[40, 5], [60, 5], [50, 25]]},
    {},  # no hands in view
    {"myright": [[0, 0], [5, 0], [5, 5], [0, 5]]},
]
VIDEO_2 = [{"myleft": [[0, 0], [32, 24]]}, {"yourleft": [[32, 24], [64, 48]]}, {"myleft": [[8, 8], [24, 32]]}]


def _video(build, root, name, frames, n_images=None):
    folder = root / "_LABELLED_SAMPLES" / name
    for i, stem in enumerate(FRAMES[: len(frames) if n_images is None else n_images]):
        build.make_image(folder / f"{stem}.jpg", (64, 48), seed=i)
    return build.egohands_mat(folder / "polygons.mat", frames)


def _dataset(build, root):
    _video(build, root, "CARDS_COURTYARD_B_T", VIDEO_1)
    _video(build, root, "CARDS_OFFICE_S_B", VIDEO_2)
    (root / "metadata.mat").write_bytes(b"")  # the real archive has one at the top; it is not read


def _lines(build, out, video, frame):
    [label] = list(out.glob(f"labels/*/*{video}__{frame}.txt"))
    return label.parent.name, label.read_text().splitlines()


def test_reader_boxes_and_groups(build, tmp_path):
    _dataset(build, tmp_path / "ego")
    recs = list(read_egohands(tmp_path / "ego"))
    assert [(r.group, r.image_path.stem) for r in recs[:3]] == [("CARDS_COURTYARD_B_T", f) for f in FRAMES]
    assert recs[0].labels == ("myleft", "yourright") and recs[1].labels == () and recs[2].labels == ("myright",)
    np.testing.assert_allclose(recs[0].xyxy, [[10, 20, 30, 45], [40, 5, 60, 25]])
    assert {r.group for r in recs[3:]} == {"CARDS_OFFICE_S_B"}


@pytest.mark.parametrize(
    "scheme, first_frame",
    [
        # (10, 20, 30, 45) and (40, 5, 60, 25) in 64x48
        ("hand", ["0 0.312500 0.677083 0.312500 0.520833", "0 0.781250 0.312500 0.312500 0.416667"]),
        ("sides", ["0 0.312500 0.677083 0.312500 0.520833", "1 0.781250 0.312500 0.312500 0.416667"]),
    ],
)
def test_convert_lines_box_by_box(build, tmp_path, scheme, first_frame):
    _dataset(build, tmp_path / "ego")
    out = tmp_path / "out"
    rep = convert("egohands", tmp_path / "ego", out, scheme=scheme, ratios={"train": 1.0}, progress=False)
    assert _lines(build, out, "CARDS_COURTYARD_B_T", "frame_0002")[1] == first_frame
    assert _lines(build, out, "CARDS_COURTYARD_B_T", "frame_0011")[1] == []
    assert _lines(build, out, "CARDS_COURTYARD_B_T", "frame_0100")[1][0][2:] == "0.039062 0.052083 0.078125 0.104167"
    assert _lines(build, out, "CARDS_OFFICE_S_B", "frame_0011")[1][0][2:] == "0.750000 0.750000 0.500000 0.500000"
    assert rep.images_written == 6 and rep.boxes_written == 6 and rep.warnings == 0


@pytest.mark.parametrize(
    "group, n_groups",
    [
        (None, 2),  # default: the video
        (r"^([A-Z]+)_", 1),  # --group on the video name: both CARDS videos together
        (r"_([A-Z]_[A-Z])$", 2),  # by pair of players
    ],
)
def test_frames_of_a_group_stay_in_one_split(build, tmp_path, group, n_groups):
    _dataset(build, tmp_path / "ego")
    out = tmp_path / "out"
    rep = convert("egohands", tmp_path / "ego", out, group=group, ratios={"train": 0.5, "val": 0.5}, progress=False)
    assert sum(rep.groups_per_split.values()) == n_groups
    for video in ("CARDS_COURTYARD_B_T", "CARDS_OFFICE_S_B"):
        assert len({_lines(build, out, video, f)[0] for f in FRAMES}) == 1


def test_mat_without_polygons(build, tmp_path):
    from scipy.io import savemat

    folder = tmp_path / "ego/_LABELLED_SAMPLES/V"
    build.make_image(folder / "frame_0001.jpg")
    savemat(folder / "polygons.mat", {"boxes": np.zeros((1, 2))})
    with pytest.raises(DataError) as e:
        list(read_egohands(tmp_path / "ego"))
    assert str(e.value) == f"{folder / 'polygons.mat'}: no 'polygons' variable (has: boxes)"


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda p: p.write_bytes(b"not a mat file " * 20), "not a readable MATLAB .mat file"),
        (lambda p: p.write_bytes(b""), "not a readable MATLAB .mat file"),
        ("fields", "missing: yourleft, yourright"),
        ("count", "2 polygon entries but 3 frame_*.jpg files"),
        ("shape", "polygons[0].myleft is a (2, 3) array, not (K, 2)"),
    ],
)
def test_unusable_polygons_mat_is_a_one_line_data_error(build, tmp_path, write, fragment):
    from scipy.io import savemat

    mat = _video(build, tmp_path / "ego", "V", VIDEO_1)
    if write == "fields":
        polys = np.zeros((1, 3), dtype=[("myleft", "O"), ("myright", "O")])
        for i in range(3):
            polys[0, i]["myleft"] = polys[0, i]["myright"] = np.zeros((0, 0))
        savemat(mat, {"polygons": polys})
    elif write == "count":
        build.egohands_mat(mat, VIDEO_1[:2])
    elif write == "shape":
        build.egohands_mat(mat, [{"myleft": [[1, 2, 3], [4, 5, 6]]}, {}, {}])
    else:
        write(mat)
    with pytest.raises(DataError) as e:
        convert("egohands", tmp_path / "ego", tmp_path / "out", progress=False)
    msg = str(e.value)
    assert msg.startswith(str(mat)) and fragment in msg and "\n" not in msg, msg


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_no_dataset(tmp_path, setup):
    if setup == "empty":
        (tmp_path / "ego").mkdir()
    with pytest.raises(DataError, match="polygons.mat"):
        list(read_egohands(tmp_path / "ego"))
