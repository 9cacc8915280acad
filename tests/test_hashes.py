"""pHash definition, dihedral variants and the Hamming index."""

from __future__ import annotations

import sys

import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import photo
from mediadup.arrays import unique
from mediadup.fingerprint import phash
from mediadup.match.index import HammingIndex
from mediadup.match.nearest import nearest, nearest_partners


def test_phash_matches_imagehash() -> None:
    for seed in range(5):
        im = photo(seed, (300, 200))
        assert f"{phash.phash(im):016x}" == str(imagehash.phash(im))


def test_dihedral_variants_are_the_hashes_of_turned_pictures() -> None:
    im = photo(11, (320, 240)).convert("L")
    luma32 = np.asarray(im.resize((32, 32), Image.Resampling.LANCZOS))
    for d, h in zip(phash.DIHEDRAL, phash.dihedral_hashes(luma32)):
        turned = Image.fromarray(np.ascontiguousarray(d.apply(luma32)))
        assert phash.hamming(h, phash.hash_block(phash.dct_block(np.asarray(turned)))) == 0, d.name
    assert [d.is_mirror for d in phash.DIHEDRAL].count(True) == 4


def test_rotating_a_picture_gives_its_variant_hash() -> None:
    im = photo(12, (320, 240))
    luma32 = np.asarray(im.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
    variants = phash.dihedral_hashes(luma32)
    rotated = phash.phash(im.transpose(Image.Transpose.ROTATE_90))
    assert min(phash.hamming(rotated, v) for v in variants[1:]) <= 2


def brute_force(codes: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int]]:
    d = np.bitwise_count(queries[:, None] ^ codes[None, :])
    return {(int(q), int(i)) for q, i in zip(*np.nonzero(d <= radius))}


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    radius=st.integers(0, 12),
    chunks=st.sampled_from([None, 3, 4, 8, (17, 17, 17, 13), (24, 8, 16, 16), (1, 23, 20, 20)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_index_finds_exactly_the_pairs_brute_force_finds(n: int, radius: int, chunks: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    # plant near neighbours so that small radii have something to find
    flips = rng.integers(0, 64, (n, 3))
    queries = codes ^ np.bitwise_or.reduce(np.uint64(1) << flips.astype(np.uint64), axis=1)
    queries = np.concatenate([queries, rng.integers(0, 2**64, 20, dtype=np.uint64)])
    q, i, d = HammingIndex(codes, radius, chunks).search(queries, radius)
    assert set(zip(q.tolist(), i.tolist())) == brute_force(codes, queries, radius)
    assert (d == np.bitwise_count(queries[q] ^ codes[i])).all()


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 300),
    radius=st.integers(0, 12),
    chunks=st.sampled_from([None, 3, 5, (20, 12, 16, 16)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_index_pairs_are_the_self_join_each_pair_once(n: int, radius: int, chunks: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64, max(1, n // 3), dtype=np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, n).astype(np.uint64)  # clusters of near copies
    codes = base[rng.integers(0, len(base), n)] ^ np.where(rng.random(n) < 0.3, np.uint64(0), flips)  # and repeats
    i, j, d = HammingIndex(codes, radius, chunks).pairs(radius)
    want = {(a, b) for a, b in brute_force(codes, codes, radius) if a < b}
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(want)  # each pair once, never (a, a)
    assert (d == np.bitwise_count(codes[i] ^ codes[j])).all()


@settings(max_examples=30, deadline=None)
@given(
    crowd=st.integers(1, 400),
    limit=st.integers(1, 30),
    chunks=st.sampled_from([None, 3, 4, (20, 12, 16, 16)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_limited_search_keeps_each_querys_nearest_and_says_what_it_left_out(
    crowd: int, limit: int, chunks: int | None, seed: int
) -> None:
    """Look-alikes crowd a query's neighbourhood: it keeps about `limit` hits, the nearest (a
    copy at distance 1 is not lost among look-alikes at 2-8; at one distance the lower rows, in
    any layout of the tables), and `cut` names it."""
    rng = np.random.default_rng(seed)
    query = rng.integers(0, 2**64, 1, dtype=np.uint64)
    bits = np.uint64(1) << rng.integers(0, 64, (crowd, 8)).astype(np.uint64)
    flips = np.bitwise_or.reduce(np.where(rng.random((crowd, 8)) < 0.7, bits, np.uint64(0)), axis=1)
    codes = np.concatenate([query ^ flips, query ^ (np.uint64(1) << np.uint64(5))])  # the copy, last
    index = HammingIndex(codes, 8, chunks)
    _, i, d = index.search(query, 8, limit)
    full = np.bitwise_count(codes ^ query[0])
    within = set(np.flatnonzero(full <= 8).tolist())
    assert set(i.tolist()) <= within and len(set(i.tolist())) == len(i)  # true hits, each once
    assert d.min() == full.min()  # the nearest is always kept (the copy, or a look-alike as near)
    by_rank = [k for k in np.lexsort((np.arange(len(codes)), full)) if full[k] <= 8]
    assert set(by_rank[:limit]) <= set(i.tolist())  # ...and the `limit` nearest, at one distance the lower rows
    assert len(i) <= index.bits.size * limit  # at most `limit` from each table
    if index.cut.left_out == 0:
        assert set(i.tolist()) == within and index.cut.queries.size == 0
    else:
        assert index.cut.queries.tolist() == [0]
    if len(within) > index.bits.size * limit:
        assert index.cut.left_out > 0


def test_the_index_probes_each_table_only_as_far_as_the_radius_needs() -> None:
    """A pair within r bits is found once the tables' flips + 1 sum to more than r (some chunk
    differs in no more than its share): the shares are the cheapest, not r // m everywhere."""
    index = HammingIndex(np.arange(1000, dtype=np.uint64), 6, chunks=4)
    assert sorted(index.flips(6).tolist()) == [0, 1, 1, 1]  # 1 + 2 + 2 + 2 = 7 > 6, not 8
    assert sorted(index.flips(8).tolist()) == [1, 1, 1, 2]  # 9 > 8, not 2 in each (12)
    assert sorted(index.flips(0).tolist()) == [-1, -1, -1, 0]  # an exact match needs one table
    for radius in range(13):
        for widths in [(16, 16, 16, 16), (13, 13, 12, 13, 13), (24, 8, 16, 16)]:
            flips = HammingIndex(np.arange(10, dtype=np.uint64), radius, widths).flips(radius)
            assert (flips + 1).sum() == radius + 1 or ((flips >= 0).all() and (flips + 1).sum() > radius)


def test_a_fresh_install_knows_its_search_is_not_compiled_yet(tmp_path) -> None:
    """The first scan says it is compiling the search (seconds, once), instead of sitting silent."""
    import os
    import subprocess
    import sys

    script = ("import numpy as np\nfrom mediadup.match import colourfit, index, nearest, pattern\n"
              "print(index.compiled(), pattern.compiled(), nearest.compiled(), colourfit.compiled())\n"
              "index.HammingIndex(np.arange(64, dtype=np.uint64), 4).pairs(4)\nprint(index.compiled())\n"
              "nearest.nearest_partners(np.arange(9), np.arange(9), np.ones(9, np.uint8), 2)\n"
              "print(nearest.compiled())\n"
              "big = np.arange(4096, dtype=np.uint8).reshape(64, 64)\n"
              "pattern.search(big, np.ones((32, 32)), (0, 0, 60, 60), 0.5, 0.05)\n"
              "print(pattern.compiled())\ncolourfit.mapped(np.ones((1, 4, 3)), np.ones((1, 4, 3)), 30.0, 0.3)\n"
              "print(colourfit.compiled())")  # fmt: skip
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert first.stdout.split() == ["False"] * 4 + ["True"] * 4, first.stderr
    check = (
        "from mediadup.match import colourfit, index, nearest, pattern\n"
        "print(index.compiled(), nearest.compiled(), pattern.compiled(), colourfit.compiled())"
    )
    again = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=300)
    assert again.stdout.split() == ["True"] * 4


def _components(n: int, edges) -> list[int]:
    """Each node's smallest connected node: components, comparable as lists."""
    from mediadup.match.components import UnionFind

    clusters = UnionFind()
    for i, j in edges:
        clusters.union(i, j)
    return [min(k for k in range(n) if clusters.find(k) == clusters.find(i)) for i in range(n)]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 12))
def test_connect_finds_the_clusters_of_the_true_pairs_verifying_each_pair_once(n: int, seed: int, batch: int) -> None:
    """Candidate pairs verified in batches connect exactly the clusters their true pairs make,
    each pair verified once at most, and only pairs that join two clusters."""
    from mediadup.match.candidates import connect

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, max(1, n // 3), n)  # each picture's original
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.3], dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    asked: list[tuple[int, int]] = []

    def verdicts(rows):
        assert all(k == i * n + j for i, j, k in rows)  # what the search knows of a pair comes with it
        asked.extend((i, j) for i, j, _ in rows)
        return [bool(truth[i] == truth[j]) for i, j, _ in rows]

    edges = connect(np.column_stack([pairs, pairs[:, 0] * n + pairs[:, 1]]), verdicts, batch=batch)
    want = [(i, j) for i, j in pairs.tolist() if truth[i] == truth[j]]
    assert _components(n, edges) == _components(n, want)
    assert set(edges) <= set(want) and len(asked) == len(set(asked))
    # a family whose candidate pairs are all copies is connected by one verification per member
    family = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64).reshape(-1, 2)
    asked.clear()
    edges = connect(family, lambda rows: asked.extend(map(tuple, rows)) or [True] * len(rows), batch=batch)
    assert len(edges) == len(asked) == n - 1


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.integers(1, 600), st.integers(1, 9))
def test_a_self_join_trimmed_as_it_comes_keeps_what_the_limit_per_picture_keeps(seed, n, hits, parts) -> None:
    """Pairs among neither picture's nearest are left out as a self-join's parts come (bounded
    memory): the pairs kept, the crowded pictures and the count left out are those of the whole."""
    from mediadup.match import candidates
    from mediadup.match.index import Hits

    rng = np.random.default_rng(seed)
    q = rng.integers(0, n - 1, hits)
    i = q + 1 + rng.integers(0, n - 1 - q)  # i > q, as a self-join reports them: each pair once
    q, i = np.unique(np.stack([q, i], 1), axis=0)[rng.permutation(len(np.unique(q * n + i)))].T
    hits = len(q)
    d = rng.integers(0, 4, hits).astype(np.uint8)  # few distances: many ties
    cuts = np.sort(rng.integers(0, hits + 1, parts - 1))
    found = [Hits(*(c[a:b] for c in (q, i, d))) for a, b in zip([0, *cuts], [*cuts, hits])]

    whole, trimmed = candidates._Gathered(n, None), candidates._Gathered(n, None)
    whole.add(np.concatenate([q, i]), np.concatenate([i, q]), np.concatenate([d, d]), (0, 0))
    original = candidates.COMPACT
    try:
        candidates.COMPACT = 1  # trimmed at (nearly) every part
        q, i, d, both = trimmed.join(iter(found))
        trimmed.add(q, i, d, (0, 0), both=both)
    finally:
        candidates.COMPACT = original
    assert (trimmed.keys.all() == whole.keys.all()).all()
    assert trimmed.crowded == whole.crowded and trimmed.left_out == whole.left_out


def test_the_crop_window_search_finds_the_same_pairs_in_slices_of_any_size(monkeypatch) -> None:
    """Where every window is crowded, the search takes fewer pictures at a time (bounded memory):
    the pairs it proposes are the same, and so are the pairs a first look turns away (counted
    once each, however often they were proposed, when they are merged as the search goes) and
    what the limit per picture left out (self-joins trimmed to each picture's nearest as their
    parts come)."""
    from mediadup.fingerprint.image import FIRST_WINDOW, INNER, NO_INNER
    from mediadup.match import candidates, index
    from mediadup.match.compare import LEVELS

    rng = np.random.default_rng(3)
    centre = rng.integers(0, 2**64, 1, dtype=np.uint64)
    n, views = 300, INNER + 1
    flips = np.uint64(1) << rng.integers(0, 64, (n, views, 3)).astype(np.uint64)
    hashes = centre ^ np.bitwise_or.reduce(np.where(rng.random((n, views, 3)) < 0.6, flips, np.uint64(0)), axis=2)
    hashes[:, INNER] = NO_INNER
    shapes = rng.choice(np.array([1, -1, 0], np.int8), n)
    level = LEVELS["normal"]

    def screen(a, b, view_a, view_b, either=None):  # a first look that turns away some views of some pairs
        return (a * 7 + b * 3 + view_a + view_b) % 4 != 0

    whole = candidates.candidate_pairs(hashes, level, screen, shapes=shapes)
    monkeypatch.setattr(candidates, "FIRST_ROWS", 10)
    monkeypatch.setattr(candidates, "HITS", 500)  # a few pictures at a time (QUERY_ROWS also plans the index)
    monkeypatch.setattr(candidates, "COMPACT", 50)  # ...merged, and self-joins trimmed, every few parts
    monkeypatch.setattr(index, "QUERY_SLICE", 37)  # self-joins found in many parts
    sliced = candidates.candidate_pairs(hashes, level, screen, shapes=shapes)
    assert hashes[:, FIRST_WINDOW:INNER].shape[1] > 50 and len(whole.pairs) > n and whole.turned_away > n
    assert (sliced.pairs == whole.pairs).all() and sliced.left_out == whole.left_out
    assert (sliced.may_crop == whole.may_crop).all() and 0 < whole.may_crop.sum() < len(whole.pairs)
    assert sliced.crowded == whole.crowded
    assert sliced.turned_away == whole.turned_away


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 1), st.booleans(), st.integers(0, 2**32 - 1))
def test_the_median_is_numpys(rows: int, cols: int, axis: int, whole: bool, seed: int) -> None:
    """The medians of band search and hashing are np.median's, to the bit, for pixels and DCT values."""
    from mediadup.fingerprint.phash import median

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 4 if whole else 256, (rows, cols)).astype(np.uint8)
    coefficients = rng.normal(0, 50, (rows, cols))
    for values in (pixels, coefficients):
        ours, theirs = median(values, axis=axis), np.median(values, axis=axis)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


@given(st.integers(0, 7), st.integers(1, 40), st.integers(1, 40), st.floats(0, 1), st.floats(0, 1))
def test_a_turned_point_lands_where_the_turned_pixels_put_it(k: int, w: int, h: int, fx: float, fy: float) -> None:
    """`apply_points` moves a place (fractions of the width and height) as `apply` moves pixels."""
    turn = phash.DIHEDRAL[k]
    x, y = min(w - 1, int(fx * w)), min(h - 1, int(fy * h))
    pixels = np.zeros((h, w))
    pixels[y, x] = 1
    turned = turn.apply(pixels)
    ty, tx = np.argwhere(turned)[0]
    centre = np.array([[(x + 0.5) / w, (y + 0.5) / h]])
    expected = [(tx + 0.5) / turned.shape[1], (ty + 0.5) / turned.shape[0]]
    assert np.allclose(turn.apply_points(centre)[0], expected)


def test_a_self_join_gives_each_pair_once_marked_when_it_was_among_both_pictures_nearest(monkeypatch) -> None:
    """Both sides of a self-join look alike at a pair: it is looked at once, and the mark lets its
    colour mapping go either way (what its two looks did between them)."""
    from mediadup.match import candidates
    from mediadup.match.index import Hits
    from mediadup.match.sketches import _colours_agree

    monkeypatch.setattr(candidates, "PER_PICTURE", 2)
    # picture 0 is near 1, 2 and 3; each of 1, 2, 3 has 0 as its only neighbour
    q, i, d = np.array([0, 0, 0]), np.array([1, 2, 3]), np.array([1, 2, 3], dtype=np.uint8)
    a, b, dist, both = candidates._Gathered(4, None).join(iter([Hits(q, i, d)]))
    pairs = sorted(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), both.tolist()))
    # 0's two nearest are 1 and 2 (both ways: marked); 3 keeps 0 from its own side only
    assert pairs == [(0, 1, True), (0, 2, True), (0, 3, False)]
    assert (dist[np.argsort(np.maximum(a, b))] == [1, 2, 3]).all()

    rng = np.random.default_rng(5)
    colourful = rng.uniform(30, 220, (1, 64, 3))
    flattened = colourful.copy()
    flattened[..., 2] = 128  # one channel lost: mapped from the first, not back
    assert _colours_agree(colourful, flattened).all() and not _colours_agree(flattened, colourful).any()
    assert _colours_agree(flattened, colourful, np.array([True])).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**26), st.integers(0, 64)), max_size=300),
    st.integers(1, 2**26),
    st.integers(1, 5),
)
def test_the_candidate_searchs_sorts_are_numpys(rows: list[tuple[int, int]], spread: int, limit: int) -> None:
    """The nearest rows of each picture, found by a packed sort and a compiled pass, are those
    np.lexsort's order gives (pictures past the packed key's 25 bits included), and the sorted
    distinct keys are np.unique's."""
    a = np.array([p % spread for p, _ in rows], dtype=np.int64)
    d = np.array([k for _, k in rows], dtype=np.uint8)
    order = np.lexsort((d, a))
    rank = np.empty(len(a), dtype=np.int64)
    rank[order] = np.arange(len(a)) - np.searchsorted(a[order], a[order])
    assert np.array_equal(nearest(a, d, limit), rank < limit)
    assert np.array_equal(unique(a), np.unique(a))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**26), st.integers(0, 2**26), st.integers(0, 64)), max_size=300),
    st.integers(1, 2**26),
    st.integers(1, 40),
    st.integers(1, 5),
)
def test_a_picture_keeps_its_nearest_partners_one_row_each(
    rows: list[tuple[int, int, int]], spread: int, partners: int, limit: int
) -> None:
    """With partners, a picture keeps the rows of its `limit` nearest partners, one row each (the
    nearest, then the earliest), at one distance the lower partner first: a partner seen through
    many views takes one place (pictures and partners past the packed key's bits included)."""
    a = np.array([p % spread for p, _, _ in rows], dtype=np.int64)
    b = np.array([q % partners if q % 2 else q for _, q, _ in rows], dtype=np.int64)
    d = np.array([k for _, _, k in rows], dtype=np.uint8)
    want = np.zeros(len(a), dtype=bool)
    best: dict[tuple[int, int], int] = {}
    for k in sorted(range(len(a)), key=lambda k: (a[k], b[k], d[k], k)):
        best.setdefault((int(a[k]), int(b[k])), k)
    for picture in set(a.tolist()):
        mine = sorted((d[k], b[k], k) for (p, _), k in best.items() if p == picture)
        want[[k for _, _, k in mine[:limit]]] = True
    kept, left = (np.flatnonzero(rows) for rows in nearest_partners(a, b, d, limit))
    assert np.array_equal(kept, np.flatnonzero(want))
    assert len(left) == len(best) - len(kept) and not set(left.tolist()) & set(kept.tolist())


