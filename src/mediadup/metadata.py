"""Metadata a duplicate carries and its keeper lacks (capture date, GPS, camera), and copying it
into the keeper without touching a pixel: written to a new file through exiv2 (pyexiv2), the
pixels checked unchanged, the original kept for undo, the keeper replaced atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .decode import register_plugins
from .plan import Action

MERGE = "merge-metadata"  # the journal's name for a merge into a keeper
GPS_IFD, EXIF_IFD = 0x8825, 0x8769
# what each kind of metadata is, in Pillow's tags (to see it) and in exiv2's keys (to copy it)
KINDS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "capture date": (
        (36867, 306),
        ("Exif.Photo.DateTimeOriginal", "Exif.Photo.DateTimeDigitized", "Exif.Image.DateTime",
         "Exif.Photo.SubSecTimeOriginal", "Exif.Photo.OffsetTimeOriginal", "Exif.Photo.OffsetTime"),
    ),
    "GPS": ((GPS_IFD,), ("Exif.GPSInfo.",)),
    "camera": (
        (271, 272),
        ("Exif.Image.Make", "Exif.Image.Model", "Exif.Photo.LensMake", "Exif.Photo.LensModel",
         "Exif.Photo.BodySerialNumber"),
    ),
}  # fmt: skip


UNWRITABLE = (".heic", ".heif", ".avif", ".cr3")  # ISO media files: exiv2 reads their metadata but cannot write it


def writable(path: str) -> bool:
    """Whether merging can write metadata into this file."""
    return not path.lower().endswith(UNWRITABLE)


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
    return {kind for kind, (tags, _) in KINDS.items() if found & set(tags)}


def lacking(actions: Sequence[Action]) -> dict[int, list[str]]:
    """For each removal (by index) of a picture that carries metadata its keeper lacks: which kinds."""
    seen: dict[str, set[str]] = {}

    def kinds(path: str) -> set[str]:
        if path not in seen:
            seen[path] = carried(path)
        return seen[path]

    out = {}
    for n, a in enumerate(actions):
        if a.relation in ("identical", "motion", "metadata") or a.op == MERGE:
            continue  # the same bytes carry the same metadata; a motion clip is not a picture
        if missing := [k for k in KINDS if k in kinds(a.path) - kinds(a.keeper)]:
            out[n] = missing
    return out


def with_merges(actions: Sequence[Action], missing: dict[int, list[str]], backups: str) -> list[Action]:
    """The plan with a merge before each removal that would lose metadata: the merge's `path` is
    the keeper, its `keeper` the duplicate the metadata comes from, its `target` where the
    keeper's original bytes are kept for undo."""
    out = []
    stamp = time.time_ns()
    for n, a in enumerate(actions):
        if n in missing:
            backup = os.path.join(backups, f"{stamp}-{n}-{os.path.basename(a.keeper)}")
            merge = Action(MERGE, a.keeper, a.keeper_size, a.keeper_mtime_ns, a.path, a.size, a.mtime_ns,
                           "metadata:" + ",".join(missing[n]), None, backup)  # fmt: skip
            out.append(merge)
        out.append(a)
    return out


def _exiv2():
    try:
        import pyexiv2
    except ImportError as e:
        raise MetadataError("merging metadata needs pyexiv2: pip install 'mediadup[metadata]'") from e
    return pyexiv2


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def merge(a: Action) -> None:
    """Copy the kinds of metadata named in `a.relation` from `a.keeper` (the duplicate) into
    `a.path` (the keeper): a new file beside it, pixels compared, original kept at `a.target`."""
    assert a.target
    pyexiv2 = _exiv2()
    kinds = a.relation.split(":", 1)[1].split(",")
    prefixes = tuple(key for kind in kinds for key in KINDS[kind][1])
    try:
        source = pyexiv2.Image(a.keeper)
        try:
            values = {k: v for k, v in source.read_exif().items() if k.startswith(prefixes)}
        finally:
            source.close()
    except RuntimeError as e:
        raise MetadataError(f"cannot read the duplicate's metadata: {e}") from e
    folder, name = os.path.split(a.path)
    temporary = os.path.join(folder, f".{name}.mediadup-merge")
    try:
        shutil.copy2(a.path, temporary)
        try:
            target = pyexiv2.Image(temporary)
            try:
                target.modify_exif(values)
            finally:
                target.close()
        except RuntimeError as e:
            raise MetadataError(f"cannot write metadata into {os.path.splitext(name)[1] or name}: {e}") from e
        if not np.array_equal(_pixels(a.path), _pixels(temporary)):
            raise MetadataError("writing the metadata changed the pixels; the keeper is left as it was")
        os.makedirs(os.path.dirname(a.target), exist_ok=True)
        shutil.copy2(a.path, a.target)  # the original, for undo
        st = os.stat(a.path)
        os.utime(temporary, ns=(st.st_atime_ns, st.st_mtime_ns))  # the keeper keeps its date
        os.replace(temporary, a.path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def unmerge(path: str, backup: str | None) -> str | None:
    """Put the keeper's original bytes back; why not, or None when done."""
    if not backup or not os.path.exists(backup):
        return "its original bytes are no longer kept"
    if not os.path.exists(path):
        return "the keeper is gone"
    temporary = path + ".mediadup-restore"
    shutil.copy2(backup, temporary)
    os.replace(temporary, path)
    os.unlink(backup)
    return None
