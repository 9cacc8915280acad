"""Compare two videos: find the time offset their frames agree on, verify it, name the relation.

Frames of the two videos whose hashes are close vote for an offset (seconds to add to the
shorter video's times to land in the longer one's); the offsets of true copies pile up in one
place whatever their frame rates, while shared pictures shown in another order spread out. The
best offsets are then verified frame by frame: every sampled frame of the shorter video must
look like the longer video's frame at the same (shifted) time, by the image metrics (trimmed
normalised MSE of downscaled frames). The matched range and the two durations give the relation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..fingerprint import phash
from ..fingerprint.image import ImageFingerprint
from ..fingerprint.video import N_DIHEDRAL, SHARED_WINDOWS, THUMB, WINDOWS, VideoFingerprint, timestamp
from ..records import Relation
from .compare import Level, Match, similarities

VERSION = 3
GRID = 24  # frames are compared at this size
SAME_LENGTH = 0.03  # durations closer than this fraction (or than one sampling step) are the same
MIN_TRIMMED = 0.75  # a shorter copy covering at least this fraction of the longer one is "trimmed"
MIN_FRAMES = 3  # matched frames needed, unless a video has fewer frames in all
OFFSETS_TRIED = 3
MIN_JUDGED = 0.8  # fraction of the shorter video's frames with a frame of the longer one near enough to judge


@dataclass(frozen=True)
class VideoLevel:
    min_similarity: float  # per frame, after alignment
    min_agree: float  # fraction of the shorter video's frames that must match


VIDEO_LEVELS = {
    "strict": VideoLevel(0.90, 0.9),
    "normal": VideoLevel(0.85, 0.8),
    "loose": VideoLevel(0.85, 0.8),
}


@dataclass(frozen=True)
class FrameMapping:
    """How the shorter video's frames map onto the longer one's: a rotation/mirror of the
    shorter, or a window (crop) of either one."""

    dihedral: int = 0
    window_long: int | None = None  # the shorter shows this window of the longer
    window_short: int | None = None  # the longer shows this window of the shorter
    shared: int | None = None  # only this window of both agrees (a logo or caption elsewhere)

    @property
    def columns(self) -> tuple[int, int]:
        """Hash columns compared: (longer's, shorter's)."""
        if self.shared is not None:
            return N_DIHEDRAL + self.shared, N_DIHEDRAL + self.shared
        if self.window_long is not None:
            return N_DIHEDRAL + self.window_long, 0
        if self.window_short is not None:
            return 0, N_DIHEDRAL + self.window_short
        return 0, self.dihedral


MAPPINGS = (
    [FrameMapping(d) for d in range(N_DIHEDRAL)]
    + [FrameMapping(window_long=w) for w in range(len(WINDOWS))]
    + [FrameMapping(window_short=w) for w in range(len(WINDOWS))]
    + [FrameMapping(shared=w) for w in SHARED_WINDOWS]
)


@lru_cache(maxsize=16)
def _resampler(window: tuple[float, float, float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Matrices taking a THUMB x THUMB frame (or a window of it) to GRID x GRID by area averaging."""
    x0, y0, x1, y1 = window or (0.0, 0.0, 1.0, 1.0)
    rows = phash.area_weights(y0 * THUMB, y1 * THUMB, THUMB, GRID)
    cols = phash.area_weights(x0 * THUMB, x1 * THUMB, THUMB, GRID)
    return rows.astype(np.float32), cols.T.astype(np.float32)


def _grids(thumbs: np.ndarray, window: int | None, dihedral: int = 0) -> np.ndarray:
    rows, cols = _resampler(WINDOWS[window] if window is not None else None)
    grids = rows @ thumbs.astype(np.float32) @ cols
    return np.stack([phash.DIHEDRAL[dihedral].apply(g) for g in grids]) if dihedral else grids


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a[:, None] ^ b[None, :])


def _offsets(long: VideoFingerprint, short: VideoFingerprint, t: FrameMapping, radius: int) -> list[tuple[int, float]]:
    """The offsets most frames agree on, as (votes, offset), most votes first."""
    cl, cs = t.columns
    i, j = np.nonzero(_hamming(long.hashes[:, cl], short.hashes[:, cs]) <= radius)
    if len(i) == 0:
        return []
    d = long.times[i].astype(np.float64) - short.times[j]
    order = np.argsort(d)
    d, j = d[order], j[order]
    width = 0.75 * (long.step + short.step)  # sampled frames are up to a step apart in time
    # a sliding window over the sorted offsets: the fullest windows first, then the votes of each
    # (distinct frames of the shorter video: a still scene matches one frame many times)
    ends = np.searchsorted(d, d + width, side="right")
    best: list[tuple[int, float]] = []
    for lo in np.argsort(-(ends - np.arange(len(d))), kind="stable")[: 4 * OFFSETS_TRIED]:
        window = slice(lo, ends[lo])
        offset = float(np.median(d[window]))
        if all(abs(offset - o) > width for _, o in best):
            best.append((len(np.unique(j[window])), offset))
    best.sort(key=lambda b: -b[0])
    return best[:OFFSETS_TRIED]


@dataclass
class _Aligned:
    transform: FrameMapping
    offset: float
    matched: np.ndarray  # bool per frame of the shorter video
    similarity: float
    agree: float  # fraction of the judged frames that match
    judged: float  # fraction of the shorter video's frames that could be judged


