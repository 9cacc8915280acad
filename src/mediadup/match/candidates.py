"""Propose candidate pairs from hash indexes, never enumerating all pairs, then verify them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..arrays import deduplicated, unique
from ..fingerprint import phash
from ..fingerprint.image import AVERAGE, FIRST_WINDOW, INNER, NO_INNER, SHARED_WINDOWS
from ..fingerprint.video import N_DIHEDRAL as VIDEO_DIHEDRAL
from ..fingerprint.video import SHARED_WINDOWS as SHARED_VIDEO_WINDOWS
from ..heap import release
from .compare import Level
from .components import UnionFind
from .sketches import ANY_VIEW, TURNED

if TYPE_CHECKING:
    from .index import HammingIndex, Hits
# The index (compiled with numba) is imported where it is used: a rescan that searches nothing
# does not pay for loading the compiler.
QUERY_ROWS = 40_000  # pictures whose rotations or windows are searched at once, at most
FIRST_ROWS = 500  # ...in the first slice, and at least (the first tells how crowded the views are)
HITS = 1_000_000  # hits a slice of them should bring (bounds memory where every window is crowded)
COMPACT = 1 << 20  # pairs turned away at a first look, kept apart before they are merged into one set
RANGES = 16  # ranges of pair keys merged apart (a merge's memory: a sixteenth of the set)


PER_PICTURE = 24  # candidate pairs a picture brings, at most, per kind of evidence (the nearest)
# the turns a cropped copy is searched in (a quarter either way: a crop set upright or on its side)
QUARTERS = np.array([k for k, d in enumerate(phash.DIHEDRAL) if d.transpose and not d.is_mirror])
LOOKAHEAD = 4  # connect: candidate pairs looked at per round, per pair verified at most
SQUARISH = 1.25  # a picture at most this much wider than tall (or taller than wide) may turn either way


def orientation(width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """1 for pictures clearly wider than tall, -1 clearly taller than wide, 0 nearly square: a crop
    turned a quarter is the other way (a crop window may be up to 1.25 times narrower or wider)."""
    ratio = np.asarray(width, dtype=np.float64) / np.maximum(np.asarray(height, dtype=np.float64), 1)
    return np.where(ratio > SQUARISH, 1, np.where(ratio < 1 / SQUARISH, -1, 0)).astype(np.int8)


@dataclass
class Candidates:
    """Candidate pairs (i, j), i < j, and what the limit per picture left out: the pictures whose
    neighbourhood was crowded (look-alikes: skies, fog, product shots on white) and how many of
    their farther neighbours were not proposed; and how many pairs the sketches turned away.
    `may_crop[k]`: whether a view that kept pair k (within the limit per picture, past the first
    look) may show one picture as a part of the other; every view may but the same window of
    both, which says "alike but for a local edit elsewhere" (a pair kept by it alone is a copy
    in the same framing or none)."""

    pairs: np.ndarray
    may_crop: np.ndarray
    crowded: int = 0
    left_out: int = 0
    turned_away: int = 0


# (a, b, view_a, view_b, either): see sketches.Sketches.reachable
Screen = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


class _Keys:
    """A set of pair keys (below `end`) gathered in parts, held in ranges of keys, each key as its
    offset in its range (4 bytes: ranges of at most 2**32 keys, at least RANGES of them); a
    range's parts are merged into one sorted array whenever they come to half of it (each pair
    held once: memory bounded by the set, not by how often its pairs are proposed, and a merge
    holds little more than one range)."""

    def __init__(self, end: int) -> None:
        count = max(RANGES, -(-end // 2**32))
        self.starts = (np.arange(count, dtype=np.int64) * -(-end // count)) if end else np.zeros(1, np.int64)
        self.ranges: list[list[np.ndarray]] = [[np.zeros(0, dtype=np.uint32)] for _ in self.starts]

    def add(self, keys: np.ndarray) -> None:
        keys = unique(keys)
        cuts = np.searchsorted(keys, self.starts[1:])
        for parts, start, part in zip(self.ranges, self.starts.tolist(), np.split(keys, cuts)):
            if len(part):
                parts.append((part - start).astype(np.uint32))
                if sum(map(len, parts[1:])) > len(parts[0]) // 2 + COMPACT // RANGES:
                    parts[:] = [_merged(parts)]

    def by_range(self) -> Iterator[np.ndarray]:
        """The keys of each range in turn, sorted, each once."""
        for parts, start in zip(self.ranges, self.starts.tolist()):
            parts[:] = [_merged(parts)]
            yield parts[0].astype(np.int64) + start

    def all(self) -> np.ndarray:
        """The keys, sorted, each once."""
        return np.concatenate(list(self.by_range()))


def _merged(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted arrays of unique keys merged into one."""
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate(parts)
    keys.sort(kind="stable")  # a merge of sorted runs (Timsort finds them)
    return deduplicated(keys)


