"""`handdet convert --scheme | stats | merge` through `handdet.cli.main`: exit codes, one-line errors, summaries."""

from __future__ import annotations

import pytest

from handdet.cli import main


@pytest.fixture
def yolo(build, tmp_path):
    """A converted two-image dataset."""
    build.write_voc(tmp_path / "voc", "a", (64, 48), [build.HAND, {"name": "hand", "box": (40, 20, 60, 40)}])
    build.write_voc(tmp_path / "voc", "b", (64, 48), [])
    assert main(["convert", "voc", str(tmp_path / "voc"), str(tmp_path / "yolo"), "--split", "train=1"]) == 0
    return tmp_path / "yolo"


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("handdet:")]
    assert len(err) == 1 and err[0].startswith("handdet: error: "), err
    return err[0]


def test_stats(yolo, tmp_path, capsys):
    capsys.readouterr()
    assert main(["stats", str(yolo), "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split()[:3] == ["split", "images", "boxes"] and out[1].split()[:3] == ["train", "2", "2"]
    # data.yaml of a train-only dataset says `val: images/train`; stats shows what data.yaml says
    assert out[-1] == f"stats: 2 images, 2 boxes, 1 class (train 2 / val 2); plots → {tmp_path / 'plots'}"
    assert (tmp_path / "plots/samples.jpg").is_file()
    assert main(["stats", str(yolo / "data.yaml")]) == 0  # without --out: numbers only
    assert capsys.readouterr().out.strip().splitlines()[-1] == "stats: 2 images, 2 boxes, 1 class (train 2 / val 2)"


def test_merge(build, yolo, tmp_path, capsys):
    assert main(["convert", "voc", str(tmp_path / "voc"), str(tmp_path / "yolo2"), "--split", "train=1",
                 "--classes", "hand=palm"]) == 0
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "m"), str(yolo), str(tmp_path / "yolo2"), "--classes", "palm=hand"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"merged 2 datasets (4 images, 4 boxes; classes: hand) → {tmp_path / 'm'}: train 4"


def test_convert_scheme_sides(build, tmp_path, capsys):
    folder = tmp_path / "ego/_LABELLED_SAMPLES/V"
    build.make_image(folder / "frame_0001.jpg")
    build.egohands_mat(folder / "polygons.mat", [{"myleft": [[1, 1], [9, 9]], "yourright": [[20, 20], [30, 30]]}])
    assert main(["convert", "egohands", str(tmp_path / "ego"), str(tmp_path / "out"), "--scheme", "sides"]) == 0
    assert "0: left_hand\n  1: right_hand" in (tmp_path / "out/data.yaml").read_text()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["convert", "labelme", "{tmp}/voc", "{tmp}/o", "--scheme", "sides"],
         "--scheme sides: format 'labelme' has no left/right hand labels "
         "(formats with sides: voc, coco-wholebody, egohands, hagrid)"),
        (["convert", "nope", "{tmp}/voc", "{tmp}/o"],
         "(known: voc, yolo, coco, coco-wholebody, egohands, oxford, hagrid, labelme, images)"),
        (["convert", "coco", "{tmp}/voc", "{tmp}/o"], "no COCO .json files found"),
        (["stats", "{tmp}/nothing"], "data.yaml not found"),
        (["stats", "{tmp}/yolo", "--out", "{tmp}/yolo"], "not a stats folder"),
        (["merge", "{tmp}/o", "{tmp}/yolo", "{tmp}/nothing"], "data.yaml not found"),
        (["merge", "{tmp}/yolo/sub", "{tmp}/yolo"], "must not overlap"),
    ],
)
def test_errors_are_one_line(yolo, tmp_path, capsys, args, fragment):
    capsys.readouterr()
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    assert fragment in _one_error_line(capsys)
    assert not (tmp_path / "o").exists() and (yolo / "data.yaml").is_file()

