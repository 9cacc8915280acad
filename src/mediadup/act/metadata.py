"""Metadata a duplicate carries and its keeper lacks (capture date, GPS, camera), and copying it
into the keeper without touching a pixel: written to a new file through exiv2 (pyexiv2), or
ExifTool for HEIC/HEIF/AVIF, which exiv2 cannot write; the pixels checked unchanged, the original
kept for undo, the keeper replaced atomically."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from ..find.exact import full_hash
from ..fingerprint.decode import register_plugins
from ..records import Relation
from .actions import Action

MERGE = "merge-metadata"  # the journal's name for a merge into a keeper
GPS_IFD, EXIF_IFD = 0x8825, 0x8769
# what each kind of metadata is: Pillow's tags (to see it), exiv2's keys and ExifTool's tags (to copy it)
KINDS: dict[str, tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]] = {
    "capture date": (
        (36867, 306),
        ("Exif.Photo.DateTimeOriginal", "Exif.Photo.DateTimeDigitized", "Exif.Image.DateTime",
         "Exif.Photo.SubSecTimeOriginal", "Exif.Photo.OffsetTimeOriginal", "Exif.Photo.OffsetTime"),
        ("EXIF:DateTimeOriginal", "EXIF:CreateDate", "EXIF:ModifyDate", "EXIF:SubSecTimeOriginal",
         "EXIF:OffsetTimeOriginal", "EXIF:OffsetTime"),
    ),
    "GPS": ((GPS_IFD,), ("Exif.GPSInfo.",), ("GPS:all",)),
    "camera": (
        (271, 272),
        ("Exif.Image.Make", "Exif.Image.Model", "Exif.Photo.LensMake", "Exif.Photo.LensModel",
         "Exif.Photo.BodySerialNumber"),
        ("EXIF:Make", "EXIF:Model", "EXIF:LensMake", "EXIF:LensModel", "EXIF:SerialNumber"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Merge:
    """Before `source` (a duplicate) goes, copy the `kinds` of metadata it has and `keeper` lacks
    into the keeper; the keeper's original bytes are kept at `backup` for undo."""

    keeper: str
    keeper_size: int
    keeper_mtime_ns: int
    source: str
    source_size: int
    source_mtime_ns: int
    kinds: tuple[str, ...]
    backup: str
    op: ClassVar[str] = MERGE


ISO_MEDIA = (".heic", ".heif", ".hif", ".avif")  # exiv2 reads their metadata but cannot write it


def writer(path: str) -> str | None:
    """What can write metadata into this file here: "exiv2" (pyexiv2), "exiftool", or None."""
    if not path.lower().endswith(ISO_MEDIA) and importlib.util.find_spec("pyexiv2"):
        return "exiv2"
    return "exiftool" if shutil.which("exiftool") else None


def needs(path: str) -> str:
    """What to install to merge metadata into this file."""
    if path.lower().endswith(ISO_MEDIA):
        return "ExifTool (exiftool)"
    return "pyexiv2 (pip install 'mediadup[metadata]') or ExifTool"


class MetadataError(OSError):
    """The metadata cannot be merged; the message says why (the duplicate then stays)."""


def carried(path: str) -> set[str]:
    """The kinds of metadata (KINDS) a picture carries; empty for anything that is not a picture."""
    register_plugins()
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            found = {tag for tag in (271, 272, 306) if exif.get(tag)}
            found |= {tag for tag in (36867,) if exif.get_ifd(EXIF_IFD).get(tag)}
            if exif.get_ifd(GPS_IFD):
                found.add(GPS_IFD)
    except Exception:  # unreadable or not a picture: nothing to merge, never fatal
        return set()
    return {kind for kind, (tags, *_) in KINDS.items() if found & set(tags)}


def lacking(actions: Sequence[Action]) -> dict[int, list[str]]:
    """For each removal (by index) of a picture that carries metadata its keeper lacks: which kinds."""
    seen: dict[str, set[str]] = {}

    def kinds(path: str) -> set[str]:
        if path not in seen:
            seen[path] = carried(path)
        return seen[path]

    out = {}
    for n, a in enumerate(actions):
        if a.relation in (Relation.IDENTICAL, Relation.MOTION):
            continue  # the same bytes carry the same metadata; a motion clip is not a picture
        if missing := [k for k in KINDS if k in kinds(a.path) - kinds(a.keeper)]:
            out[n] = missing
    return out


