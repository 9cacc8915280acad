"""Pick the copy to keep: the best quality, and say why in the user's words."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..fingerprint.decode import LOSSLESS, converted_from_jpeg
from ..fingerprint.video import CODEC_EFFICIENCY, timestamp
from ..records import GroupMember, ImageInfo, VideoInfo

PADDED = 0.97  # content below this fraction of the frame: framed, captioned or a screenshot...
PADDED_VIDEO = 0.85  # ...and of a video's frame: letterboxed or pillarboxed (bars measured on few frames)
PADDED_MEASURE = 0.95
GRAY_CHROMA = 4.0  # mean colourfulness below which a video is grayscale


@dataclass(frozen=True)
class Criterion:
    """One quality signal: a value (higher is better), how much more counts, and how to say it."""

    value: Callable[[GroupMember], float]
    margin: float  # relative step: values within one step of a fixed logarithmic grid are equal
    say: Callable[[GroupMember], str]


def _padded(m: GroupMember) -> float:
    """The share of the frame below which a file's content is padded (see PADDED)."""
    return PADDED_VIDEO if isinstance(m.info, VideoInfo) else PADDED


def _shown(m: GroupMember) -> int:
    """Pixels of the picture a file shows: its content, or the picture inside its window chrome
    (a screenshot) when that is clearly smaller."""
    info = m.info
    if isinstance(info, ImageInfo) and info.inner_pixels and info.inner_pixels < PADDED * info.pixels:
        return info.inner_pixels
    return info.pixels


def _pixels(m: GroupMember) -> float:
    """Pixels of the picture: the whole frame, or only the content when wide borders or window
    chrome pad it (a letterboxed copy or a screenshot is not a higher resolution of the picture)."""
    if not m.info:
        return 0
    full = m.info.width * m.info.height
    # measured content is a little generous (edges blur into the borders): a padded copy must
    # measure clearly larger to outrank one without borders
    shown = _shown(m)
    return shown * PADDED_MEASURE if shown < _padded(m) * full else full


def _unpadded(m: GroupMember) -> float:
    return float(bool(m.info and _shown(m) >= _padded(m) * m.info.width * m.info.height))


def _colour(m: GroupMember) -> float:
    if isinstance(m.info, VideoInfo):
        return float(m.info.chroma >= GRAY_CHROMA)
    return float(bool(m.info and not m.info.monochrome))


def _video(m: GroupMember, field: str) -> float:
    return float(getattr(m.info, field)) if isinstance(m.info, VideoInfo) else 0.0


def _efficiency(m: GroupMember) -> float:
    return CODEC_EFFICIENCY.get(m.info.codec, 1.0) if isinstance(m.info, VideoInfo) else 0.0


def _bitrate(m: GroupMember) -> float:
    """The bitrate as H.264 would need it for the same quality: a re-encode in an older codec at a
    higher bitrate is no better than the H.264 original."""
    return _video(m, "bitrate") * _efficiency(m)


def _say_bitrate(m: GroupMember) -> str:
    rate = f"{m.info.bitrate // 1000} kb/s"
    weight = _efficiency(m)
    return f"highest bitrate ({rate})" if weight == 1.0 else f"highest bitrate for its codec ({rate} {m.info.codec})"


def _lossless_format(m: GroupMember) -> bool:
    return bool(m.info and m.info.format.upper() in LOSSLESS)


def _converted(m: GroupMember) -> bool:
    return bool(m.info) and converted_from_jpeg(m.info.format, getattr(m.info, "jpeg_quality", None))


def _lossless(m: GroupMember) -> float:
    """A lossless file, unless converted from a JPEG (then it is no better than one)."""
    return float(_lossless_format(m) and not _converted(m))


def _unconverted(m: GroupMember) -> float:
    """Not a lossless file converted from a JPEG: between the two, the JPEG is the original."""
    return float(not _converted(m))


def _say_quality(m: GroupMember) -> str:
    converted = f", kept as {m.info.format}" if _converted(m) else ""
    return f"higher JPEG quality (q{m.info.jpeg_quality}{converted})"


def _camera_original(m: GroupMember) -> float:
    """A picture that names its camera and when it took it: what a camera wrote, not a copy made
    later (conversions and exports usually drop or rewrite that EXIF)."""
    return float(bool(isinstance(m.info, ImageInfo) and m.info.camera and m.info.captured))


def _deep(m: GroupMember) -> float:
    """More than 8 bits per channel: no JPEG was ever decoded into it."""
    return float(bool(m.info and m.info.bit_depth > 8))


def _metadata(m: GroupMember) -> float:
    return float(bool(m.info and (m.info.exif_date or m.info.camera)))


