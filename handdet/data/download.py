"""Get public datasets once: download a GitHub archive (or use one placed in the data folder), read
its zip and unpack it atomically. Also the SubhiH hands dataset (Pascal VOC, Apache-2.0) on top.

    handdet fetch subhi --data-dir data

The SubhiH archive stores every image twice (`images/*.jpg` and `images/{train,test}/*.jpg`); only
the split copies are kept, as in `../shared/data/subhi-hands-voc`. Files are checked (every image
decodes, every XML parses and has its image) before the folder appears, atomically. The other
training sources (selections of files from other repositories) are in `handdet.data.fetch_sources`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError, one_line

CONNECT_TIMEOUT_S = 10.0  # (float) connect and per-read timeout: no network fails in seconds, never hangs

SUBHI_NAME = "subhi-hands-voc"
SUBHI_REPO = "SubhiH/HandsDataset"
SUBHI_COMMIT = "73228cb5ba6a8d454663aa9873157862b69a1c4c"
SUBHI_SPLITS = ("train", "test")
SUBHI_MIN_IMAGES = 1500  # the commit has 1,557 split images; fewer means a broken download
# Group key of a SubhiH file stem: the webcam sequence. Files named plain `picNNNNN` are one
# sequence too (they would each be their own group with `^(.+)_pic`).
SUBHI_GROUP = r"^(.*?)_?pic\d+$"


def github_archive_url(repo: str, commit: str) -> str:
    """The zip of `repo` ("owner/name") at `commit`, as GitHub serves it."""
    return f"https://github.com/{repo}/archive/{commit}.zip"


def github_archive_name(repo: str, commit: str) -> str:
    """The file name GitHub gives that zip (`name-commit.zip`), also its top folder plus `.zip`."""
    return f"{repo.split('/')[-1]}-{commit}.zip"


SUBHI_URL = github_archive_url(SUBHI_REPO, SUBHI_COMMIT)


def download(url: str, dst: Path, progress: bool = True, where: str = "") -> None:
    """Stream `url` into `dst` with a progress bar.

    Raises:
        DataError: on any failure (no network, timeout, HTTP error), in one line ending with `where`.
    """
    import urllib.request

    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as r, open(dst, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {Path(url).name}",
                      disable=not progress, leave=False) as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
    except Exception as e:  # URLError, timeouts, blocked sockets: all mean "no data from there"
        reason = one_line(getattr(e, "reason", None) or e)
        raise DataError(f"{url}: download failed ({type(e).__name__}: {reason}); {where}") from None


@contextlib.contextmanager
def archive_file(url: str, data_dir: Path, name: str, allow_download: bool = True, progress: bool = True,
                 where: str = "") -> Iterator[Path]:
    """Yield the archive of `url` as a local file: `data_dir/name` when the user placed it there (kept),
    else a download into a temporary folder in `data_dir` (removed afterwards).

    Raises:
        DataError: when the archive is not there and cannot be downloaded, ending with `where`.
    """
    placed = data_dir / name
    if placed.is_file():
        yield placed
        return
    if not allow_download:
        raise DataError(f"{placed}: archive not found and downloads are off; {where}")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-dl-", dir=data_dir) as tmp:
        dst = Path(tmp) / name
        download(url, dst, progress, where)
        yield dst


def open_zip(archive: Path) -> zipfile.ZipFile:
    """Open a zip archive.

    Raises:
        DataError: naming the archive, when it is not a zip (an HTML error page, a cut download).
    """
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise DataError(f"{archive}: not a zip archive (download incomplete?)") from None


def zip_root(zf: zipfile.ZipFile) -> str:
    """The one top folder of a GitHub archive (`name-commit`), or '' when the members have none."""
    tops = {n.split("/", 1)[0] for n in zf.namelist() if "/" in n}
    return tops.pop() if len(tops) == 1 else ""


def read_member(zf: zipfile.ZipFile, name: str, archive: str | os.PathLike) -> bytes:
    """The bytes of one member.

    Raises:
        DataError: naming the archive and member, when it is missing or its data is damaged.
    """
    try:
        return zf.read(name)
    except KeyError:
        raise DataError(f"{archive}: {name} not in the archive") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise DataError(f"{archive}: {name}: damaged data in the archive ({e})") from None


def has_voc(folder: Path) -> bool:
    """True if `folder` has split folders holding at least one .xml and one .jpg."""
    for split in SUBHI_SPLITS:
        d = folder / split
        if d.is_dir() and next(d.glob("*.xml"), None) is not None and next(d.glob("*.jpg"), None) is not None:
            return True
    return False


def ensure_subhi(
    data_dir: str | os.PathLike, allow_download: bool = True, url: str = SUBHI_URL, progress: bool = True
) -> Path:
    """Return `data_dir/subhi-hands-voc`, unpacking it first if it is not there: from the GitHub archive
    placed in `data_dir`, else downloaded from `url`.

    Raises:
        DataError: when the data is absent and cannot be downloaded (no network, download off,
            bad archive), saying which folder to put the data in.
    """
    data_dir = Path(data_dir)
    target = data_dir / SUBHI_NAME
    if has_voc(target):
        return target
    archive = github_archive_name(SUBHI_REPO, SUBHI_COMMIT)
    where = (f"place the dataset at {target} (train/ and test/ folders of .jpg + .xml, e.g. a copy of "
             f"../shared/data/{SUBHI_NAME}, or images/train and images/test of {SUBHI_URL}), "
             f"or save that archive as {data_dir / archive}")
    if target.exists():
        raise DataError(f"{target}: exists but holds no train/ or test/ folder of .jpg + .xml; {where}")
    if not allow_download and not (data_dir / archive).is_file():
        raise DataError(f"{target}: SubhiH dataset not found and downloads are off; {where}")
    with atomic_dir(target) as out, archive_file(url, data_dir, archive, allow_download, progress, where) as path:
        unpack_subhi(path, out)
    return target


def unpack_subhi(archive: Path, out: Path, min_images: int | None = None) -> None:
    """Extract `*/images/{train,test}/*.{jpg,xml}` (and LICENSE) of the archive into `out/{train,test}/`,
    then check that every image decodes and every XML has its image.

    Raises:
        DataError: for a file that is not a zip, too few images, or a file that fails its check.
    """
    from handdet.data.formats.voc import parse_voc_xml
    from handdet.data.records import Problem
    from handdet.data.validate import check_image

    n_images = 0
    with open_zip(archive) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.is_dir() or len(parts) < 2:
                continue
            if len(parts) == 2 and parts[1].upper().startswith("LICENSE"):
                dst = out / "LICENSE"
            elif len(parts) == 4 and parts[1] == "images" and parts[2] in SUBHI_SPLITS \
                    and Path(parts[3]).suffix.lower() in (".jpg", ".xml") and not parts[3].startswith("."):
                dst = out / parts[2] / parts[3]
                n_images += parts[3].lower().endswith(".jpg")
            else:
                continue  # the root copies of the images, CSVs, samples
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(read_member(zf, info.filename, archive))
    min_images = SUBHI_MIN_IMAGES if min_images is None else min_images
    if n_images < min_images:
        raise DataError(f"{archive}: only {n_images} images under images/train and images/test "
                        f"(expected at least {min_images}); not the SubhiH archive?")
    for xml in sorted(out.rglob("*.xml")):
        item = parse_voc_xml(xml, out)
        if isinstance(item, Problem):
            raise DataError(str(item))
    for img in sorted(out.rglob("*.jpg")):
        size, problems = check_image(img)
        if size is None:
            raise DataError(str(problems[0]))