def test_copies_seen_through_many_windows_leave_room_for_a_crop() -> None:
    """A picture whose windows see ten copies of it many times each (a big group of versions)
    still proposes a crop copy seen through one window, farther: places go to partners, not to
    views (each copy took one place per window, and the crop none was left)."""
    from mediadup.fingerprint.image import FIRST_WINDOW, INNER, NO_INNER
    from mediadup.match import candidates
    from mediadup.match.compare import LEVELS

    rng = np.random.default_rng(5)
    level = LEVELS["normal"]
    n, views = 200, INNER + 1
    hashes = rng.integers(0, 2**64, (n, views), dtype=np.uint64)
    hashes[:, INNER] = NO_INNER
    bit = [np.uint64(1) << np.uint64(k) for k in range(64)]
    copies, crop = range(1, 11), 11
    for c in copies:  # each copy's picture hash is within 1-2 bits of five of picture 0's windows
        hashes[0, FIRST_WINDOW + 5 * c : FIRST_WINDOW + 5 * c + 5] = hashes[c, 0] ^ bit[c]
    hashes[0, FIRST_WINDOW + 70] = hashes[crop, 0] ^ bit[1] ^ bit[2] ^ bit[3] ^ bit[4]  # the crop: 4 bits
    pairs = {tuple(p) for p in candidates.candidate_pairs(hashes, level).pairs.tolist()}
    assert {(0, c) for c in copies} <= pairs
    assert (0, crop) in pairs