def _verify(long: VideoFingerprint, short: VideoFingerprint, t: FrameMapping, offset: float, vl: VideoLevel):
    """Frame-by-frame check of one offset: each frame of the shorter video against the longer
    video's frames nearest its shifted time."""
    gl = _grids(long.thumbs, t.window_long if t.shared is None else t.shared)
    gs = _grids(short.thumbs, t.window_short if t.shared is None else t.shared, t.dihedral)
    u = short.times.astype(np.float64) + offset
    k = np.searchsorted(long.times, u)
    reach = 0.75 * (long.step + short.step)
    inside = (u >= -reach) & (u <= long.info.duration + reach)
    sims = np.zeros(len(u))
    known = np.zeros(len(u), dtype=bool)  # a frame of the longer video is near enough to judge
    for m in (k - 1, k):  # the longer video's frames just before and after each shifted time
        near = (m >= 0) & (m < len(long.times))
        near[near] &= np.abs(long.times[m[near]] - u[near]) <= reach
        known |= near
        sims[near] = np.maximum(sims[near], similarities(gl[m[near]], gs[near]))
    # frames mapped outside the longer video disagree; inside, a gap in its sampling is not evidence
    judged = known | ~inside
    matched = sims >= vl.min_similarity
    score = float(sims[matched].mean()) if matched.any() else 0.0
    return _Aligned(t, offset, matched, score, matched.sum() / max(1, judged.sum()), judged.mean())


def compare_videos(a: VideoFingerprint, b: VideoFingerprint, level: Level) -> Match | None:
    """A verified match between two videos, describing the shorter (normally `b`, the candidate
    duplicate) against the longer (normally `a`, its keeper), or None."""
    if not (a.comparable and b.comparable):
        return None
    vl = VIDEO_LEVELS[level.name]
    swapped = b.info.duration > a.info.duration
    long, short = (b, a) if swapped else (a, b)
    need = min(MIN_FRAMES, len(short.times))
    best: _Aligned | None = None
    candidates = []
    for t in MAPPINGS:
        for votes, offset in _offsets(long, short, t, level.radius):
            if votes >= need:
                candidates.append((votes, t, offset))
    candidates.sort(key=lambda c: -c[0])
    for _votes, t, offset in candidates[: 2 * OFFSETS_TRIED]:
        al = _verify(long, short, t, offset, vl)
        enough = al.matched.sum() >= need and al.agree >= vl.min_agree and al.judged >= MIN_JUDGED
        if enough and (best is None or (al.agree, al.similarity) > (best.agree, best.similarity)):
            best = al
    return None if best is None else _match(long, short, best, swapped)


def _match(long: VideoFingerprint, short: VideoFingerprint, al: _Aligned, swapped: bool) -> Match:
    dl, ds = long.info.duration, short.info.duration
    start = max(0.0, al.offset)
    end = min(dl, al.offset + ds)
    t = al.transform
    evidence: dict = {
        "offset": round(al.offset, 2),
        "range": f"{timestamp(start)}-{timestamp(end)}",
        "frames": f"{int(al.matched.sum())}/{len(al.matched)}",
        "similarity": round(al.similarity, 4),
    }
    if abs(dl - ds) <= max(SAME_LENGTH * dl, long.step):
        relation = Relation.NEAR_DUPLICATE
    elif ds >= MIN_TRIMMED * dl:
        relation = Relation.TRIMMED
    else:
        relation = Relation.CONTAINED
    if t.dihedral:
        evidence["transform"] = phash.DIHEDRAL[t.dihedral].name
        if relation is Relation.NEAR_DUPLICATE:
            relation = Relation.MIRRORED if phash.DIHEDRAL[t.dihedral].is_mirror else Relation.ROTATED
    if t.window_long is not None or t.window_short is not None:
        x0, y0, x1, y1 = WINDOWS[t.window_long if t.window_long is not None else t.window_short]
        whose = "shorter" if t.window_long is not None else "longer"
        evidence["crop"] = f"{whose} shows {(x1 - x0) * (y1 - y0):.0%} of the other"
        if relation is Relation.NEAR_DUPLICATE:
            relation = Relation.CROPPED
    if swapped:
        evidence["contains"] = True  # the candidate is the longer one: it holds the keeper
    return Match(relation, al.similarity, evidence)


def frame_radius(level: Level) -> int:
    """Hash radius between an image and sampled frames: the image may lie between two samples."""
    return level.radius + 4


def frame_of(image: ImageFingerprint, video: VideoFingerprint, level: Level) -> Match | None:
    """Whether an image is one of the video's frames (as sampled), and at what time."""
    if not (image.comparable and video.comparable):
        return None
    vl = VIDEO_LEVELS[level.name]
    close = np.nonzero(np.bitwise_count(video.hashes[:, 0] ^ image.hashes[0]) <= frame_radius(level))[0]
    if len(close) == 0:
        return None
    n = image.thumb.shape[0] // THUMB
    grid = _grids(image.thumb.reshape(THUMB, n, THUMB, n).mean(axis=(1, 3))[None], None)[0]
    sims = similarities(_grids(video.thumbs[close], None), np.broadcast_to(grid, (len(close), *grid.shape)))
    n = int(np.argmax(sims))
    score = float(sims[n])
    if score < max(vl.min_similarity, level.min_similarity):
        return None
    at = float(video.times[close[n]])
    return Match(Relation.FRAME_OF, score, {"at": timestamp(at), "similarity": round(score, 4)})
