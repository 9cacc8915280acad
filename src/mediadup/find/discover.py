"""Walk folder trees and classify files as images, videos or other."""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch

from ..records import FileStat, Kind, Skipped

_RAW = "dng cr2 cr3 nef nrw arw srf sr2 raf orf rw2 pef srw x3f 3fr erf kdc mos mrw"
_IMAGE = "jpg jpeg jpe jfif png gif bmp dib tif tiff webp heic heif hif avif ppm pgm pbm pnm tga ico jp2 j2k"
_VIDEO = "mp4 m4v mov mkv webm avi wmv flv mpg mpeg mts m2ts ts 3gp 3g2 ogv vob"
RAW_EXTENSIONS = frozenset(_RAW.split())
IMAGE_EXTENSIONS = frozenset(_IMAGE.split()) | RAW_EXTENSIONS
VIDEO_EXTENSIONS = frozenset(_VIDEO.split())

_MAGIC: list[tuple[bytes, int, Kind]] = [
    (b"\xff\xd8\xff", 0, Kind.IMAGE),
    (b"\x89PNG\r\n\x1a\n", 0, Kind.IMAGE),
    (b"GIF8", 0, Kind.IMAGE),
    (b"II*\x00", 0, Kind.IMAGE),
    (b"MM\x00*", 0, Kind.IMAGE),
    (b"WEBP", 8, Kind.IMAGE),
    (b"\x1a\x45\xdf\xa3", 0, Kind.VIDEO),
    (b"AVI ", 8, Kind.VIDEO),
]
_FTYP_IMAGE = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis")


def kind_of_extension(name: str) -> Kind | None:
    """The kind a file name's extension announces, or None when it has no known extension."""
    ext = os.path.splitext(name)[1][1:].lower()
    if ext in IMAGE_EXTENSIONS:
        return Kind.IMAGE
    if ext in VIDEO_EXTENSIONS:
        return Kind.VIDEO
    return None


def sniff(head: bytes) -> Kind:
    """Classify a file by its first bytes."""
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[4:8] == b"ftyp":
        return Kind.IMAGE if head[8:12] in _FTYP_IMAGE else Kind.VIDEO
    return Kind.OTHER


def _matches(path: str, name: str, patterns: Iterable[str]) -> bool:
    """Whether a glob matches the name or the whole path, ignoring case (*.jpg matches IMG.JPG)."""
    if not patterns:
        return False
    path, name = path.lower(), name.lower()
    return any(fnmatch(name, p.lower()) or fnmatch(path, p.lower()) for p in patterns)


@dataclass
class Discovery:
    """What a walk found: media and other files, and what it could not read."""

    files: list[FileStat] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    hardlinks: int = 0
    other: int = 0


@dataclass
class Walker:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    hidden: bool = False

    def _excluded(self, path: str, name: str) -> bool:
        return _matches(path, name, self.exclude)

    def _included(self, path: str, name: str) -> bool:
        return not self.include or _matches(path, name, self.include)

    def walk(self, roots: Iterable[str]) -> Discovery:
        found = Discovery()
        inodes: set[tuple[int, int]] = set()
        for entry in self._entries(roots, found):
            path, st = entry
            if (st.st_dev, st.st_ino) in inodes:
                found.hardlinks += 1
                continue
            inodes.add((st.st_dev, st.st_ino))
            kind = kind_of_extension(path) or self._sniff(path, st.st_size)
            if kind is Kind.OTHER:
                found.other += 1
                continue
            found.files.append(FileStat(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, kind))
        return found

    @staticmethod
    def _sniff(path: str, size: int) -> Kind:
        if os.path.splitext(path)[1] or size < 12:
            return Kind.OTHER
        try:
            with open(path, "rb") as f:
                return sniff(f.read(16))
        except OSError:
            return Kind.OTHER

    def _entries(self, roots: Iterable[str], found: Discovery) -> Iterator[tuple[str, os.stat_result]]:
        """Regular files under the roots with their stat, depth first, each folder once."""
        visited: set[tuple[int, int]] = set()
        stack: list[str] = []
        for root in dict.fromkeys(os.path.abspath(r) for r in roots):  # each root once
            try:
                st = os.stat(root)
            except OSError as e:
                found.skipped.append(Skipped(root, f"cannot open: {e.strerror or e}"))
                continue
            if stat_module.S_ISREG(st.st_mode):
                yield root, st
            elif stat_module.S_ISDIR(st.st_mode):
                stack.append(root)
            else:
                found.skipped.append(Skipped(root, "not a file or folder (a FIFO, socket or device): not read"))
        while stack:
            folder = stack.pop()
            try:
                st = os.stat(folder)
                if (st.st_dev, st.st_ino) in visited:
                    continue  # symlink loop or the same folder given twice
                visited.add((st.st_dev, st.st_ino))
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                found.skipped.append(Skipped(folder, f"cannot read folder: {e.strerror or e}"))
                continue
            subfolders = []
            for e in entries:
                if (not self.hidden and e.name.startswith(".")) or self._excluded(e.path, e.name):
                    continue
                try:
                    if e.is_symlink() and not self.follow_symlinks:
                        continue
                    st = e.stat(follow_symlinks=self.follow_symlinks)
                except OSError as err:
                    reason = "broken symbolic link" if e.is_symlink() else f"cannot stat: {err.strerror or err}"
                    found.skipped.append(Skipped(e.path, reason))
                    continue
                if stat_module.S_ISDIR(st.st_mode):
                    subfolders.append(e.path)
                elif stat_module.S_ISREG(st.st_mode) and self._included(e.path, e.name):
                    yield e.path, st
            stack.extend(reversed(subfolders))