def test_a_pictures_own_rows_and_a_partners_two_quarter_turns_take_no_partners_place(monkeypatch) -> None:
    """The index's limit per query is in rows, the picture's in partners: the query's own row (in
    a self-join, and where a window is near its own picture) and the two quarter turns of one
    partner are rows a limit of PER_PICTURE rows would count against the PER_PICTURE partners."""
    from mediadup.fingerprint.image import FIRST_WINDOW, INNER, NO_INNER
    from mediadup.match import candidates
    from mediadup.match.candidates import QUARTERS
    from mediadup.match.compare import LEVELS

    bit = [np.uint64(1) << np.uint64(k) for k in range(64)]
    # a self-join: 0's three nearest are 1, 2 (1 bit) and 3 (2 bits); 3's own three are 4-6
    codes = np.array([0, bit[0], bit[1], bit[2] | bit[3], *(bit[2] | bit[3] | bit[k] for k in (10, 20, 30))])
    monkeypatch.setattr(candidates, "PER_PICTURE", 3)
    for chunks in [None, 4, (24, 24, 16)]:
        gathered = candidates._Gathered(len(codes), None)
        index = HammingIndex(codes.astype(np.uint64), 3, chunks)
        a, b, d, both = gathered.join(index.parts(None, 3, 3))
        gathered.add(a, b, d, (0, 0), index, both=both)
        assert (0, 3) in {tuple(p) for p in gathered.result().pairs.tolist()}
    monkeypatch.setattr(candidates, "PER_PICTURE", 24)

    rng = np.random.default_rng(5)
    level = LEVELS["normal"]

    def library() -> np.ndarray:
        hashes = rng.integers(0, 2**64, (200, INNER + 1), dtype=np.uint64)
        hashes[:, INNER] = NO_INNER
        return hashes

    hashes = library()  # a window 5 bits from its own picture, 23 partners at 1 bit, a 24th at 5
    window = hashes[0, FIRST_WINDOW + 3]
    hashes[0, 0] = window ^ bit[40] ^ bit[41] ^ bit[42] ^ bit[43] ^ bit[44]
    for k in range(1, 24):
        hashes[k, 0] = window ^ bit[k]
    hashes[24, 0] = window ^ bit[50] ^ bit[51] ^ bit[52] ^ bit[53] ^ bit[54]
    pairs = {tuple(p) for p in candidates.candidate_pairs(hashes, level).pairs.tolist()}
    assert all((0, k) in pairs for k in range(1, 25))

    hashes = library()  # 12 partners with both quarter turns 1 bit from a window, a 13th at 2
    window = hashes[0, FIRST_WINDOW + 3]
    for k in range(1, 13):
        hashes[k, QUARTERS[0]], hashes[k, QUARTERS[1]] = window ^ bit[k], window ^ bit[k + 20]
    hashes[13, QUARTERS[0]] = window ^ bit[40] ^ bit[41]
    pairs = {tuple(p) for p in candidates.candidate_pairs(hashes, level).pairs.tolist()}
    assert all((0, k) in pairs for k in range(1, 14))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 2**21), st.lists(st.lists(st.integers(0, 2**42), max_size=40), max_size=6))
