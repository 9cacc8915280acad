"""End-to-end scans through the Python API on real image files."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from conftest import photo, save, tree_state
from mediadup import Relation, scan
from mediadup.report.text import print_summary

COPIES_OF_A = {
    "original.jpg",
    "original copy.jpg",
    "small.jpg",
    "recompressed.jpg",
    "lossless.png",
    "rotated.jpg",
    "mirrored.jpg",
    "cropped.jpg",
    "gray.jpg",
}


def names(group) -> set[str]:
    return {os.path.basename(m.path) for m in group.members}


def test_finds_every_kind_of_copy_and_nothing_else(library: Path, catalog: str) -> None:
    result = scan([library], catalog=catalog, jobs=2)
    assert result.skipped == []
    groups = sorted(result.groups, key=lambda g: -len(g.members))
    assert [names(g) for g in groups] == [COPIES_OF_A, {"b.jpg", "b small.webp"}]
    relations = {os.path.basename(m.path): m.relation for m in groups[0].duplicates}
    assert relations["rotated.jpg"] is Relation.ROTATED
    assert relations["mirrored.jpg"] is Relation.MIRRORED
    assert relations["cropped.jpg"] is Relation.CROPPED
    assert relations["small.jpg"] is Relation.NEAR_DUPLICATE


def test_keeper_is_the_best_copy_with_a_reason(library: Path, catalog: str) -> None:
    result = scan([library], catalog=catalog)
    group = next(g for g in result.groups if "lossless.png" in names(g))
    assert os.path.basename(group.keeper.path) == "lossless.png"
    assert group.reason == "lossless (PNG)"
    other = next(g for g in result.groups if "b.jpg" in names(g))
    assert os.path.basename(other.keeper.path) == "b.jpg"
    assert other.reason.startswith("highest resolution (640x480)")


def test_identical_bytes_are_identical(tmp_path: Path, catalog: str) -> None:
    a = photo(3)
    first = save(a, tmp_path / "lib" / "a.jpg", quality=95)
    second = save(a, tmp_path / "lib" / "later" / "a.jpg", quality=95)
    os.utime(second, (first.stat().st_mtime + 60,) * 2)
    save(a.resize((320, 240)), tmp_path / "lib" / "a small.jpg", quality=95)
    [group] = scan([tmp_path / "lib"], catalog=catalog).groups
    assert group.keeper.path == str(first)
    assert group.reason == "oldest copy"
    relations = {m.path: m.relation for m in group.duplicates}
    assert relations[str(second)] is Relation.IDENTICAL
    assert relations[str(tmp_path / "lib" / "a small.jpg")] is Relation.NEAR_DUPLICATE
    assert group.reclaimable == second.stat().st_size + (tmp_path / "lib" / "a small.jpg").stat().st_size


def test_exact_only_reads_no_pixels(library: Path, catalog: str) -> None:
    result = scan([library], catalog=catalog, exact_only=True)
    assert result.summary.fingerprinted == 0
    assert [names(g) for g in result.groups] == [{"original.jpg", "original copy.jpg"}]


def test_distinct_pictures_are_never_grouped(tmp_path: Path, catalog: str) -> None:
    for seed in range(20):
        save(photo(100 + seed, (320, 240)), tmp_path / "p" / f"{seed}.jpg", quality=90)
    for level in ("strict", "normal", "loose"):
        assert scan([tmp_path / "p"], catalog=catalog, level=level).groups == []


def test_scan_modifies_nothing(library: Path, catalog: str) -> None:
    before = tree_state(library)
    scan([library], catalog=catalog)
    assert tree_state(library) == before


def test_catalog_inside_the_scanned_tree_is_not_scanned(library: Path) -> None:
    catalog = library / "catalog.sqlite"
    result = scan([library], catalog=catalog)
    assert all("catalog.sqlite" not in m.path for g in result.groups for m in g.members)
    assert not any("catalog.sqlite" in s.path for s in result.skipped)


def test_rescan_of_unchanged_tree_decodes_nothing(library: Path, catalog: str) -> None:
    first = scan([library], catalog=catalog)
    # Overwrite every image with garbage of the same size and restore its mtime: anything that
    # decoded or hashed again would now fail or differ. The cache key (path, size, mtime, inode) holds.
    for dirpath, _, files in os.walk(library):
        for n in files:
            p = os.path.join(dirpath, n)
            st = os.stat(p)
            with open(p, "r+b") as f:
                f.write(b"\0" * st.st_size)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = scan([library], catalog=catalog)
    assert second.summary.fingerprinted == 0 and second.summary.hashed == 0
    assert second.skipped == []
    assert [names(g) for g in second.groups] == [names(g) for g in first.groups]


def test_the_summary_says_where_the_time_went(library: Path, catalog: str) -> None:
    result = scan([library], catalog=catalog)
    stages = result.summary.stages
    assert list(stages)[:4] == ["discovering", "reading the catalog", "hashing", "fingerprinting"]
    assert {"matching", "grouping"} <= set(stages) and min(stages.values()) >= 0
    assert sum(stages.values()) <= result.summary.seconds + 0.01
    console = Console(record=True, width=400)
    print_summary(result, console)
    assert f"fingerprinting {stages['fingerprinting']:.1f}" in console.export_text()
    rescan = scan([library], catalog=catalog)  # its own stages, not added to the first scan's
    assert rescan.summary.stages["fingerprinting"] < stages["fingerprinting"]


def test_a_rescan_with_nothing_to_match_does_not_load_the_compiler(library: Path, catalog: str) -> None:
    """numba (a third of a second to import) is loaded when there is something to match, not by
    every command: a rescan of an unchanged tree, `apply`, `undo` start without it."""
    import subprocess
    import sys

    scan([library], catalog=catalog)
    script = ("import sys, mediadup, mediadup.cli\nassert 'numba' not in sys.modules\n"
              f"r = mediadup.scan({str(library)!r}, catalog={catalog!r})\n"
              "print(len(r.groups), r.summary.fingerprinted, 'numba' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.split()[1:] == ["0", "False"], done.stderr
    assert int(done.stdout.split()[0]) > 0


def test_changed_file_is_fingerprinted_again(library: Path, catalog: str) -> None:
    scan([library], catalog=catalog)
    target = library / "distinct" / "p3.jpg"
    save(Image.open(library / "2020" / "original.jpg"), target, quality=70)
    result = scan([library], catalog=catalog)
    assert result.summary.fingerprinted == 1
    assert any(str(target) in {m.path for m in g.members} for g in result.groups)


def test_hard_links_are_one_file(tmp_path: Path, catalog: str) -> None:
    a = save(photo(5), tmp_path / "lib" / "a.jpg", quality=90)
    os.link(a, tmp_path / "lib" / "a-link.jpg")
    result = scan([tmp_path / "lib"], catalog=catalog)
    assert result.groups == [] and result.summary.hardlinks == 1


def test_groups_do_not_chain(tmp_path: Path, catalog: str) -> None:
    """A picture, its left 80 % and its left 64 %: at the normal level a crop keeps at least 70 %,
    so left64 matches left80 but not the keeper, and must not be pulled into the keeper's group."""
    wide = photo(9, (1000, 500))
    save(wide, tmp_path / "lib" / "full.png")
    save(wide.crop((0, 0, 800, 500)), tmp_path / "lib" / "left80.png")
    save(wide.crop((0, 0, 640, 500)), tmp_path / "lib" / "left64.png")
    result = scan([tmp_path / "lib"], catalog=catalog, level="normal")
    assert [names(g) for g in result.groups] == [{"full.png", "left80.png"}]


