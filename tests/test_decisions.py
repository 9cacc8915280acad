"""Decisions that files are "not duplicates": kept by content, through renames, moves, rescans and migrations."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

from conftest import mediadup, photo, save
from mediadup import scan


def names(result) -> list[set[str]]:
    return sorted(({Path(m.path).name for m in g.members} for g in result.groups), key=sorted)


def pair(tmp_path: Path) -> Path:
    """Two pictures that match (a resized copy), a third copy of the first, and a distinct one."""
    root = tmp_path / "photos"
    a = photo(1, (640, 480))
    save(a, root / "a.jpg", quality=92)
    save(a.resize((320, 240)), root / "a small.jpg", quality=90)
    save(photo(5), root / "other.jpg")
    return root


def test_ignored_pair_never_comes_back_through_rename_move_and_rescan(tmp_path: Path) -> None:
    root, catalog = pair(tmp_path), str(tmp_path / "c.sqlite")
    assert names(scan(root, catalog=catalog)) == [{"a.jpg", "a small.jpg"}]
    run = mediadup("ignore", str(root / "a.jpg"), str(root / "a small.jpg"), "--catalog", catalog)
    assert run.returncode == 0 and "remembered 1 pair " in run.stdout, run.stderr
    assert scan(root, catalog=catalog).groups == []
    moved = tmp_path / "elsewhere" / "renamed.jpg"
    moved.parent.mkdir()
    shutil.move(root / "a small.jpg", moved)
    assert scan([root, moved.parent], catalog=catalog).groups == []
    # a third copy still groups with one of them, never with both
    save(photo(1, (640, 480)), root / "a again.png")
    groups = names(scan([root, moved.parent], catalog=catalog))
    assert len(groups) == 1 and not {"a.jpg", "renamed.jpg"} <= groups[0]
    listing = mediadup("ignore", "--list", "--catalog", catalog)
    assert "1 pair remembered" in listing.stdout and "a small.jpg" in listing.stdout  # where they were then


def test_forget_brings_the_group_back(tmp_path: Path) -> None:
    root, catalog = pair(tmp_path), str(tmp_path / "c.sqlite")
    mediadup("ignore", str(root / "a.jpg"), str(root / "a small.jpg"), "--catalog", catalog)
    assert scan(root, catalog=catalog).groups == []
    run = mediadup("ignore", "--forget", str(root / "a.jpg"), "--catalog", catalog)
    assert run.returncode == 0 and "forgot 1 decision" in run.stdout
    assert names(scan(root, catalog=catalog)) == [{"a.jpg", "a small.jpg"}]


def test_bad_ignore_requests_get_a_clear_message(tmp_path: Path) -> None:
    root, catalog = pair(tmp_path), str(tmp_path / "c.sqlite")
    (root / "a copy.jpg").write_bytes((root / "a.jpg").read_bytes())
    cases = {
        ("ignore", str(root / "a.jpg"), str(root / "gone.jpg")): "not a file",
        ("ignore", str(root / "a.jpg"), str(root / "a copy.jpg")): "byte-identical",
        ("ignore", str(root / "a.jpg")): "at least two files",
        ("ignore", "--forget"): "--forget needs",
        ("apply", "--remember"): "--remember needs --from",
    }
    for args, message in cases.items():
        run = mediadup(*args, "--catalog", catalog)
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, args


def test_groups_taken_out_of_an_edited_plan_are_remembered(tmp_path: Path) -> None:
    root, catalog = pair(tmp_path), str(tmp_path / "c.sqlite")
    b = photo(2)
    save(b, root / "b.jpg", quality=90)
    save(b.resize((320, 240)), root / "b small.jpg", quality=90)
    plan = tmp_path / "plan.json"
    assert mediadup("scan", str(root), "--catalog", catalog, "--json", str(plan)).returncode == 0
    data = json.loads(plan.read_text())
    assert len(data["groups"]) == 2
    data["groups"] = [g for g in data["groups"] if not any("b.jpg" in f["path"] for f in g["files"])]
    plan.write_text(json.dumps(data))
    dry = mediadup("apply", "--from", str(plan), "--remember", "--catalog", catalog)
    assert "1 pair would be remembered" in dry.stdout, dry.stderr
    assert len(scan(root, catalog=catalog).groups) == 2  # a dry run remembers nothing
    mediadup("scan", str(root), "--catalog", catalog, "--quiet")
    run = mediadup("apply", "--from", str(plan), "--remember", "--yes", "--catalog", catalog)
    assert run.returncode == 0 and "remembered 1 pair " in run.stdout, run.stderr
    assert not (root / "a small.jpg").exists()  # the plan itself was carried out
    assert (root / "b small.jpg").exists()
    assert names(scan(root, catalog=catalog)) == []


def test_decisions_survive_a_catalog_rebuild(tmp_path: Path) -> None:
    root, catalog = pair(tmp_path), str(tmp_path / "c.sqlite")
    mediadup("ignore", str(root / "a.jpg"), str(root / "a small.jpg"), "--catalog", catalog)
    with contextlib.closing(sqlite3.connect(catalog)) as db:  # as if written by an old mediadup
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
        db.commit()
    result = scan(root, catalog=catalog)
    assert result.summary.fingerprinted == 3  # the caches were rebuilt...
    assert result.groups == []  # ...the decision was kept