def test_the_candidate_searchs_key_sets_hold_each_key_once_at_any_size(n: int, parts: list[list[int]]) -> None:
    """The sets of pair keys (n * n of them, held as 4-byte offsets in ranges of at most 2**32
    keys) give back every key added, sorted, once, and the keys of each range in turn."""
    from mediadup.match.candidates import _Keys

    keys = _Keys(n * n)
    added = [np.array([k % (n * n) for k in part], dtype=np.int64) for part in parts]
    for part in added:
        keys.add(part)
    expected = np.unique(np.concatenate([np.zeros(0, np.int64), *added]))
    assert np.array_equal(keys.all(), expected)
    assert np.array_equal(np.concatenate(list(keys.by_range())), expected)
    assert len(keys.ranges) >= max(16, n * n / 2**32)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=400), st.integers(1, 24), st.integers(0, 40))
def test_the_index_orders_codes_by_chunk_key_as_a_stable_sort_does(codes: list[int], bits: int, shift: int) -> None:
    """The compiled counting sort (and, for wide keys and few codes, NumPy's) gives the stable
    order of each chunk's key, and the codes in that order."""
    from mediadup.match.index import _by_key, _chunk

    codes_ = np.array(codes, dtype=np.uint64)
    order, ordered = _by_key(codes_, shift, bits)
    want = np.argsort(_chunk(codes_, shift, bits), kind="stable")
    assert np.array_equal(order, want) and np.array_equal(ordered, codes_[want])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 60.0), st.integers(0, 40), st.booleans())