def test_catalog_stores_the_last_scan(library: Path, catalog: str) -> None:
    result = scan([library], catalog=catalog)
    db = sqlite3.connect(catalog)
    rows = db.execute("SELECT count(*) FROM scan_groups WHERE scan_id = (SELECT max(id) FROM scans)").fetchone()
    assert rows[0] == sum(len(g.members) for g in result.groups)


def test_unknown_level_is_refused(library: Path, catalog: str) -> None:
    with pytest.raises(ValueError):
        scan([library], catalog=catalog, level="sloppy")


def test_rescan_compares_nothing_again(library: Path, catalog: str) -> None:
    first = scan([library], catalog=catalog)
    assert first.summary.compared > 0
    second = scan([library], catalog=catalog)
    assert second.summary.compared == 0
    assert [names(g) for g in second.groups] == [names(g) for g in first.groups]
    third = scan([library], catalog=catalog, level="strict")  # verdicts are remembered per level
    assert third.summary.compared > 0 and third.summary.fingerprinted == 0


def test_unchanged_library_skips_the_candidate_search_and_a_new_file_brings_it_back(
    library: Path, catalog: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    pipeline = sys.modules["mediadup.pipeline"]
    lib, cat = library, catalog
    first = scan([lib], catalog=cat)
    searched = []
    real = pipeline.candidate_pairs
    monkeypatch.setattr(pipeline, "candidate_pairs", lambda *a: searched.append(1) or real(*a))
    second = scan([lib], catalog=cat)
    assert not searched and [names(g) for g in second.groups] == [names(g) for g in first.groups]
    photo(1).resize((320, 240)).save(lib / "another copy.jpg", quality=80)  # the library changed
    third = scan([lib], catalog=cat)
    assert searched and any("another copy.jpg" in names(g) for g in third.groups)


def sqlite_file(path: Path, script: str, catalog: bool = True) -> Path:
    """A SQLite file made by `script`, marked as a mediadup catalog or not."""
    from mediadup.store.catalog import APPLICATION_ID

    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript((f"PRAGMA application_id = {APPLICATION_ID};" if catalog else "") + script)
        db.commit()
    return path


def test_older_catalog_is_rebuilt_with_a_notice(library: Path, tmp_path: Path) -> None:
    from mediadup.store.catalog import Catalog

    path = sqlite_file(
        tmp_path / "old.sqlite",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER);",
    )

    with Catalog(str(path)) as cat:
        assert cat.notice and "rebuilt" in cat.notice
    assert scan([library], catalog=path).groups


