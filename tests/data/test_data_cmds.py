"""`handdet synth | convert | fetch` through `handdet.cli.main`: exit codes, one-line errors, summaries."""

from __future__ import annotations

import pytest

from handdet.cli import main


def test_synth_then_convert(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "voc"), "--n", "6", "--size", "64", "--seed", "1"]) == 0
    assert "wrote 6 synthetic images" in capsys.readouterr().out
    rc = main(["convert", "voc", str(tmp_path / "voc"), str(tmp_path / "yolo"), "--split", "train=0.5,val=0.5",
               "--negatives", "0.5", "--strict"])
    out = capsys.readouterr().out
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("converted 6 images (") and "train" in last and "groups" in last
    assert (tmp_path / "yolo/data.yaml").is_file()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["convert", "coco-x", "{src}", "{out}"], "unknown dataset format 'coco-x' (known: voc, yolo,"),
        (["convert", "voc", "{tmp}/missing", "{out}"], "source dataset not found"),
        (["convert", "voc", "{src}", "{src}"], "must not overlap"),
        (["convert", "voc", "{src}", "{out}", "--split", "train=0.8,dev=0.2"], "unknown split 'dev'"),
        (["convert", "voc", "{src}", "{out}", "--classes", "hand"], "expected source=ours"),
        (["convert", "voc", "{src}", "{out}", "--classes", "other=hand", "--strict"], "unknown_class"),
        (["synth", "{out}", "--n", "0"], "synth needs n >= 1"),
        (["convert", "voc", "{src}", "{out}", "--negatives", "1.5"], "must be a fraction in [0, 1]"),
        (["fetch", "subhi", "--data-dir", "{tmp}/data"], "download failed"),
    ],
)
def test_errors_are_one_line(build, tmp_path, capsys, args, fragment):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND])
    argv = [a.format(src=tmp_path / "src", out=tmp_path / "out", tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if line.startswith("handdet:")]
    assert len(err) == 1 and err[0].startswith("handdet: error: ") and fragment in err[0], err
    assert not (tmp_path / "out").exists()


def test_convert_refuses_existing_out_without_overwrite(build, tmp_path, capsys):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND])
    argv = ["convert", "voc", str(tmp_path / "src"), str(tmp_path / "out")]
    assert main(argv) == 0
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--copy"]) == 0


def test_problem_table_printed(build, tmp_path, capsys):
    build.write_voc(tmp_path / "src", "a", objects=[build.HAND, build.HAND])
    assert main(["convert", "voc", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "duplicate_box" in out and "warning" in out and "1 warnings (see table)" in out


def test_fetch_present(subhi_voc, capsys):
    assert main(["fetch", "subhi", "--data-dir", str(subhi_voc.parent)]) == 0
    assert "1557 images" in capsys.readouterr().out
