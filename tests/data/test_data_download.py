"""SubhiH fetch and the shared downloader: present data is used as is; no network fails fast with where to
put the data; an archive placed in the data folder is used; damaged zips fail in one line."""

from __future__ import annotations

import time
import zipfile

import pytest

from handdet.core.errors import DataError
from handdet.data.download import (
    SUBHI_COMMIT,
    SUBHI_REPO,
    ensure_subhi,
    github_archive_name,
    open_zip,
    read_member,
    unpack_subhi,
    zip_root,
)


def test_present_data_is_returned(subhi_voc):
    assert ensure_subhi(subhi_voc.parent) == subhi_voc


def test_no_network_fails_fast_with_instructions(tmp_path):
    t = time.perf_counter()
    with pytest.raises(DataError) as e:
        ensure_subhi(tmp_path / "data", progress=False)
    assert time.perf_counter() - t < 5
    msg = str(e.value)
    assert "download failed" in msg and str(tmp_path / "data" / "subhi-hands-voc") in msg and "\n" not in msg
    assert f"save that archive as {tmp_path / 'data' / github_archive_name(SUBHI_REPO, SUBHI_COMMIT)}" in msg
    assert [p.name for p in (tmp_path / "data").iterdir()] == []  # no partial download left


@pytest.mark.parametrize(
    "setup, fragment",
    [("absent", "downloads are off"), ("empty_folder", "holds no train/ or test/")],
)
def test_download_off_or_wrong_folder(tmp_path, setup, fragment):
    if setup == "empty_folder":
        (tmp_path / "subhi-hands-voc").mkdir()
    with pytest.raises(DataError, match=fragment):
        ensure_subhi(tmp_path, allow_download=False)


def _archive(build, path, bad_image=False):
    top = f"HandsDataset-{SUBHI_COMMIT}"
    img = build.make_image(path.parent / "img.jpg", (64, 48)).read_bytes()
    xml = build.voc_text("a.jpg", (64, 48), [build.HAND])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{top}/LICENSE", "Apache")
        z.writestr(f"{top}/data/train_labels.csv", "x")
        z.writestr(f"{top}/images/a.jpg", img)  # root copy: skipped
        z.writestr(f"{top}/images/a.xml", xml)
        for split in ("train", "test"):
            z.writestr(f"{top}/images/{split}/a.jpg", img[: len(img) // 2] if bad_image and split == "test" else img)
            z.writestr(f"{top}/images/{split}/a.xml", xml)
    return path


def test_unpack_keeps_split_copies_only(build, tmp_path):
    out = tmp_path / "out"
    unpack_subhi(_archive(build, tmp_path / "a.zip"), out, min_images=2)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "LICENSE", "test/a.jpg", "test/a.xml", "train/a.jpg", "train/a.xml"]


def test_download_from_url_unpacks(build, tmp_path, monkeypatch):
    import handdet.data.download as dl

    monkeypatch.setattr(dl, "SUBHI_MIN_IMAGES", 2)
    url = _archive(build, tmp_path / "a.zip").as_uri()  # file:// needs no network
    target = ensure_subhi(tmp_path / "data", url=url, progress=False)
    assert target == tmp_path / "data/subhi-hands-voc" and (target / "train/a.xml").is_file()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["subhi-hands-voc"]


@pytest.mark.parametrize("case, fragment", [("bad_image", "truncated"), ("too_few", "only 2 images"),
                                            ("not_zip", "not a zip")])
def test_unpack_rejects_bad_archives_atomically(build, tmp_path, monkeypatch, case, fragment):
    import handdet.data.download as dl

    monkeypatch.setattr(dl, "SUBHI_MIN_IMAGES", 3 if case == "too_few" else 2)
    archive = _archive(build, tmp_path / "a.zip", bad_image=case == "bad_image")
    if case == "not_zip":
        archive.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DataError, match=fragment):
        ensure_subhi(tmp_path / "data", url=archive.as_uri(), progress=False)
    assert [p.name for p in (tmp_path / "data").iterdir()] == []  # nothing half-unpacked


def test_archive_placed_in_data_dir_is_used_without_download(build, tmp_path, monkeypatch):
    import handdet.data.download as dl

    monkeypatch.setattr(dl, "SUBHI_MIN_IMAGES", 2)
    data = tmp_path / "data"
    data.mkdir()
    placed = _archive(build, tmp_path / "a.zip").rename(data / github_archive_name(SUBHI_REPO, SUBHI_COMMIT))
    target = ensure_subhi(data, allow_download=False, progress=False)
    assert (target / "test/a.jpg").is_file()
    assert sorted(p.name for p in data.iterdir()) == sorted([placed.name, "subhi-hands-voc"])  # archive kept


@pytest.mark.parametrize(
    "names, root",
    [
        (["HandsDataset-abc/", "HandsDataset-abc/images/a.jpg"], "HandsDataset-abc"),  # GitHub's layout
        (["images/a.jpg", "labels/a.txt"], ""),  # two top folders: no common root
        (["a.jpg"], ""),  # flat
    ],
)
def test_zip_root(tmp_path, names, root):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        for n in names:
            z.writestr(n, b"")
    with open_zip(tmp_path / "a.zip") as z:
        assert zip_root(z) == root


def test_read_member_damaged_or_missing(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as z:  # stored, so the bytes can be changed in place
        z.writestr("top/a.txt", b"A" * 100)
    path.write_bytes(path.read_bytes().replace(b"A" * 100, b"B" * 100))
    with open_zip(path) as z:
        with pytest.raises(DataError, match=r"a.zip: top/a.txt: damaged data in the archive \(Bad CRC"):
            read_member(z, "top/a.txt", path)
        with pytest.raises(DataError, match="top/b.txt not in the archive"):
            read_member(z, "top/b.txt", path)