def test_newer_catalog_is_refused(library: Path, tmp_path: Path) -> None:
    from mediadup.store.catalog import Catalog, CatalogError

    path = sqlite_file(
        tmp_path / "new.sqlite",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema', '99');",
    )
    with pytest.raises(CatalogError, match="newer mediadup"):
        Catalog(str(path))


def test_progress_bars_on_a_terminal_only(library: Path, catalog: str) -> None:
    import io

    from rich.console import Console

    from mediadup.progress import Reporter

    terminal = io.StringIO()
    scan([library], catalog=catalog, progress=Reporter(None, Console(file=terminal, force_terminal=True)))
    assert "fingerprinting" in terminal.getvalue()
    pipe = io.StringIO()
    scan([library], catalog=catalog, progress=Reporter(None, Console(file=pipe, force_terminal=False)))
    assert pipe.getvalue() == ""


def test_one_path_as_a_string_or_path(library: Path, catalog: str) -> None:
    assert len(scan(str(library), catalog=catalog).groups) == 2
    assert len(scan(library, catalog=catalog).groups) == 2


def test_blank_pictures_are_not_compared_but_identical_ones_group(tmp_path: Path, catalog: str) -> None:
    for n in range(30):
        Image.new("RGB", (64, 48), (n * 8, 100, 200 - n * 5)).save(tmp_path / f"flat{n}.png")
    Image.new("RGB", (64, 48), (0, 0, 0)).save(tmp_path / "black.png")
    (tmp_path / "black copy.png").write_bytes((tmp_path / "black.png").read_bytes())
    result = scan([tmp_path], catalog=catalog)
    assert result.summary.compared == 0
    assert [names(g) for g in result.groups] == [{"black.png", "black copy.png"}]


def test_a_database_that_is_not_a_catalog_is_refused_and_untouched(library: Path, tmp_path: Path) -> None:
    from mediadup.store.catalog import CatalogError

    path = sqlite_file(
        tmp_path / "accounts.sqlite",
        "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE precious (x); INSERT INTO precious VALUES (42);",
        catalog=False,
    )
    before = path.read_bytes()
    with pytest.raises(CatalogError, match="not a mediadup catalog"):
        scan([library], catalog=path)
    assert path.read_bytes() == before


def catalog_paths(catalog: str) -> set[str]:
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        return {os.path.basename(os.fsdecode(p)) for (p,) in db.execute("SELECT path FROM files")}


def test_files_gone_from_disk_are_forgotten_and_excluded_ones_kept(library: Path, catalog: str) -> None:
    scan([library], catalog=catalog)
    (library / "distinct" / "p3.jpg").unlink()
    result = scan([library], catalog=catalog, exclude=["*/p4.jpg"])
    assert result.summary.forgotten == 1
    kept = catalog_paths(catalog)
    assert "p3.jpg" not in kept and "p4.jpg" in kept  # excluded this time, but still on disk
    other = library.parent / "elsewhere"
    save(photo(9), other / "p9.jpg")
    scan([other], catalog=catalog)  # another folder forgets nothing of this one
    assert {"p4.jpg", "p9.jpg"} <= catalog_paths(catalog)


def test_schema_6_catalog_is_migrated_in_place(library: Path, catalog: str) -> None:
    first = scan([library], catalog=catalog)
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        db.execute("ALTER TABLE image_fingerprints DROP COLUMN usable")
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema'")
        db.commit()
    second = scan([library], catalog=catalog)
    assert second.summary.fingerprinted == 0 and second.summary.from_cache == second.summary.images
    assert [names(g) for g in second.groups] == [names(g) for g in first.groups]
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "7"
        unknown = db.execute("SELECT count(*) FROM image_fingerprints WHERE usable IS NULL").fetchone()[0]
    assert unknown == 1  # learnt while loading; a byte-identical twin's own row is never read


