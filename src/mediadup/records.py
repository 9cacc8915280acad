"""Plain data passed between the pipeline stages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Kind(str, Enum):
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


class MediadupError(Exception):
    """A problem the user can act on (a bad option, an unusable catalog, nothing to undo...);
    the message says what to do. The command line shows it without a traceback."""


class Relation(str, Enum):
    """How a duplicate relates to its group's keeper."""

    KEEPER = "keeper"
    IDENTICAL = "identical"
    NEAR_DUPLICATE = "near-duplicate"
    ROTATED = "rotated"
    MIRRORED = "mirrored"
    CROPPED = "cropped"
    TRIMMED = "trimmed"  # a video with some seconds cut at either end
    CONTAINED = "contained"  # a shorter part of a longer video: removed only when asked for
    FRAME_OF = "frame-of"  # an image that is one of a video's frames: never removed automatically
    SIMILAR = "similar"  # a distinct but similar shot (burst, edition): removed only when asked for
    MOTION = "motion"  # a Live Photo's motion clip: acted on with its photo, never on its own
    UNCERTAIN = "uncertain"  # may be a duplicate: too little detail to be sure; removed only when asked for
    OVERLAPS = "overlaps"  # a video sharing a part with another (an intro, a filler): never removed

    @property
    def removable(self) -> bool:
        """Whether a plan removes such a copy without being asked specifically."""
        return self not in (Relation.CONTAINED, Relation.FRAME_OF, Relation.SIMILAR, Relation.UNCERTAIN,
                            Relation.OVERLAPS)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FileStat:
    """One file found by discovery (hard links to one inode collapse into one)."""

    path: str
    size: int
    mtime_ns: int
    device: int
    inode: int
    kind: Kind

    @property
    def key(self) -> tuple[int, int, int, int]:
        """What must be unchanged for cached fingerprints to stay valid."""
        return (self.size, self.mtime_ns, self.device, self.inode)


@dataclass(frozen=True)
class Skipped:
    """A file the scan could not use, and why (in the user's words)."""

    path: str
    reason: str


@dataclass(slots=True)
class ImageInfo:
    """Quality signals of one image, used to pick the keeper."""

    width: int
    height: int
    format: str
    mode: str
    content_width: int
    content_height: int
    jpeg_quality: int | None = None  # of a JPEG, or of the JPEG a lossless file was decoded from
    exif_date: str | None = None
    camera: str | None = None
    captured: str | None = None  # EXIF DateTimeOriginal: when the shot was taken (exif_date may be a save time)
    bit_depth: int = 8
    chroma: float = 0.0  # mean colourfulness; near 0 for grayscale
    monochrome: bool = False  # gray, sepia or duotone: all colour in one narrow band of hues
    sharpness: float | None = None  # fine detail of the working copy (the spread of its Laplacian)
    clipped: float | None = None  # fraction of pure black or white pixels (lost to exposure)
    inner: tuple[float, float, float, float] | None = None  # the picture inside window chrome (a
    # screenshot), as fractions (x0, y0, x1, y1) of the content; None when there is none

    @property
    def pixels(self) -> int:
        return self.content_width * self.content_height

    def __post_init__(self) -> None:
        if self.inner is not None:
            self.inner = tuple(self.inner)  # read back from JSON as a list

    @property
    def inner_pixels(self) -> int:
        """Pixels of the picture inside window chrome (0 when there is none)."""
        return inner_pixels(self.inner, self.content_width, self.content_height)

    @property
    def taken(self) -> float | None:
        """When the shot was taken, from EXIF, in seconds (None when unknown or malformed)."""
        try:
            return datetime.strptime(self.captured or "", "%Y:%m:%d %H:%M:%S").timestamp()
        except ValueError:
            return None


def inner_pixels(inner: Sequence[float] | None, content_width: int, content_height: int) -> int:
    """Pixels of the picture inside window chrome (`inner`: fractions of the content), 0 for none."""
    if not inner:
        return 0
    x0, y0, x1, y1 = inner
    return round((x1 - x0) * content_width) * round((y1 - y0) * content_height)


@dataclass
class VideoInfo:
    """What the container says about a video, used to pick the keeper and shown to the user."""

    width: int  # upright (rotation applied)
    height: int
    duration: float  # seconds
    fps: float
    codec: str
    bitrate: int  # bits per second of the whole file
    format: str  # container
    rotation: int = 0
    audio: bool = False
    content_width: int = 0  # inside letterbox/pillarbox bars
    content_height: int = 0
    chroma: float = 0.0  # median colourfulness of the frames; near 0 for grayscale

    @property
    def pixels(self) -> int:
        return self.content_width * self.content_height


@dataclass
class GroupMember:
    """A file in a group: the keeper, or a duplicate with its relation to the keeper."""

    stat: FileStat
    relation: Relation
    score: float = 1.0
    evidence: dict = field(default_factory=dict)
    info: ImageInfo | VideoInfo | None = None
    content_hash: str | None = None
    companion: FileStat | None = None  # a Live Photo's motion clip: it stays and goes with this file

    @property
    def path(self) -> str:
        return self.stat.path


@dataclass
class Group:
    """Copies of one picture: the keeper and the duplicates verified directly against it."""

    keeper: GroupMember
    duplicates: list[GroupMember]
    reason: str

    @property
    def members(self) -> list[GroupMember]:
        return [self.keeper, *self.duplicates]

    @property
    def reclaimable(self) -> int:
        """Bytes freed by removing every duplicate a plan removes by default."""
        return sum(
            d.stat.size + (d.companion.size if d.companion else 0) for d in self.duplicates if d.relation.removable
        )


@dataclass
class ScanSummary:
    files_seen: int = 0
    images: int = 0
    videos: int = 0
    other: int = 0
    hardlinks: int = 0
    fingerprinted: int = 0
    from_cache: int = 0
    hashed: int = 0
    compared: int = 0  # pairs of images compared (verdicts of earlier scans are remembered)
    crowded: int = 0  # pictures with more look-alikes than the candidate limit: only their nearest were compared
    left_out: int = 0  # candidate pairs the limit left out
    turned_away: int = 0  # candidate pairs whose sketches were not alike in the views that proposed them
    forgotten: int = 0  # catalog entries of files gone from the scanned folders, removed
    companions: int = 0  # photos with a motion clip (Live Photos), each pair one item
    similar: int = 0  # groups of similar shots (with --similar)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds of each stage (discovering, hashing, ...)


@dataclass
class ScanResult:
    groups: list[Group]
    skipped: list[Skipped]
    summary: ScanSummary
    roots: list[str] = field(default_factory=list)
    similar: list[Group] = field(default_factory=list)  # similar but distinct shots, best shot first (--similar)

    @property
    def reclaimable(self) -> int:
        return sum(g.reclaimable for g in self.groups)


_ESCAPED = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {0x2028: "\\u2028", 0x2029: "\\u2029"}
_ESCAPED.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def display_path(path: str) -> str:
    """A path safe to print on one line: bytes that are not UTF-8 and control characters
    (newlines, carriage returns, escapes) are shown as \\xNN, \\n, \\r, \\t."""
    return os.fsencode(path).decode("utf-8", "backslashreplace").translate(_ESCAPED)


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 file', '2 files' ('1 copy', '2 copies' with `words`)."""
    return f"{n} {word if n == 1 else words or word + 's'}"