def test_the_first_looks_colour_fit_is_least_squares_and_the_places_rule(
    seed: int, noise: float, moved: int, plain: bool
) -> None:
    """The compiled colour fit agrees with NumPy's least squares and the places rule
    (compare.colours_agree's): one affine mapping, at most PLACE_OUTLIERS of the places off."""
    from mediadup.match.colourfit import mapped
    from mediadup.match.compare import PLACE_MISFIT, PLACE_OUTLIERS

    rng = np.random.default_rng(seed)
    a = np.full((6, 64, 3), 90.0) if plain else rng.uniform(0, 255, (6, 64, 3))
    b = a @ rng.normal(1, 0.3, (6, 3, 3)) + rng.normal(0, 30, (6, 1, 3)) + rng.normal(0, noise, (6, 64, 3))
    b[:, :moved] = rng.uniform(0, 255, (6, moved, 3))  # places a sticker or another picture changes
    x = np.concatenate([a, np.ones((6, 64, 1))], axis=2)
    want = []
    for k in range(6):
        beta = np.linalg.lstsq(x[k], b[k], rcond=None)[0]
        misfit = np.sqrt(((x[k] @ beta - b[k]) ** 2).mean(axis=1))
        if not plain and np.abs(misfit - PLACE_MISFIT).min() < 1e-3:
            return  # (a place on the line: either answer is the rule's)
        want.append(np.mean(misfit > PLACE_MISFIT) <= PLACE_OUTLIERS)
    assert mapped(a.astype(np.float32), b.astype(np.float32), PLACE_MISFIT, PLACE_OUTLIERS).tolist() == want