def with_merges(actions: Sequence[Action], missing: dict[int, list[str]], backups: str) -> list[Action | Merge]:
    """The plan with a merge before each removal that would lose metadata (`missing`, from
    `lacking`); the keepers' original bytes are to be kept under `backups`."""
    out: list[Action | Merge] = []
    stamp = time.time_ns()
    for n, a in enumerate(actions):
        if n in missing:
            backup = os.path.join(backups, f"{stamp}-{n}-{os.path.basename(a.keeper)}")
            out.append(Merge(a.keeper, a.keeper_size, a.keeper_mtime_ns, a.path, a.size, a.mtime_ns,
                             tuple(missing[n]), backup))  # fmt: skip
        out.append(a)
    return out


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _with_exiv2(source: str, target: str, kinds: list[str]) -> None:
    """Through pyexiv2, in memory: any file name works (exiv2 itself wants UTF-8 names)."""
    import pyexiv2

    prefixes = tuple(key for kind in kinds for key in KINDS[kind][1])
    try:
        with open(source, "rb") as f:
            image = pyexiv2.ImageData(f.read())
        try:
            values = {k: v for k, v in image.read_exif().items() if k.startswith(prefixes)}
        finally:
            image.close()
        with open(target, "rb") as f:
            image = pyexiv2.ImageData(f.read())
        try:
            image.modify_exif(values)
            data = image.get_bytes()
        finally:
            image.close()
    except (RuntimeError, ValueError, UnicodeError) as e:
        raise MetadataError(f"exiv2 cannot copy the metadata: {e}") from e
    with open(target, "wb") as f:
        f.write(data)


def _with_exiftool(source: str, target: str, kinds: list[str]) -> None:
    tags = [f"-{tag}".encode() for kind in kinds for tag in KINDS[kind][2]]
    run = subprocess.run([b"exiftool", b"-q", b"-overwrite_original", b"-tagsFromFile", os.fsencode(source), *tags,
                          os.fsencode(target)], capture_output=True)  # fmt: skip
    if run.returncode:
        why = run.stderr.decode("utf-8", "replace").strip() or f"status {run.returncode}"
        raise MetadataError(f"ExifTool cannot copy the metadata: {why}")


def _keep_whole(source: str, target: str) -> None:
    """A complete copy at `target`, or none: written under another name, synced, then renamed."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = target + ".partial"
    shutil.copy2(source, partial)
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)


def merge(m: Merge) -> None:
    """Copy the merge's kinds of metadata from its source into its keeper: a new file beside the
    keeper, checked to carry them with the same pixels, the original kept whole at `m.backup`,
    then renamed over the keeper (which keeps its mtime)."""
    tool = writer(m.keeper)
    if tool is None:
        raise MetadataError(f"writing metadata into this file needs {needs(m.keeper)}")
    kinds = list(m.kinds)
    temporary = os.path.join(os.path.dirname(m.keeper), f".mediadup-merge-{os.getpid()}{os.path.splitext(m.keeper)[1]}")
    try:
        shutil.copy2(m.keeper, temporary)
        (_with_exiv2 if tool == "exiv2" else _with_exiftool)(m.source, temporary, kinds)
        if missing := set(kinds) - carried(temporary):
            raise MetadataError(f"this format did not take the {', '.join(sorted(missing))}")
        if not np.array_equal(_pixels(m.keeper), _pixels(temporary)):
            raise MetadataError("writing the metadata changed the pixels; the keeper is left as it was")
        _keep_whole(m.keeper, m.backup)  # the original, for undo
        st = os.stat(m.keeper)
        os.utime(temporary, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(temporary, m.keeper)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def unmerge(path: str, backup: str | None, size: int, merged: str | None) -> str | None:
    """Put the keeper's original bytes (`size` long) back, unless the keeper changed since the
    merge left it with content hash `merged`; why not, or None when done."""
    if not backup or not os.path.exists(backup) or os.path.getsize(backup) != size:
        return "its original bytes are no longer kept whole"
    if not os.path.exists(path):
        return "the keeper is gone"
    if merged and full_hash(path) != merged:
        return f"the keeper changed since the merge (your version stays; the original is at {backup})"
    temporary = path + ".mediadup-restore"
    try:
        shutil.copy2(backup, temporary)
        os.replace(temporary, path)
        os.unlink(backup)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return str(e.strerror or e)
    return None
