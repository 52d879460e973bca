"""`handdet fetch <source>`: rebuilt from a local archive in each repository's real layout, checked
against the shared copy; broken or incomplete archives and no network fail in one line, leaving nothing.

The archives are built here from a few real photos and labels of `../shared/data`, written the way
each source repository stores them (letter classes, oriented-box corners, polygons, 640 px photos).
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import handdet.data.fetch_sources as fs
from handdet.cli import main
from handdet.core.errors import DataError
from handdet.data.fetch_sources import (
    SOURCES,
    Entry,
    LabelFormat,
    Reencode,
    ensure_source,
    label_boxes,
    read_selection,
    reencode_jpeg,
)


@pytest.fixture(scope="session")
def shared_data(shared_dir) -> Path:
    return shared_dir / "data"


def _read_yolo(path: Path) -> np.ndarray:
    """(N, 5) class, cx, cy, w, h of a YOLO label file."""
    return np.loadtxt(path, ndmin=2).reshape(-1, 5)


def _subset(source, shared_data: Path) -> list[Entry]:
    """A few entries of the real selection: the first two, one with several boxes, and for hand-free
    the first photo of every repository (JPEG, PNG, BMP and .JPEG sources)."""
    entries = read_selection(source)
    if source.labels is LabelFormat.NONE:
        firsts = {e.repo: e for e in reversed(entries)}
        bmp = [e for e in entries if e.path.endswith(".bmp")][:1]
        return [firsts[r.name] for r in source.repos] + bmp
    multi = next((e for e in entries[2:] if len(_read_yolo(shared_data / source.name / e.label_out)) > 1), None)
    return entries[:2] + ([multi] if multi else [])


def _source_label(source, entry: Entry, boxes: np.ndarray) -> str:
    """The label file as the source repository has it, derived from the shared (N, 5) YOLO boxes."""
    lines = []
    for i, (_, cx, cy, w, h) in enumerate(boxes.tolist()):
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if source.labels is LabelFormat.BOX:  # one of 26 letter classes, A = 0
            lines.append(f"{ord(entry.out.split('/')[-1][0].upper()) - ord('A')} {cx!r} {cy!r} {w!r} {h!r}")
        elif source.labels is LabelFormat.OBB:  # Roboflow's corner order: top right, top left, ...
            lines.append(f"0 {x2!r} {y1!r} {x1!r} {y1!r} {x1!r} {y2!r} {x2!r} {y2!r}")
        else:  # a hexagon touching the box on every side; gloved_hand 0, bare_hand 1
            pts = [(x1 + 0.3 * w, y1), (x2, y1 + 0.2 * h), (x2 - 0.1 * w, y2), (x1 + 0.5 * w, y2),
                   (x1, y1 + 0.6 * h), (x1 + 0.1 * w, y1 + 0.1 * h)]
            lines.append(f"{i % 2} " + " ".join(f"{v!r}" for p in pts for v in p))
    return "\n".join(lines) + ("\n" if lines else "")


def _source_photo(source, entry: Entry, shared: Path) -> bytes:
    """The photo as the repository has it: the stored bytes where they were copied; else the stored
    photo enlarged back (gloves: Roboflow's 640x640; hand-free: twice a 640 px photo) in the format
    the repository path names."""
    if source.reencode is None:
        return shared.read_bytes()
    from PIL import Image

    im = Image.open(shared).convert("RGB")
    if source.reencode.size_wh:
        im = im.resize((640, 640), Image.Resampling.BICUBIC)
    elif max(im.size) == source.reencode.max_side:
        im = im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC)
    fmt = {".png": "PNG", ".bmp": "BMP"}.get(Path(entry.path).suffix.lower(), "JPEG")
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _archives(source, entries, shared_data, folder: Path, drop: str | None = None,
              damage: str | None = None, replace: dict[str, str] | None = None) -> dict[str, str]:
    """One zip per repository in GitHub's layout (`<name>-<commit>/<path>`); returns repo -> file:// URL.
    `drop` leaves that repository path out; `damage` cuts that photo in half; `replace` gives files
    other contents."""
    urls = {}
    for repo in source.repos:
        path = folder / repo.archive
        top = repo.archive.removesuffix(".zip")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{top}/", b"")
            z.writestr(f"{top}/README.md", "a repository")
            for e in (e for e in entries if e.repo == repo.name):
                photo = _source_photo(source, e, shared_data / source.name / e.out)
                files = {e.path: photo[: len(photo) // 2] if e.path == damage else photo}
                if source.labelled:
                    files[e.label_path] = _source_label(source, e, _read_yolo(shared_data / source.name / e.label_out))
                files.update({p: v for p, v in (replace or {}).items() if p in files})
                for p, data in files.items():
                    if p != drop:
                        z.writestr(f"{top}/{p}", data)
        urls[repo.name] = path.as_uri()
    return urls


@pytest.fixture
def subset(monkeypatch, shared_data):
    """Make every selection a few real entries; returns name -> entries."""
    chosen = {name: _subset(s, shared_data) for name, s in SOURCES.items()}
    monkeypatch.setattr(fs, "read_selection", lambda source: chosen[source.name])
    return chosen


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", list(SOURCES))
def test_rebuilt_source_equals_the_shared_copy(name, subset, shared_data, tmp_path):
    from PIL import Image

    source, entries = SOURCES[name], subset[name]
    urls = _archives(source, entries, shared_data, tmp_path)
    target = ensure_source(name, tmp_path / "data", urls=urls, progress=False)
    assert target == tmp_path / "data" / name
    labelled = source.labelled
    expected = [p for e in entries for p in ((e.out, e.label_out) if labelled else (e.out,))]
    assert _files(target) == sorted([*expected, fs.SELECTION_NAME])
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [name]  # no temporary folders left
    for e in entries:
        ours, stored = target / e.out, shared_data / name / e.out
        if labelled:
            got, want = _read_yolo(target / e.label_out), _read_yolo(shared_data / name / e.label_out)
            assert got.shape == want.shape and (got[:, 0] == 0).all(), e.out
            np.testing.assert_allclose(got, want, atol=1e-4, err_msg=e.out)
        if source.reencode is None:
            assert ours.read_bytes() == stored.read_bytes()  # copied byte for byte
        else:
            a, b = Image.open(ours), Image.open(stored)
            assert a.format == "JPEG" and a.mode == "RGB" and a.size == b.size, e.out
            diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean()
            assert diff < 2.5, f"{e.out}: mean difference {diff:.1f} grey levels"


@pytest.mark.parametrize(
    "name, case, fragment",
    [
        ("asl-letters", "missing_photo", "listed files missing from the archive (first: "),  # a listed photo absent
        ("hands-v2", "missing_label", "listed files missing from the archive (first: "),  # its label absent
        ("hand-free", "missing_photo", "listed files missing from the archive (first: "),  # one of 5 archives
        ("gloves-ppe", "truncated_zip", "not a zip archive"),  # a download cut short
        ("asl-letters", "truncated_photo", "truncated"),  # a photo copied as is that does not decode
        ("gloves-ppe", "truncated_photo", "cannot decode"),  # a photo re-encoded that does not decode
        ("hands-v2", "bad_label", "numbers, expected class and 4 corners"),  # a box line in an OBB source
    ],
)
def test_bad_archive_fails_in_one_line_leaving_nothing(name, case, fragment, subset, shared_data, tmp_path):
    source, entries = SOURCES[name], subset[name]
    victim = entries[-1]
    drop = victim.label_path if case == "missing_label" else victim.path if case == "missing_photo" else None
    urls = _archives(source, entries, shared_data, tmp_path, drop=drop,
                     damage=victim.path if case == "truncated_photo" else None,
                     replace={victim.label_path: "0 0.5 0.5 0.2 0.2\n"} if case == "bad_label" else None)
    if case == "truncated_zip":
        archive = tmp_path / source.repo(victim.repo).archive
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError) as e:
        ensure_source(name, tmp_path / "data", urls=urls, progress=False)
    msg = str(e.value)
    assert fragment in msg and "\n" not in msg, msg
    if case.startswith("missing"):
        assert msg.startswith(urls[victim.repo]) and msg.endswith(f"(first: {drop})")
    assert list((tmp_path / "data").iterdir()) == []  # no partial folder, no temporary download


def test_no_network_fails_fast_saying_what_to_place_where(tmp_path):
    t = time.perf_counter()
    with pytest.raises(DataError) as e:
        ensure_source("hands-v2", tmp_path / "data", progress=False)
    assert time.perf_counter() - t < 5
    msg, repo = str(e.value), SOURCES["hands-v2"].repos[0]
    assert "download failed" in msg and "\n" not in msg
    assert str(tmp_path / "data" / "hands-v2") in msg and f"{repo.url} as {tmp_path / 'data' / repo.archive}" in msg
    assert list((tmp_path / "data").iterdir()) == []


def test_cli_no_download_says_what_to_place_where(tmp_path, capsys):
    assert main(["fetch", "hand-free", "--data-dir", str(tmp_path / "data"), "--no-download"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("handdet:")]
    assert len(err) == 1 and "downloads are off" in err[0], err
    assert f"place the dataset at {tmp_path / 'data' / 'hand-free'}" in err[0]
    for repo in SOURCES["hand-free"].repos:  # every archive, and where to save it
        assert f"{repo.url} as {tmp_path / 'data' / repo.archive}" in err[0]
    assert not (tmp_path / "data" / "hand-free").exists()


def test_cli_builds_from_archive_placed_in_data_dir(subset, shared_data, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    _archives(SOURCES["asl-letters"], subset["asl-letters"], shared_data, data)
    argv = ["fetch", "asl-letters", "--data-dir", str(data), "--no-download"]
    assert main(argv) == 0
    assert f"asl-letters: {len(subset['asl-letters'])} images at {data / 'asl-letters'}" in capsys.readouterr().out
    assert (data / SOURCES["asl-letters"].repos[0].archive).is_file()  # the user's archive is kept
    assert main(argv) == 0  # present now: used as is


@pytest.mark.parametrize("name", list(SOURCES))
def test_present_shared_copy_is_used_as_is(name, shared_data):
    assert ensure_source(name, shared_data, allow_download=False) == shared_data / name


def test_incomplete_folder_is_not_taken_for_the_source(subset, tmp_path):
    (tmp_path / "hands-v2" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match=r"lacks \d+ files of the selection \(first: images/.*remove the folder"):
        ensure_source("hands-v2", tmp_path, allow_download=False)


def test_cli_offers_every_fetchable_dataset():
    from handdet.cli.data_cmds import FetchDataset

    assert [d.value for d in FetchDataset if d is not FetchDataset.ALL] == list(fs.FETCHABLE)


def test_unknown_source():
    with pytest.raises(DataError, match="unknown source.*known: subhi, asl-letters"):
        ensure_source("egohands", "data")


def test_packaged_selections_match_the_readmes():
    counts = {name: len(read_selection(s)) for name, s in SOURCES.items()}
    assert counts == {"asl-letters": 702, "hands-v2": 478, "gloves-ppe": 1821, "hand-free": 1187}
    free = read_selection(SOURCES["hand-free"])
    assert {e.repo for e in free} == {r.name for r in SOURCES["hand-free"].repos}
    assert len({e.out for e in free}) == len(free)


@pytest.mark.parametrize(
    "fmt, text, want",
    [
        (LabelFormat.BOX, "", np.zeros((0, 4))),  # empty file: a photo without boxes
        (LabelFormat.BOX, "17 0.5 0.4 0.2 0.1\n", [[0.5, 0.4, 0.2, 0.1]]),  # letter class dropped
        (LabelFormat.OBB, "0 0.7 0.2 0.3 0.2 0.3 0.6 0.7 0.6", [[0.5, 0.4, 0.4, 0.4]]),  # upright corners
        (LabelFormat.OBB, "0 0.5 0.1 0.9 0.5 0.5 0.9 0.1 0.5", [[0.5, 0.5, 0.8, 0.8]]),  # turned 45°: extremes
        (LabelFormat.POLYGON, "1 0.1 0.2 0.3 0.2 0.2 0.6\n0 0.1 0.1 0.3 0.3 0.2 0.5",
         [[0.2, 0.4, 0.2, 0.4], [0.2, 0.3, 0.2, 0.4]]),  # two polygons, both classes
        (LabelFormat.POLYGON, "0 -0.1 0.5 0.5 0.5 0.4 1.2", [[0.25, 0.75, 0.5, 0.5]]),  # clipped to the image
        (LabelFormat.POLYGON, "1 0.5 0.5 0.2 0.2", [[0.5, 0.5, 0.2, 0.2]]),  # a box line in a polygon file
    ],
)
def test_label_boxes(fmt, text, want):
    np.testing.assert_allclose(label_boxes(text, fmt), np.asarray(want, float).reshape(-1, 4), atol=1e-12)


@pytest.mark.parametrize(
    "fmt, text, fragment",
    [
        (LabelFormat.BOX, "0 0.5 0.5 0.2", "line 1: 4 numbers, expected class cx cy w h"),  # too few
        (LabelFormat.OBB, "0 0.5 0.5 0.2 0.2", "expected class and 4 corners"),  # a box in an OBB file
        (LabelFormat.POLYGON, "0 0.1 0.1 0.2", "expected class and 3 or more points"),  # odd coordinates
        (LabelFormat.BOX, "\nhand 0.5 0.5 0.2 0.2", "line 2: not numbers"),  # a class name
        (LabelFormat.BOX, "-1 0.5 0.5 0.2 0.2", "class index"),  # negative class
        (LabelFormat.BOX, "0 nan 0.5 0.2 0.2", "finite"),  # NaN
        (LabelFormat.POLYGON, "0 0.2 0.2 0.2 0.2 0.2 0.2", "empty box"),  # all points on one spot
    ],
)
def test_label_boxes_rejects(fmt, text, fragment):
    with pytest.raises(ValueError, match=fragment):
        label_boxes(text, fmt)


@pytest.mark.parametrize(
    "wh, mode, fmt, spec, want",
    [
        ((1280, 720), "RGB", "JPEG", Reencode(quality=92, max_side=640), (640, 360)),  # longer side to 640
        ((300, 900), "L", "PNG", Reencode(quality=92, max_side=640), (213, 640)),  # grey PNG, portrait
        ((500, 375), "RGBA", "PNG", Reencode(quality=92, max_side=640), (500, 375)),  # small: size kept
        ((640, 640), "RGB", "BMP", Reencode(quality=80, size_wh=(416, 416)), (416, 416)),  # fixed size
    ],
)
def test_reencode_jpeg(wh, mode, fmt, spec, want):
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, wh).save(buf, fmt)
    im = Image.open(io.BytesIO(reencode_jpeg(buf.getvalue(), spec)))
    assert (im.format, im.mode, im.size) == ("JPEG", "RGB", want)


def test_reencode_jpeg_keeps_the_quality_of_the_stored_copies(shared_data):
    from PIL import Image

    stored = next((shared_data / "gloves-ppe" / "images").glob("*.jpg"))
    ours = Image.open(io.BytesIO(reencode_jpeg(stored.read_bytes(), SOURCES["gloves-ppe"].reencode)))
    assert ours.quantization == Image.open(stored).quantization  # quality 80


def test_reencode_jpeg_rejects_undecodable():
    with pytest.raises(ValueError, match="cannot decode"):
        reencode_jpeg(b"<html>not found</html>", Reencode(quality=80))
