"""Get the SubhiH hands dataset (Pascal VOC, Apache-2.0): use a local copy, else download it once.

    handdet fetch subhi --data-dir data

The source archive stores every image twice (`images/*.jpg` and `images/{train,test}/*.jpg`); only
the split copies are kept, as in `../shared/data/subhi-hands-voc`. Files are checked (every image
decodes, every XML parses and has its image) before the folder appears, atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError

SUBHI_NAME = "subhi-hands-voc"
SUBHI_COMMIT = "73228cb5ba6a8d454663aa9873157862b69a1c4c"
SUBHI_URL = f"https://github.com/SubhiH/HandsDataset/archive/{SUBHI_COMMIT}.zip"
SUBHI_SPLITS = ("train", "test")
SUBHI_MIN_IMAGES = 1500  # the commit has 1,557 split images; fewer means a broken download
# Group key of a SubhiH file stem: the webcam sequence. Files named plain `picNNNNN` are one
# sequence too (they would each be their own group with `^(.+)_pic`).
SUBHI_GROUP = r"^(.*?)_?pic\d+$"
CONNECT_TIMEOUT_S = 10.0


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
    """Return `data_dir/subhi-hands-voc`, downloading and unpacking it first if it is not there.

    Raises:
        DataError: when the data is absent and cannot be downloaded (no network, download off,
            bad archive), saying which folder to put the data in.
    """
    data_dir = Path(data_dir)
    target = data_dir / SUBHI_NAME
    if has_voc(target):
        return target
    where = (f"place the dataset at {target} (train/ and test/ folders of .jpg + .xml, e.g. a copy of "
             f"../shared/data/{SUBHI_NAME}, or images/train and images/test of {SUBHI_URL})")
    if target.exists():
        raise DataError(f"{target}: exists but holds no train/ or test/ folder of .jpg + .xml; {where}")
    if not allow_download:
        raise DataError(f"{target}: SubhiH dataset not found and downloads are off; {where}")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".subhi-dl-", dir=data_dir) as tmp:
        archive = Path(tmp) / "subhi.zip"
        _download(url, archive, progress, where)
        with atomic_dir(target) as out:
            unpack_subhi(archive, out)
    return target


def _download(url: str, dst: Path, progress: bool, where: str) -> None:
    import urllib.request

    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as r, open(dst, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="download", disable=not progress, leave=False) as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
    except Exception as e:  # URLError, timeouts, blocked sockets: all mean "no data from there"
        reason = getattr(e, "reason", None) or e
        raise DataError(f"{url}: download failed ({type(e).__name__}: {reason}); {where}") from None


def unpack_subhi(archive: Path, out: Path, min_images: int | None = None) -> None:
    """Extract `*/images/{train,test}/*.{jpg,xml}` (and LICENSE) of the archive into `out/{train,test}/`,
    then check that every image decodes and every XML has its image.

    Raises:
        DataError: for a file that is not a zip, too few images, or a file that fails its check.
    """
    from handdet.data.formats.voc import parse_voc_xml
    from handdet.data.records import Problem
    from handdet.data.validate import check_image

    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise DataError(f"{archive}: not a zip archive (download incomplete?)") from None
    n_images = 0
    with zf:
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
            with zf.open(info) as fsrc, open(dst, "wb") as fdst:
                shutil.copyfileobj(fsrc, fdst)
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