def _jpeg_quality(m: GroupMember) -> float:
    return float(m.info.jpeg_quality) if m.info and m.info.jpeg_quality else 0.0


def _shot(m: GroupMember) -> float:
    """Sharpness, discounted by the pixels lost to pure black or white."""
    info = m.info
    if not isinstance(info, ImageInfo) or info.sharpness is None:
        return 0.0
    return info.sharpness * (1.0 - (info.clipped or 0.0)) ** 2


def _say_shot(m: GroupMember) -> str:
    clipped = f", {m.info.clipped:.0%} clipped" if m.info.clipped else ""
    return f"sharpest and best exposed (sharpness {m.info.sharpness:.0f}{clipped})"


RESOLUTION = Criterion(_pixels, 0.02, lambda m: f"highest resolution ({m.info.width}x{m.info.height})")
UNPADDED = Criterion(_unpadded, 0.0, lambda m: "no added borders (letterbox, canvas, window chrome)")
COLOUR = Criterion(_colour, 0.0, lambda m: "in full colour (not grayscale or toned)")
LARGEST = Criterion(lambda m: float(m.stat.size), 0.05, lambda m: "largest file (least compressed)")
OLDEST = Criterion(lambda m: -float(m.stat.mtime_ns), 0.0, lambda m: "oldest copy")
SHORTEST_PATH = Criterion(lambda m: -float(len(m.path)), 0.0, lambda m: "shortest path")
CRITERIA: tuple[Criterion, ...] = (
    RESOLUTION,
    UNPADDED,
    Criterion(_deep, 0.0, lambda m: f"{m.info.bit_depth}-bit"),
    # the camera's own file before colour: a graded or filtered copy may hold more hues than an
    # original of one dominant hue (a sunset, a forest), and a toned copy rarely keeps the EXIF
    Criterion(_camera_original, 0.0, lambda m: f"camera original (EXIF: {m.info.camera}, taken {m.info.captured})"),
    COLOUR,
    Criterion(_lossless, 0.0, lambda m: f"lossless ({m.info.format})"),
    Criterion(_metadata, 0.0, lambda m: "keeps the camera metadata (EXIF)"),
    Criterion(_jpeg_quality, 0.0, _say_quality),
    Criterion(_unconverted, 0.0, lambda m: "the JPEG, not a lossless file converted from it"),
    LARGEST,
    OLDEST,
    SHORTEST_PATH,
)
SHOT_CRITERIA = (Criterion(_shot, 0.1, _say_shot), *CRITERIA)  # which of similar shots to suggest
VIDEO_CRITERIA: tuple[Criterion, ...] = (
    Criterion(lambda m: _video(m, "duration"), 0.01, lambda m: f"longest ({timestamp(m.info.duration)})"),
    RESOLUTION,
    UNPADDED,
    COLOUR,
    Criterion(_bitrate, 0.1, _say_bitrate),
    Criterion(lambda m: _video(m, "fps"), 0.02, lambda m: f"highest frame rate ({m.info.fps:g} fps)"),
    Criterion(_efficiency, 0.0, lambda m: f"better codec ({m.info.codec})"),
    LARGEST,
    OLDEST,
    SHORTEST_PATH,
)


def _level(c: Criterion, m: GroupMember) -> float:
    """The criterion's value, in steps of its margin: values within a step are equal. A fixed
    grid (not a pairwise tolerance) keeps the order total, so the keeper never depends on the
    order in which files were found."""
    v = c.value(m)
    return math.floor(math.log(v) / math.log1p(c.margin)) if c.margin and v > 0 else v


def criteria(members: Sequence[GroupMember]) -> tuple[Criterion, ...]:
    """Videos are ranked by what matters in a video (duration first), images by what matters in a picture."""
    return VIDEO_CRITERIA if any(isinstance(m.info, VideoInfo) for m in members) else CRITERIA


def quality_key(m: GroupMember, chosen: Sequence[Criterion] = CRITERIA) -> tuple:
    """Sort key: smaller is better (every criterion, then the path)."""
    return (*(-_level(c, m) for c in chosen), m.path)


def rank(members: Sequence[GroupMember], chosen: Sequence[Criterion] | None = None) -> tuple[list[GroupMember], str]:
    """Members best first, and the reason the first one is kept (by `chosen`, default `criteria`)."""
    chosen = chosen or criteria(members)
    ordered = sorted(members, key=lambda m: quality_key(m, chosen))
    if len(ordered) < 2:
        return ordered, "only copy"
    best, runner_up = ordered[0], ordered[1]
    for c in chosen:
        if _level(c, best) > _level(c, runner_up):
            return ordered, c.say(best)
    return ordered, "identical quality; first by path"