def test_the_first_looks_views_are_the_windows_area_averages_turned() -> None:
    """A view of a sketch (one product with a precomputed map) is the box's area averages,
    in the order of the turn, for luminance and for each colour channel alike."""
    from mediadup.fingerprint.image import WINDOWS
    from mediadup.match.sketches import TURNED, VIEW, _view

    rng = np.random.default_rng(3)
    luma = rng.integers(0, 256, (5, 16, 16), dtype=np.uint8)
    colours = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    for code in (0, 3, 5, TURNED, TURNED + 40, TURNED + len(WINDOWS) - 1):
        x0, y0, x1, y1 = (0.0, 0.0, 1.0, 1.0) if code < TURNED else WINDOWS[code - TURNED]
        rows = phash.area_weights(y0 * 16, y1 * 16, 16, VIEW)
        cols = phash.area_weights(x0 * 16, x1 * 16, 16, VIEW)
        turn = phash.DIHEDRAL[code] if code < TURNED else phash.DIHEDRAL[0]
        want = np.stack([turn.apply(rows @ luma[k] @ cols.T).ravel() for k in range(5)])
        assert np.allclose(_view(luma, code), want, atol=1e-3)
        for c in range(3):
            want = np.stack([turn.apply(rows @ colours[k, ..., c] @ cols.T).ravel() for k in range(5)])
            assert np.allclose(_view(colours, code)[..., c], want, atol=1e-3)
        assert _view(luma[:0], code).shape == (0, VIEW * VIEW) and _view(colours[:0], code).shape == (0, VIEW * VIEW, 3)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="a call's arguments move into the callee's frame from 3.11")
