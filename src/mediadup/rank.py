"""Pick the copy to keep: the best quality, and say why in the user's words."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .records import GroupMember

PADDED = 0.85  # content below this fraction of the frame: letterboxed, pillarboxed or a screenshot
LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "DIB", "PPM", "TGA", "RAW", "QOI"})


@dataclass(frozen=True)
class Criterion:
    """One quality signal: a value (higher is better), how much more counts, and how to say it."""

    value: Callable[[GroupMember], float]
    margin: float  # relative step: values within one step of a fixed logarithmic grid are equal
    say: Callable[[GroupMember], str]


def _pixels(m: GroupMember) -> float:
    """Pixels of the picture: the whole frame, or only the content when wide borders pad it
    (a letterboxed copy or a screenshot is not a higher resolution of the picture)."""
    if not m.info:
        return 0
    full = m.info.width * m.info.height
    return m.info.pixels if m.info.pixels < PADDED * full else full


def _unpadded(m: GroupMember) -> float:
    return float(bool(m.info and m.info.pixels >= PADDED * m.info.width * m.info.height))


def _colour(m: GroupMember) -> float:
    return float(bool(m.info and not m.info.monochrome))


def _lossless(m: GroupMember) -> float:
    return 1.0 if m.info and m.info.format.upper() in LOSSLESS else 0.0


def _metadata(m: GroupMember) -> float:
    return float(bool(m.info and (m.info.exif_date or m.info.camera)))


def _jpeg_quality(m: GroupMember) -> float:
    return float(m.info.jpeg_quality) if m.info and m.info.jpeg_quality else 0.0


CRITERIA: tuple[Criterion, ...] = (
    Criterion(_pixels, 0.02, lambda m: f"highest resolution ({m.info.width}x{m.info.height})"),
    Criterion(_unpadded, 0.0, lambda m: "no added borders (letterbox, canvas)"),
    Criterion(_colour, 0.0, lambda m: "in full colour (not grayscale or toned)"),
    Criterion(_lossless, 0.0, lambda m: f"lossless ({m.info.format})"),
    Criterion(lambda m: float(m.info.bit_depth) if m.info else 8.0, 0.0, lambda m: f"{m.info.bit_depth}-bit"),
    Criterion(_metadata, 0.0, lambda m: "keeps the camera metadata (EXIF)"),
    Criterion(_jpeg_quality, 0.0, lambda m: f"higher JPEG quality (q{m.info.jpeg_quality})"),
    Criterion(lambda m: float(m.stat.size), 0.05, lambda m: "largest file (least compressed)"),
    Criterion(lambda m: -float(m.stat.mtime_ns), 0.0, lambda m: "oldest copy"),
    Criterion(lambda m: -float(len(m.path)), 0.0, lambda m: "shortest path"),
)


def _level(c: Criterion, m: GroupMember) -> float:
    """The criterion's value, in steps of its margin: values within a step are equal. A fixed
    grid (not a pairwise tolerance) keeps the order total, so the keeper never depends on the
    order in which files were found."""
    v = c.value(m)
    return math.floor(math.log(v) / math.log1p(c.margin)) if c.margin and v > 0 else v


def quality_key(m: GroupMember) -> tuple:
    """Sort key: smaller is better (every criterion, then the path)."""
    return (*(-_level(c, m) for c in CRITERIA), m.path)


def rank(members: Sequence[GroupMember]) -> tuple[list[GroupMember], str]:
    """Members best first, and the reason the first one is kept."""
    ordered = sorted(members, key=quality_key)
    if len(ordered) < 2:
        return ordered, "only copy"
    best, runner_up = ordered[0], ordered[1]
    for c in CRITERIA:
        if _level(c, best) > _level(c, runner_up):
            return ordered, c.say(best)
    return ordered, "identical quality; first by path"