class _Gathered:
    """Candidate pairs as one int64 each (min * n + max), each kind of evidence limited per picture
    and, with a `screen`, looked at in the alignment that proposed it."""

    def __init__(self, n: int, screen: Screen | None):
        self.n, self.screen, self.crowded, self.left_out = n, screen, set(), 0
        self.keys, self.dropped, self.cropping = _Keys(n * n), _Keys(n * n), _Keys(n * n)

    def add(self, a: np.ndarray, b: np.ndarray, distance: np.ndarray, views: tuple, index: HammingIndex | None = None,
            owner: Callable[[np.ndarray], np.ndarray] = lambda q: q,
            both: np.ndarray | None = None) -> None:  # fmt: skip
        """Pairs (a[k], b[k]) at `distance[k]`, proposed by view views[0][k] of a over views[1][k] of
        b (view codes as in sketches.py; scalars for all); `index` (the search that found them)
        tells which queries were cut, `owner` turns its query numbers into pictures; `both[k]`:
        the pair was proposed from b's side too, in the same views (a self-join's: see `join`)."""
        pick = np.flatnonzero(a != b)
        near, left = _nearest(a[pick], distance[pick], b[pick])
        if index is not None:
            self.crowded.update(owner(index.cut.queries).tolist())
            self.left_out += index.cut.left_out
        self._leave_out(a[pick[left]])
        pick = pick[near]
        for start in range(0, len(pick), COMPACT):  # a slice at a time: the look's memory is bounded
            part = pick[start : start + COMPACT]
            pa, pb = a[part], b[part]
            key = np.minimum(pa, pb) * self.n + np.maximum(pa, pb)
            va, vb = (v[part] if np.ndim(v) else np.full(len(part), v, dtype=np.int16) for v in views)
            if self.screen is not None:
                seen = self.screen(pa, pb, va, vb, None if both is None else both[part])
                self.dropped.add(key[~seen])
                key, va, vb = key[seen], va[seen], vb[seen]
            self.keys.add(key)
            self.cropping.add(key[(va < TURNED) | (vb < TURNED)])  # any view but the same window of both

    def join(self, found: Iterator[Hits], keep: Callable | None = None) -> tuple[np.ndarray, ...]:
        """A self-join's pairs (i, j, distance, both) as they are found (those `keep` keeps), among
        i's PER_PICTURE nearest: what `add` keeps of them. A pair among both pictures' nearest
        comes once, from the first picture's side, with `both` set (its views are the same from
        either side: it is looked at once). A pair among neither picture's nearest so far is among
        neither's when all have come (more pairs only push it back), so it is left out as soon as
        it is seen: the join holds about PER_PICTURE pairs a picture, not all it finds."""
        small = np.int32 if self.n < 2**31 else np.int64  # (held: half the memory)
        held: list[tuple[np.ndarray, ...]] = [(np.zeros(0, small),) * 2 + (np.zeros(0, np.uint8),)]
        trimmed = 0
        for hits in found:
            picked = hits if keep is None else tuple(c[keep(hits[0], hits[1])] for c in hits)
            held.append((picked[0].astype(small), picked[1].astype(small), picked[2]))
            if sum(len(h[0]) for h in held) > 2 * trimmed + COMPACT:
                q, i, d = (np.concatenate(c) for c in zip(*held))
                near = self._near_each_way(q, i, d)
                pair = near[: len(q)] | near[len(q) :]  # either way among the nearest
                self._leave_out(np.concatenate([q[~pair], i[~pair]]))
                held, trimmed = [(q[pair], i[pair], d[pair])], int(pair.sum())
        q, i, d = (np.concatenate(c) for c in zip(*held))
        del held
        near = self._near_each_way(q, i, d)
        first, second = np.split(near, 2)  # row k of each: pair k from q[k]'s side, from i[k]'s side
        self._leave_out(np.concatenate([q[~first], i[~second]]))
        both = second[first]  # (before `second`, a view of `near`, loses the pairs `first` has)
        second &= ~first
        a, b = (np.concatenate([x[first], y[second]]).astype(np.int64) for x, y in ((q, i), (i, q)))
        return a, b, np.concatenate([d[first], d[second]]), np.r_[both, np.zeros(np.count_nonzero(second), bool)]

    @staticmethod
    def _near_each_way(q: np.ndarray, i: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Whether each pair (q[k], i[k]) is among q[k]'s nearest (the first half) and i[k]'s (the second)."""
        return _nearest(np.concatenate([q, i]), np.concatenate([d, d]), np.concatenate([i, q]))[0]

    def _leave_out(self, pictures: np.ndarray) -> None:
        """Pairs of `pictures` (one each) left out by the limit per picture."""
        self.crowded.update(unique(pictures).tolist())
        self.left_out += len(pictures)

    def result(self) -> Candidates:
        keys = self.keys.all()
        # turned away by every view that proposed them: in no other view's kept pairs
        away = sum(len(dropped) - int(np.count_nonzero(_among(dropped, keys))) for dropped in self.dropped.by_range())
        pairs = np.stack([keys // self.n, keys % self.n], axis=1)
        return Candidates(pairs, _among(keys, self.cropping.all()), len(self.crowded), self.left_out, away)


def _both_ways(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (a[k], b[k]) at d[k] from either picture's side: a's rows, then b's."""
    return np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([d, d])


def _among(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Which of `keys` are `among` the sorted keys (looked up a slice at a time: bounded memory)."""
    found = np.zeros(len(keys), dtype=bool)
    if len(among):
        for start in range(0, len(keys), COMPACT):
            part = keys[start : start + COMPACT]
            found[start : start + COMPACT] = among[np.minimum(np.searchsorted(among, part), len(among) - 1)] == part
    return found


def _nearest(a: np.ndarray, distance: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows (a[k], b[k]) are of picture a[k]'s PER_PICTURE nearest partners b, and which of
    the partners left out, one row each pair (see nearest.nearest_partners)."""
    from .nearest import nearest_partners  # (compiled: loaded with the index)

    return nearest_partners(a, b, distance, PER_PICTURE)


class Rows(Protocol):
    """An (N, views) uint64 hash matrix laid out as ImageFingerprint.hashes, read by rows:
    `rows[k]` for a slice or row numbers (an array, or the catalog's StoredHashes)."""

    def __len__(self) -> int: ...
    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray: ...


@dataclass
class _Search:
    """One kind of evidence searched a slice of pictures at a time: their `columns` against `index`
    (of the picture hashes, or of the `turned` pictures' quarter turns), view codes from `first`."""

    columns: slice
    index: HammingIndex
    radius: int
    first: int
    turned: np.ndarray | None = None


def candidate_pairs(hashes: Rows, level: Level, screen: Screen | None = None,
                    shapes: np.ndarray | None = None) -> Candidates:  # fmt: skip
    """Pairs of pictures that may show the same picture. `hashes` is (N, views) uint64 as in
    ImageFingerprint.hashes (`Rows`). Kinds of evidence, each a Hamming-radius search:
    - the pictures' hashes are close (re-encoded, resized, recoloured, ...);
    - a rotation/mirror or a crop window of one is close to the other's picture hash;
    - a crop window of one is close to the other's picture turned a quarter (a crop on its side;
      with `shapes`, each picture's `orientation`, only between pictures a quarter turn may join);
    - the same window of both is close (a local edit such as a watermark elsewhere);
    - the average hashes are close, a local edit flipping few of their bits, and the pHashes
      are not far apart (average hashes alone match too many different pictures).
    Views that show nothing (a plain window, phash.FLAT; an average hash of a small subject on a
    plain ground) are not searched: they would crowd together whatever the pictures show.
    Each picture brings at most PER_PICTURE pairs of each kind, its nearest: among look-alikes
    (a folder of skies) a copy is nearer than the others, and the work stays bounded. `screen`
    (sketches.Sketches.reachable) then looks at each pair in the views that proposed it.
    The matrix is read a slice of rows at a time, each row three times (its few columns searched
    whole, its turns and windows, its windows against quarter turns): the search never holds it."""
    from .index import HammingIndex, layout

    n = len(hashes)
    gathered = _Gathered(n, screen)
    if n < 2:
        return gathered.result()
    whole = [0, *QUARTERS, *(FIRST_WINDOW + w for w in SHARED_WINDOWS), AVERAGE, INNER]
    columns = np.concatenate([hashes[start : start + QUERY_ROWS][:, whole] for start in range(0, n, QUERY_ROWS)])
    pictures, quarters = np.ascontiguousarray(columns[:, 0]), np.ascontiguousarray(columns[:, 1 : 1 + len(QUARTERS)])
    late = {column: np.ascontiguousarray(columns[:, k]) for k, column in enumerate(whole) if k > len(QUARTERS)}
    del columns
    indexes: dict[tuple, HammingIndex] = {}  # by layout: searches that want the same tables share them

    def picture_index(radius: int, queries: int) -> HammingIndex:
        """The index of the picture hashes for searches at `radius` of about `queries` queries each."""
        chunks = layout(n, radius, queries)
        if chunks not in indexes:
            indexes[chunks] = HammingIndex(pictures, radius, chunks, queries)
        return indexes[chunks]

    index = picture_index(level.radius, n)
    q, i, d, both = gathered.join(index.parts(None, level.radius, PER_PICTURE))
    gathered.add(q, i, d, (0, 0), index, both=both)
    del q, i, d, both
    release()  # (each kind of evidence's transients given back before the next's)
    everyone = np.arange(n)
    searched = min(n, QUERY_ROWS)  # pictures whose views one search takes, about
    turns, windows = slice(1, AVERAGE), slice(FIRST_WINDOW, INNER)
    per = windows.stop - windows.start
    _search_views(gathered, hashes, everyone, [
        _Search(turns, picture_index(level.view_radius, searched * (AVERAGE - 1)), level.view_radius, 1),
        _Search(windows, picture_index(level.window_radius, searched * per), level.window_radius, TURNED)])  # fmt: skip
    # the windows of a picture against the quarter turns of the others: a crop on its side (none
    # between two pictures both clearly wider than tall, or both clearly taller than wide)
    for side in [None] if shapes is None else [-1, 0, 1]:
        croppers = everyone if side is None else np.flatnonzero(shapes == side)
        cropped = everyone if not side else np.flatnonzero(shapes != side)
        if len(croppers) and len(cropped):
            index = HammingIndex(quarters[cropped].ravel(), level.window_radius, queries=searched * per)
            _search_views(gathered, hashes, croppers, [_Search(windows, index, level.window_radius, TURNED, cropped)])
            del index
    del quarters

    def self_join(rows: np.ndarray, column: int, views: tuple[int, int], close: Callable | None = None) -> None:
        """The pairs among `rows` whose hashes in `column` are within the view radius (and `close`)."""
        index = HammingIndex(late[column][rows], level.view_radius)
        keep = (lambda q, i: close(rows[q], rows[i])) if close else None
        q, i, d, both = gathered.join(index.parts(None, level.view_radius, PER_PICTURE), keep)
        q, i = rows[q], rows[i]  # (the join's own numbers let go before the pairs are added)
        gathered.add(q, i, d, views, index, lambda k: rows[k], both)
        release()

    for w in SHARED_WINDOWS:
        self_join(np.flatnonzero(late[FIRST_WINDOW + w] != phash.FLAT), FIRST_WINDOW + w, (TURNED + w,) * 2)
    ones = np.bitwise_count(late[AVERAGE]).astype(np.int64)
    # an average hash with few bits set (or unset) is within the radius of every other such one: a
    # small subject on a plain ground; the pHashes must not be far apart either
    self_join(np.flatnonzero(np.minimum(ones, 64 - ones) > level.view_radius), AVERAGE, (0, 0),
              lambda q, i: np.bitwise_count(pictures[q] ^ pictures[i]) <= 3 * level.radius)  # fmt: skip
    shots = np.flatnonzero(late[INNER] != NO_INNER)
    if len(shots):
        # a screenshot's inner picture: close to the other's picture, or to the other's inner picture
        index = picture_index(level.view_radius, len(shots))
        q, i, d = index.search(late[INNER][shots], level.view_radius, PER_PICTURE + 1)  # (+1: its own row)
        gathered.add(*_both_ways(shots[q], i, d), (ANY_VIEW, ANY_VIEW), index, lambda k: shots[k])
        self_join(shots, INNER, (ANY_VIEW, ANY_VIEW))
    return gathered.result()


def _search_views(gathered: _Gathered, hashes: Rows, rows: np.ndarray, searches: list[_Search]) -> None:
    """Each search's views of `rows` against its index, a slice of the pictures at a time (as many
    as bring about HITS hits: look-alikes bring PER_PICTURE a view, other pictures few), each slice
    read once for all the searches and only its searched columns kept."""
    start, step = 0, FIRST_ROWS
    while start < len(rows):
        part = rows[start : start + step]
        start += len(part)
        block = hashes[part]
        views = [block[:, search.columns].ravel() for search in searches]
        del block
        found = 0
        for search in searches:
            per = search.columns.stop - search.columns.start
            codes, shown = _shown(views.pop(0))
            # places for the picture's own row and, in the quarter turns, for each row of a partner
            rows_each = 1 if search.turned is None else len(QUARTERS)
            vq, vi, vd = search.index.search(codes, search.radius, (PER_PICTURE + 1) * rows_each)
            del codes
            found += len(vq)
            vq = vq if shown is None else shown[vq]
            if search.turned is None:
                partner, view_b = vi, 0
            else:
                partner, view_b = search.turned[vi // len(QUARTERS)], QUARTERS[vi % len(QUARTERS)].astype(np.int16)
            gathered.add(part[vq // per], partner, vd, ((vq % per + search.first).astype(np.int16), view_b),
                         search.index, lambda q, per=per, part=part, shown=shown:
                         part[(q if shown is None else shown[q]) // per])  # fmt: skip
        step = int(np.clip(len(part) * HITS / max(found, 1), FIRST_ROWS, QUERY_ROWS))
    release()


def _shown(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The codes that show something (a plain window, phash.FLAT, shows nothing) and their places
    among `codes`; None when all do (then nothing is copied)."""
    flat = codes == phash.FLAT
    if not flat.any():
        return codes, None
    shown = np.flatnonzero(~flat)
    return codes[shown], shown


def video_candidate_pairs(frames: list[np.ndarray], radius: int) -> np.ndarray:
    """(i, j) pairs of videos, i < j, with at least two frames whose hashes are close, in any
    column (rotations, mirrors, crop windows) of one against the picture hash of the other.
    `frames[v]` is video v's (frames, columns) hash array; all frames share one index."""
    from .index import HammingIndex

    if len(frames) < 2 or not sum(len(f) for f in frames):
        return np.zeros((0, 2), dtype=np.int64)
    counts, owner, hashes = _frame_table(frames)
    q, i, _ = HammingIndex(hashes[:, 0], radius).search(hashes.ravel(), radius)
    q //= hashes.shape[1]
    a, b = owner[q], owner[i]
    keep = a != b
    found: list[np.ndarray] = [np.stack([q[keep], i[keep]], axis=1)]
    for w in SHARED_VIDEO_WINDOWS:  # the same window of both: a logo or caption outside it
        shown = np.flatnonzero(hashes[:, VIDEO_DIHEDRAL + w] != phash.FLAT)  # plain (a black frame's) are not
        wq, wi, _ = HammingIndex(hashes[shown, VIDEO_DIHEDRAL + w], radius).pairs(radius)
        wq, wi = shown[wq], shown[wi]
        keep = owner[wq] != owner[wi]
        found.append(np.stack([wq[keep], wi[keep]], axis=1))
    frame_pairs = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    pairs, votes = np.unique(np.sort(owner[frame_pairs], axis=1), axis=0, return_counts=True)
    few = np.minimum(counts[pairs[:, 0]], counts[pairs[:, 1]]) < 2
    return pairs[(votes >= 2) | few]


def frame_candidates(pictures: np.ndarray, frames: list[np.ndarray], radius: int) -> np.ndarray:
    """(image, video) pairs where the image's picture hash is close to one of the video's frames."""
    from .index import HammingIndex

    if not len(pictures) or not sum(len(f) for f in frames):
        return np.zeros((0, 2), dtype=np.int64)
    _, owner, hashes = _frame_table(frames)
    q, i, _ = HammingIndex(hashes[:, 0], radius).search(pictures, radius)
    return np.unique(np.stack([q, owner[i]], axis=1), axis=0)


def _frame_table(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All videos' frame hashes in one table: frames per video, the video of each row, the rows."""
    counts = np.array([len(f) for f in frames])
    hashes = np.concatenate([f for f in frames if len(f)]).astype(np.uint64)
    return counts, np.repeat(np.arange(len(frames)), counts), hashes


def connect(
    pairs: np.ndarray,
    verify: Callable[[list[list[int]]], list[bool]],
    progress: Callable[[int, int], None] | None = None,
    batch: int = 512,
) -> list[tuple[int, int]]:
    """Verified pairs that connect the candidates into clusters. `pairs` are rows (i, j, ...):
    columns after the pair's own go to `verify` with it (what the search knows of the pair).

    Only pairs that would join two clusters are verified: a pair whose files are already
    connected through verified pairs is not verified again (grouping verifies every duplicate
    against its keeper anyway). Each round verifies at once (in parallel, by `verify`) up to
    `batch` pairs, none joining what another of them joins (a forest); a pair set aside for that
    waits for their verdicts and is verified in a later round only if its files are still apart.
    A family of n copies is connected by n - 1 verifications, not by its n(n - 1)/2 candidate pairs.
    """
    clusters = UnionFind()
    edges: list[tuple[int, int]] = []
    todo = pairs.tolist()
    start = 0
    waiting: list[list[int]] = []  # set aside in the last round
    while waiting or start < len(todo):
        window = waiting + todo[start : start + max(0, LOOKAHEAD * batch - len(waiting))]
        start += len(window) - len(waiting)
        trial = UnionFind()  # the clusters if every chosen pair is a copy
        chosen: list[list[int]] = []
        waiting = []
        for row in window:
            a, b = clusters.find(row[0]), clusters.find(row[1])
            if a == b:
                continue  # connected already
            if len(chosen) == batch or trial.find(a) == trial.find(b):
                waiting.append(row)
            else:
                trial.union(a, b)
                chosen.append(row)
        for row, ok in zip(chosen, verify(chosen)):
            if ok:
                edges.append((row[0], row[1]))
                clusters.union(row[0], row[1])
        if progress:
            progress(start, len(todo))
    return edges