def test_the_search_reads_the_hashes_a_slice_of_rows_at_a_time(monkeypatch) -> None:
    """The search never holds the hash matrix (776 bytes a picture): it reads it a slice of rows
    at a time, each row three times (the few columns it searches whole, the turns and windows,
    the windows against quarter turns), and finds the pairs a matrix in memory gives."""
    from mediadup.fingerprint.image import INNER, NO_INNER
    from mediadup.match import candidates
    from mediadup.match.compare import LEVELS

    rng = np.random.default_rng(8)
    matrix = rng.integers(0, 2**64, (300, INNER + 1), dtype=np.uint64)
    matrix[150:] = matrix[:150] ^ (np.uint64(1) << rng.integers(0, 64, (150, INNER + 1), dtype=np.uint64))  # copies
    matrix[:, INNER] = NO_INNER
    shapes = rng.choice(np.array([-1, 0, 1], np.int8), 300)
    reads: list[int] = []

    class Read:
        def __len__(self) -> int:
            return len(matrix)

        def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
            block = matrix[rows].copy()
            reads.append(len(block))
            return block

    monkeypatch.setattr(candidates, "QUERY_ROWS", 40)
    monkeypatch.setattr(candidates, "FIRST_ROWS", 10)
    found = candidates.candidate_pairs(Read(), LEVELS["normal"], shapes=shapes)
    assert max(reads) <= 40 and sum(reads) == 3 * len(matrix)
    assert np.array_equal(found.pairs, candidates.candidate_pairs(matrix, LEVELS["normal"], shapes=shapes).pairs)
    assert len(found.pairs) >= 150
