"""Compare two videos: find how their times line up, verify it, name the relation.

Frames of the two videos whose hashes are close vote for an offset (seconds to add to the
shorter video's times to land in the longer one's), at each playback speed of a grid (0.5x-2x:
a sped-up or slowed copy); the offsets of true copies pile up in one place whatever their frame
rates, while shared pictures shown in another order spread out. The best alignments are fitted
to their votes (speed and offset of the line through the matched times), then verified frame
by frame: every sampled frame of the shorter video must
look like the longer video's frame at the same (shifted) time, by the image metrics (trimmed
normalised MSE of downscaled frames). The matched range and the two durations give the relation.

A copy matches throughout: a stretch of the shorter video's frames that match nothing where the
longer one has frames to compare (another opening, other content after a shared intro) makes the
two videos only share a part — `overlaps`, with the shared range in both videos' times, never a
duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..fingerprint import phash
from ..fingerprint.image import ImageFingerprint
from ..fingerprint.video import MIN_FRAME_STD, N_DIHEDRAL, SHARED_WINDOWS, THUMB, WINDOWS, VideoFingerprint, timestamp
from ..records import Relation
from .compare import Level, Match, similarities

VERSION = 4
GRID = 24  # frames are compared at this size
SAME_LENGTH = 0.03  # durations closer than this fraction (or than one sampling step) are the same
MIN_TRIMMED = 0.75  # a shorter copy covering at least this fraction of the longer one is "trimmed"
MIN_FRAMES = 3  # matched frames needed, unless a video has fewer frames in all
OFFSETS_TRIED = 3
MIN_JUDGED = 0.8  # fraction of the shorter video's frames with a frame of the longer one near enough to judge
GAP = 0.1  # consecutive judged frames that match nothing, as a share of the samples (at least 2): not a copy
MIN_SHARED = 3.0  # seconds: a shared part shorter than this (a logo sting) is not worth showing


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


OTHER_SPEEDS = tuple(2 ** (k / 8) for k in range(-8, 9) if k)  # playback speeds searched, 0.5x-2x, 9 % apart
SPEED_MARGIN = 0.01  # frame similarity by which another speed must beat 1x (noise on still footage)
MAX_SPEED_FIT = 0.05  # a fitted speed stays this close (relative) to the grid speed that found it


def _offsets(long: VideoFingerprint, short: VideoFingerprint, t: FrameMapping, radius: int,
             speeds: Sequence[float], need: int) -> list[tuple[int, float, float]]:  # fmt: skip
    """The alignments most frames agree on, as (votes, speed, offset), most votes first: the
    longer video's time = speed x the shorter's + offset. Frames whose hashes are close vote at
    each speed of a grid; the best are fitted to their votes (a line through the matched times)."""
    cl, cs = t.columns
    i, j = np.nonzero(_hamming(long.hashes[:, cl], short.hashes[:, cs]) <= radius)
    if len(np.unique(j)) < need:
        return []  # no alignment can gather enough votes
    tl, ts = long.times[i].astype(np.float64), short.times[j].astype(np.float64)
    middle = float(short.times[len(short.times) // 2])
    found: list[tuple[int, float, float]] = []
    for speed in speeds:
        width = 0.75 * (long.step + speed * short.step)  # sampled frames are up to a step apart in time
        for votes, offset, members in _votes(tl - speed * ts, j, width):
            fitted = _fit(ts[members], tl[members], speed) or (speed, offset)
            # one alignment found again at a neighbouring speed lands at the same place mid-clip
            if all(abs((fitted[1] + fitted[0] * middle) - (o + s * middle)) > width or abs(np.log(s / fitted[0])) > 0.1
                   for _, s, o in found):  # fmt: skip
                found.append((votes, *fitted))
    found.sort(key=lambda f: -f[0])
    return found[:OFFSETS_TRIED]


def _votes(d: np.ndarray, j: np.ndarray, width: float) -> list[tuple[int, float, np.ndarray]]:
    """The fullest windows of `width` over the offsets `d`: (votes, offset, which entries), where
    votes count distinct frames of the shorter video (a still scene matches one frame many times)."""
    order = np.argsort(d)
    ds, js = d[order], j[order]
    ends = np.searchsorted(ds, ds + width, side="right")
    best: list[tuple[int, float, np.ndarray]] = []
    for lo in np.argsort(-(ends - np.arange(len(ds))), kind="stable")[: 4 * OFFSETS_TRIED]:
        window = slice(lo, ends[lo])
        offset = float(ds[(lo + ends[lo] - 1) // 2])  # the window's median: the offsets are sorted
        if all(abs(offset - o) > width for _, o, _ in best):
            best.append((len(np.unique(js[window])), offset, order[window]))
    best.sort(key=lambda b: -b[0])
    return best[:OFFSETS_TRIED]


def _fit(short_times: np.ndarray, long_times: np.ndarray, speed: float) -> tuple[float, float] | None:
    """The speed and offset of the line through matched times (None: too few, or too close together
    to measure a speed, or a slope far from the grid speed)."""
    if speed == 1.0 or len(np.unique(short_times)) < 3 or np.ptp(short_times) <= 0:
        return None
    slope, offset = np.polyfit(short_times, long_times, 1)
    if abs(slope / speed - 1) > MAX_SPEED_FIT:
        return None
    return float(slope), float(offset)


@dataclass
class _Aligned:
    transform: FrameMapping
    speed: float  # the longer video's time = speed x the shorter's + offset
    offset: float
    times: np.ndarray  # the shorter video's sampled frames (uniform ones too), in time order
    matched: np.ndarray  # bool per frame: it matches the longer video's frame there
    similarity: float
    agree: float  # fraction of the judged frames that match
    judged: float  # fraction of the shorter video's frames that could be judged
    gap: int  # the longest run of judged frames that match nothing
    run: tuple[int, int]  # the longest stretch of matching frames (single misses bridged): first, last index

    def whole(self, need: int, vl: VideoLevel) -> bool:
        """The shorter video matches throughout (a copy, trimmed or contained)."""
        limit = max(2, round(GAP * len(self.matched)))
        return bool(self.matched.sum() >= need and self.agree >= vl.min_agree and self.judged >= MIN_JUDGED
                    and self.gap < limit)  # fmt: skip

    def shared(self, short: VideoFingerprint) -> float:
        """Seconds of the shorter video in the longest matching stretch."""
        first, last = self.run
        return float(self.times[last] - self.times[first]) + short.step if last >= first else 0.0


def _clear(thumbs: np.ndarray | None) -> np.ndarray:
    """Which frames show a clear picture: far from uniform (a faint one may be blank in a copy)."""
    assert thumbs is not None
    return thumbs.reshape(len(thumbs), -1).std(axis=1) >= 2 * MIN_FRAME_STD


def _near(times: np.ndarray, at: np.ndarray, reach: float) -> np.ndarray:
    """For each time in `at`, whether a time of the sorted `times` lies within `reach` of it."""
    if len(times) == 0:
        return np.zeros(len(at), dtype=bool)
    k = np.searchsorted(times, at)
    before = np.abs(times[np.clip(k - 1, 0, len(times) - 1)] - at) <= reach
    after = np.abs(times[np.clip(k, 0, len(times) - 1)] - at) <= reach
    return before | after


def _verify(long: VideoFingerprint, short: VideoFingerprint, t: FrameMapping, speed: float, offset: float,
            vl: VideoLevel, memo: dict):  # fmt: skip
    """Frame-by-frame check of one alignment: each frame of the shorter video against the longer
    video's frames nearest its time there. A uniform frame (black, a plain card) matches nothing,
    but where one video has one and the other shows a picture, they disagree. (`memo` keeps what
    several alignments of one pair share.)"""

    def once(key: tuple, make):
        if key not in memo:
            memo[key] = make()
        return memo[key]

    wl, ws = (t.window_long, t.window_short) if t.shared is None else (t.shared, t.shared)
    gl = once(("long", wl), lambda: _grids(long.thumbs, wl))
    gs = once(("short", ws, t.dihedral), lambda: _grids(short.thumbs, ws, t.dihedral))
    clear_long = once(("clear", "long"), lambda: _clear(long.thumbs))
    clear_short = once(("clear", "short"), lambda: _clear(short.thumbs))
    u = speed * short.times.astype(np.float64) + offset
    k = np.searchsorted(long.times, u)
    reach = 0.75 * (long.step + speed * short.step)
    inside = (u >= -reach) & (u <= long.info.duration + reach)
    sims = np.zeros(len(u))
    # a clear picture where the longer video is blank: judged (a faint one may be blank in a copy)
    known = _near(long.flat, u, reach) & clear_short
    for m in (k - 1, k):  # the longer video's frames just before and after each shifted time
        near = (m >= 0) & (m < len(long.times))
        near[near] &= np.abs(long.times[m[near]] - u[near]) <= reach
        known |= near
        sims[near] = np.maximum(sims[near], similarities(gl[m[near]], gs[near]))
    # frames mapped outside the longer video disagree; inside, a gap in its sampling is not evidence
    judged = known | ~inside
    matched = sims >= vl.min_similarity
    score = float(sims[matched].mean()) if matched.any() else 0.0
    judged_share = float(judged.mean())
    times = short.times.astype(np.float64)
    if len(short.flat):  # blank where the longer video shows a picture: judged, and no match
        uf = speed * short.flat.astype(np.float64) + offset
        outside = (uf < -reach) | (uf > long.info.duration + reach)
        against = (_near(long.times[clear_long], uf, reach) & ~_near(long.flat, uf, reach)) | outside
        order = np.argsort(np.concatenate([times, short.flat]), kind="stable")
        times = np.concatenate([times, short.flat])[order]
        matched = np.concatenate([matched, np.zeros(len(uf), dtype=bool)])[order]
        judged = np.concatenate([judged, against])[order]
    gap, run = _runs(matched, judged)
    agree = matched.sum() / max(1, judged.sum())
    return _Aligned(t, speed, offset, times, matched, score, agree, judged_share, gap, run)


def _runs(matched: np.ndarray, judged: np.ndarray) -> tuple[int, tuple[int, int]]:
    """The longest run of judged frames that match nothing (frames that cannot be judged neither
    break nor extend it), and the longest stretch of matching frames, a single miss bridged."""
    gap = longest = 0
    run, best = (-1, -1), (0, -1)
    misses = 0
    for n in np.nonzero(judged)[0]:
        if matched[n]:
            gap, misses = 0, 0
            run = (n, n) if run[0] < 0 else (run[0], n)
            if run[1] - run[0] > best[1] - best[0]:
                best = run
        else:
            gap += 1
            longest = max(longest, gap)
            misses += 1
            if misses > 1:
                run = (-1, -1)
    return longest, (int(best[0]), int(best[1]))


def compare_videos(a: VideoFingerprint, b: VideoFingerprint, level: Level) -> Match | None:
    """A verified match between two videos, describing the shorter (normally `b`, the candidate
    duplicate) against the longer (normally `a`, its keeper), or None."""
    if not (a.comparable and b.comparable):
        return None
    vl = VIDEO_LEVELS[level.name]
    swapped = b.info.duration > a.info.duration
    long, short = (b, a) if swapped else (a, b)
    need = min(MIN_FRAMES, len(short.times))
    # at the same speed every way of laying the frames over each other; then, unless that found
    # a copy of the same length, other speeds for frames as they are (a sped-up or slowed copy
    # is shorter or longer, like a trimmed one: the alignment whose frames agree best says which)
    memo: dict = {}
    best, part = _search(long, short, MAPPINGS, (1.0,), need, level.radius, vl, memo)
    if best is None or not _same_length(long, short, 1.0):
        faster, other = _search(long, short, MAPPINGS[:1], OTHER_SPEEDS, need, level.radius, vl, memo)
        if faster is not None and (best is None or _better(faster, best, long, short)):
            best = faster
        if other is not None and (part is None or other.shared(short) > part.shared(short)):
            part = other
    if best is not None:
        return _match(long, short, best, swapped)
    return None if part is None else _overlap(long, short, part, swapped)


Found = tuple["_Aligned | None", "_Aligned | None"]


def _search(long: VideoFingerprint, short: VideoFingerprint, mappings: Sequence[FrameMapping],
            speeds: Sequence[float], need: int, radius: int, vl: VideoLevel, memo: dict) -> Found:  # fmt: skip
    """The best alignment under which the shorter video matches throughout, and the best one
    under which the two share a stretch (each None when there is none)."""
    candidates = []
    for t in mappings:
        for votes, speed, offset in _offsets(long, short, t, radius, speeds, need):
            if votes >= need:
                candidates.append((votes, t, speed, offset))
    candidates.sort(key=lambda c: -c[0])
    best: _Aligned | None = None
    part: _Aligned | None = None  # the best stretch the two share, when neither holds the other whole
    for _votes, t, speed, offset in candidates[: 2 * OFFSETS_TRIED]:
        al = _verify(long, short, t, speed, offset, vl, memo)
        if al.whole(need, vl):
            if best is None or (al.agree, al.similarity) > (best.agree, best.similarity):
                best = al
        elif (al.matched.sum() >= MIN_FRAMES and al.shared(short) >= MIN_SHARED
              and (part is None or al.shared(short) > part.shared(short))):  # fmt: skip
            part = al
    return best, part


def _better(a: _Aligned, b: _Aligned, long: VideoFingerprint, short: VideoFingerprint) -> bool:
    """Whether another speed's alignment `a` explains the frames better than the 1x one `b`. When
    1x finds a part (not removed unless asked) and another speed a whole copy (removed), `a` must
    be clearly better: on still footage every speed fits, and the first one found stays."""
    if a.agree > b.agree + 0.05:
        return True
    margin = SPEED_MARGIN if short.info.duration < MIN_TRIMMED * long.info.duration else 0.0
    return (a.agree, a.similarity) > (b.agree, b.similarity + margin)


def _same_length(long: VideoFingerprint, short: VideoFingerprint, speed: float) -> bool:
    """The shorter video, played at `speed`, lasts as long as the longer one."""
    dl, ds = long.info.duration, speed * short.info.duration
    return abs(dl - ds) <= max(SAME_LENGTH * dl, long.step)


def _overlap(long: VideoFingerprint, short: VideoFingerprint, al: _Aligned, swapped: bool) -> Match:
    """Two videos that share a stretch: where it lies in each (`range`: in the first video of the
    pair compared, `other_range`: in the second)."""
    first, last = al.run
    start, end = float(al.times[first]), float(al.times[last]) + short.step
    in_short = f"{timestamp(start)}-{timestamp(min(end, short.info.duration))}"
    lo, hi = al.speed * start + al.offset, al.speed * end + al.offset
    in_long = f"{timestamp(max(0.0, lo))}-{timestamp(min(long.info.duration, hi))}"
    evidence = {
        "range": in_short if swapped else in_long,
        "other_range": in_long if swapped else in_short,
        "seconds": round(end - start, 1),
        "frames": f"{int(al.matched[first : last + 1].sum())}/{last - first + 1}",
        "similarity": round(al.similarity, 4),
    }
    return Match(Relation.OVERLAPS, al.similarity, evidence)


def _match(long: VideoFingerprint, short: VideoFingerprint, al: _Aligned, swapped: bool) -> Match:
    dl, ds = long.info.duration, al.speed * short.info.duration  # the shorter in the longer's time
    start = max(0.0, al.offset)
    end = min(dl, al.offset + ds)
    t = al.transform
    evidence: dict = {
        "offset": round(al.offset, 2),
        "range": f"{timestamp(start)}-{timestamp(end)}",
        "frames": f"{int(al.matched.sum())}/{len(al.matched)}",
        "similarity": round(al.similarity, 4),
    }
    if _same_length(long, short, al.speed):
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
    if abs(al.speed - 1) > SAME_LENGTH:  # how fast the candidate plays against its keeper
        evidence["speed"] = f"{1 / al.speed if swapped else al.speed:.2f}x"
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