def test_moved_tree_rescans_without_decoding(library: Path, catalog: str, tmp_path: Path) -> None:
    first = scan([library], catalog=catalog)
    moved = tmp_path / "new home" / "photos renamed"
    moved.parent.mkdir()
    os.rename(library, moved)  # same inodes, new paths
    for dirpath, _, files in os.walk(moved):  # anything decoded again would now fail (see above)
        for n in files:
            p = os.path.join(dirpath, n)
            st = os.stat(p)
            with open(p, "r+b") as f:
                f.write(b"\0" * st.st_size)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = scan([moved], catalog=catalog)
    assert second.summary.fingerprinted == 0 and second.skipped == []
    assert [names(g) for g in second.groups] == [names(g) for g in first.groups]
    assert len(catalog_paths(catalog)) == second.summary.images  # the rows moved with the files


def test_copied_tree_reuses_fingerprints_by_content(library: Path, catalog: str, tmp_path: Path) -> None:
    first = scan([library], catalog=catalog)
    copy = tmp_path / "backup drive"
    shutil.copytree(library, copy)  # new inodes: known by their bytes
    second = scan([copy], catalog=catalog)
    assert second.summary.fingerprinted == 0 and second.summary.from_cache == second.summary.images
    assert [names(g) for g in second.groups] == [names(g) for g in first.groups]
    save(photo(11), copy / "new.jpg")  # a picture the catalog has never seen is decoded
    assert scan([copy], catalog=catalog).summary.fingerprinted == 1


def _blas_threads(_: int) -> int:
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=1)


def test_each_worker_computes_on_one_thread() -> None:
    """The workers fill the cores; a BLAS library that also spread each small product over every
    core would keep them spinning against one another (verification ran several times slower)."""
    from mediadup.fingerprint.workers import Workers

    with Workers(2) as workers:
        assert set(workers.map(_blas_threads, range(32), chunksize=1)) == {1}


def test_a_rescan_reads_the_quality_signals_of_grouped_pictures_only(tmp_path: Path, monkeypatch) -> None:
    """An unchanged library's rescan keeps each picture's info as the catalog's JSON until it is
    read: only the grouped pictures' are decoded (a rescan of 150,000 pictures spent a third of
    its time decoding them all)."""
    from mediadup.fingerprint import image

    for n in range(8):
        save(photo(n + 40, (160, 120)), tmp_path / "lib" / f"p{n}.png")
    save(photo(40, (160, 120)), tmp_path / "lib" / "p0 copy.jpg", quality=85)
    catalog = str(tmp_path / "c.sqlite")
    first = scan(tmp_path / "lib", catalog=catalog, jobs=1)
    decoded: list[int] = []
    real = image.ImageInfo
    monkeypatch.setattr(image, "ImageInfo", lambda **kw: decoded.append(1) or real(**kw))
    again = scan(tmp_path / "lib", catalog=catalog, jobs=1)
    assert [[m.path for m in g.members] for g in again.groups] == [[m.path for m in g.members] for g in first.groups]
    assert again.summary.from_cache == 9 and len(again.groups) == 1 and 0 < len(decoded) <= 2


def test_the_workers_are_let_go_while_candidates_are_searched(tmp_path: Path, monkeypatch) -> None:
    """The search's memory peak is the main process's: the idle workers are gone by then (their
    memory given back), and verification starts them again."""
    import multiprocessing

    from mediadup import pipeline

    for n in range(9):
        save(photo(n + 60, (160, 120)), tmp_path / f"p{n}.png")
        save(photo(n + 60, (160, 120)), tmp_path / f"p{n} copy.jpg", quality=80)
        save(photo(n + 60, (160, 120)).resize((120, 90)), tmp_path / f"p{n} small.jpg", quality=90)
    alive: list[int] = []
    search = pipeline.candidate_pairs

    def counted(*args, **kwargs):
        alive.append(len(multiprocessing.active_children()))
        return search(*args, **kwargs)

    monkeypatch.setattr(pipeline, "candidate_pairs", counted)
    result = scan(tmp_path, catalog=str(tmp_path / "c.sqlite"), jobs=2)
    assert alive == [0]
    assert result.summary.compared >= 16  # (enough for the workers: fewer are verified in this process)
    assert sorted(len(g.members) for g in result.groups) == [3] * 9
