"""Grouping and ranking: keeper choice, no chaining, and invariants as properties."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import photo, save
from mediadup import scan
from mediadup.group.build import build_groups
from mediadup.group.rank import rank
from mediadup.match.compare import Match
from mediadup.records import FileStat, GroupMember, ImageInfo, Kind, Relation

INFO = ImageInfo(
    width=100,
    height=100,
    format="JPEG",
    mode="RGB",
    content_width=100,
    content_height=100,
    jpeg_quality=90,
    chroma=30.0,
)


def stat(name: str, size: int = 1000, mtime: int = 0) -> FileStat:
    return FileStat(f"/lib/{name}", size, mtime, 1, hash(name) & 0xFFFF, Kind.IMAGE)


def member(name: str, **info) -> GroupMember:
    return GroupMember(
        stat(name, info.pop("size", 1000), info.pop("mtime", 0)),
        Relation.KEEPER,
        info=dataclasses.replace(INFO, **info),
    )


def test_rank_prefers_resolution_then_colour_lossless_metadata_quality_size_age() -> None:
    cases = [
        (member("a", width=200, height=100, content_width=200), member("b"), "highest resolution (200x100)"),
        (member("a"), member("b", monochrome=True), "in full colour (not grayscale or toned)"),
        (member("a", format="PNG", jpeg_quality=None), member("b"), "lossless (PNG)"),
        (member("a"), member("b", format="PNG"), "the JPEG, not a lossless file converted from it"),
        (member("a", format="PNG"), member("b", jpeg_quality=80), "higher JPEG quality (q90, kept as PNG)"),
        (member("a", camera="Canon EOS"), member("b"), "keeps the camera metadata (EXIF)"),
        (member("a", jpeg_quality=95), member("b", jpeg_quality=80), "higher JPEG quality (q95)"),
        (member("a", size=2000), member("b", size=1000), "largest file (least compressed)"),
        (member("a", mtime=1), member("b", mtime=5), "oldest copy"),
    ]
    for best, other, reason in cases:
        for order in ([best, other], [other, best]):
            ranked, why = rank(order)
            assert ranked[0] is best and why == reason


def test_letterboxed_copy_is_not_higher_resolution() -> None:
    padded = member("letterbox", height=160, content_height=100, jpeg_quality=95)
    original = member("original", jpeg_quality=90)
    assert rank([padded, original])[0][0] is original


def build(names: list[str], edges: set[frozenset[str]], verified: set[frozenset[str]]):
    stats = {f"/lib/{n}": stat(n, 1000 * (i + 1)) for i, n in enumerate(names)}

    def verify(pairs: list[tuple[str, str]]) -> list[Match | None]:
        keys = [frozenset((a.rsplit("/", 1)[1], b.rsplit("/", 1)[1])) for a, b in pairs]
        return [Match(Relation.NEAR_DUPLICATE, 0.99, {}) if key in verified else None for key in keys]

    pairs = [tuple(f"/lib/{n}" for n in sorted(e)) for e in edges]
    return build_groups(stats, {}, {p: INFO for p in stats}, pairs, verify)


def test_a_chain_does_not_make_one_group() -> None:
    # c is the largest file, so the keeper; a~b and b~c verify, a~c does not
    chain = {frozenset("ab"), frozenset("bc")}
    groups = build(["a", "b", "c"], chain, chain)
    assert [(g.keeper.path, [d.path for d in g.duplicates]) for g in groups] == [("/lib/c", ["/lib/b"])]


def test_every_families_keeper_is_verified_in_one_call() -> None:
    """The first keeper of each family is known before any verdict: their pairs go to the workers
    together (one family's pairs alone are a batch for one core), the groups as before."""
    families = ["abc", "def", "ghij"]
    verified = {frozenset(p) for f in families for p in pairwise(f)} | {frozenset("ac"), frozenset("fd")}
    stats = {f"/lib/{n}": stat(n, 1000 * (i + 1)) for i, n in enumerate("abcdefghij")}
    calls: list[int] = []

    def verify(pairs: list[tuple[str, str]]) -> list[Match | None]:
        calls.append(len(pairs))
        return [Match(Relation.NEAR_DUPLICATE, 0.99, {}) if frozenset((a[-1], b[-1])) in verified else None
                for a, b in pairs]  # fmt: skip

    edges = [(f"/lib/{a}", f"/lib/{b}") for a, b in map(sorted, verified)]
    groups = build_groups(stats, {}, {p: INFO for p in stats}, edges, verify)
    assert calls[0] == 2 + 2 + 3, "the three keepers' pairs in the first call"
    assert len(calls) == 2, "then one call for what the keepers left (g and h: j verifies only i)"
    found = sorted((g.keeper.path[-1], "".join(sorted(d.path[-1] for d in g.duplicates))) for g in groups)
    assert found == [("c", "ab"), ("f", "de"), ("h", "g"), ("j", "i")]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_group_invariants(data: st.DataObject) -> None:
    names = [chr(ord("a") + i) for i in range(data.draw(st.integers(2, 9)))]
    pair = st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(lambda p: p[0] != p[1])
    verified = {frozenset(p) for p in data.draw(st.lists(pair, max_size=20))}
    edges = {e for e in verified if data.draw(st.booleans())}
    groups = build(names, edges, verified)
    seen: list[str] = []
    for g in groups:
        assert g.duplicates, "a group always has a duplicate besides its keeper"
        for d in g.duplicates:  # every duplicate is verified against its own keeper, never through a chain
            assert frozenset((g.keeper.path[-1], d.path[-1])) in verified
        seen += [m.path for m in g.members]
    assert len(seen) == len(set(seen)), "no file is in two groups"


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(900, 1100), min_size=2, max_size=6), seed=st.randoms())
def test_keeper_does_not_depend_on_the_order_files_were_found(sizes: list[int], seed) -> None:
    members = [member(f"f{i}", size=s, mtime=i) for i, s in enumerate(sizes)]
    first = rank(members)
    shuffled = list(members)
    seed.shuffle(shuffled)
    assert rank(shuffled) == first


def test_in_a_large_cluster_byte_identical_copies_of_a_duplicate_join_too(tmp_path: Path, monkeypatch) -> None:
    """Above MAX_COMPARED a keeper is compared with its own candidates only; edges join one file
    of each content, so the byte-identical twins of a matched copy must come along."""
    import shutil

    from mediadup.group import build

    monkeypatch.setattr(build, "MAX_COMPARED", 3)
    lib = tmp_path / "lib"
    a = photo(90, (640, 480))
    save(a, lib / "master.png")
    save(a, lib / "a.jpg", quality=90)
    shutil.copy(lib / "a.jpg", lib / "a copy.jpg")
    shutil.copy(lib / "a.jpg", lib / "a copy 2.jpg")
    save(a.resize((320, 240)), lib / "a small.jpg", quality=85)
    (group,) = scan(lib, catalog=str(tmp_path / "c.sqlite")).groups
    assert {Path(m.path).name for m in group.members} == {"master.png", "a.jpg", "a copy.jpg", "a copy 2.jpg",
                                                          "a small.jpg"}  # fmt: skip
