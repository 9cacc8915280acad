"""Removal: plans, apply (trash, move, delete), the journal, undo, and the safety rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import mediadup, photo, save, tree_state, wait_for_journal
from mediadup import Relation, scan
from mediadup.act.plan import Copy, make_plan, with_choices


def small_library(root: Path) -> Path:
    a = photo(21, (400, 300))
    save(a, root / "keep" / "a.png")
    save(a, root / "dups" / "a.jpg", quality=80)
    save(a.resize((200, 150)), root / "dups" / "deep" / "a small.jpg", quality=80)
    save(photo(22), root / "other.jpg", quality=90)
    return root


def test_without_yes_nothing_changes(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    before = tree_state(lib)
    run = mediadup("apply", "--catalog", cat)
    assert run.returncode == 0, run.stderr
    assert "plan: 2 files" in run.stdout and "nothing changed" in run.stdout
    assert tree_state(lib) == before


def test_move_keeps_structure_and_undo_restores_every_byte(tmp_path: Path) -> None:
    lib, cat, quarantine = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite"), tmp_path / "q"
    scan([lib], catalog=cat)
    before = tree_state(lib)
    run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(quarantine), "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (lib / "keep" / "a.png").exists() and not (lib / "dups" / "a.jpg").exists()
    moved = quarantine / str(lib / "dups" / "deep" / "a small.jpg").lstrip("/")
    assert moved.exists()
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 0 and "restored 2 files" in run.stdout
    after = tree_state(lib)
    assert {p: (s, b) for p, (s, _, b) in after.items()} == {p: (s, b) for p, (s, _, b) in before.items()}


def test_trash_and_undo(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    scan([lib], catalog=cat)
    before = tree_state(lib)
    assert mediadup("apply", "--catalog", cat, "--yes", env=env).returncode == 0
    trashed = os.listdir(tmp_path / "xdg" / "Trash" / "files")
    assert sorted(trashed) == ["a small.jpg", "a.jpg"]
    run = mediadup("undo", "--catalog", cat, env=env)
    assert "restored 2 files" in run.stdout, run.stdout + run.stderr
    assert set(tree_state(lib)) == set(before)
    assert os.listdir(tmp_path / "xdg" / "Trash" / "files") == []


def test_delete_needs_permanent_and_cannot_be_undone(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    refused = mediadup("apply", "--catalog", cat, "--action", "delete", "--yes")
    assert refused.returncode == 2 and "--permanent" in refused.stderr
    assert mediadup("apply", "--catalog", cat, "--action", "delete", "--permanent", "--yes").returncode == 0
    assert not (lib / "dups" / "a.jpg").exists() and (lib / "keep" / "a.png").exists()
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 1 and "deleted permanently" in run.stdout


def test_changed_files_are_skipped(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    with open(lib / "dups" / "a.jpg", "ab") as f:
        f.write(b"appended after the scan")
    run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(tmp_path / "q"), "--yes")
    assert run.returncode == 1 and "changed since the scan" in run.stdout
    assert (lib / "dups" / "a.jpg").exists()


def test_nothing_goes_when_the_keeper_is_gone(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    os.rename(lib / "keep" / "a.png", tmp_path / "elsewhere.png")
    run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(tmp_path / "q"), "--yes")
    assert run.returncode == 1 and run.stdout.count("keeper is gone") == 2
    assert (lib / "dups" / "a.jpg").exists() and (lib / "dups" / "deep" / "a small.jpg").exists()


def test_move_never_overwrites(tmp_path: Path) -> None:
    lib, cat, q = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite"), tmp_path / "q"
    scan([lib], catalog=cat)
    occupied = q / str(lib / "dups" / "a.jpg").lstrip("/")
    occupied.parent.mkdir(parents=True)
    occupied.write_bytes(b"somebody else's file")
    run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(q), "--yes")
    assert "already exists" in run.stdout and occupied.read_bytes() == b"somebody else's file"
    assert (lib / "dups" / "a.jpg").exists()


def test_reference_folders_are_never_touched(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    run = mediadup("apply", "--catalog", cat, "--reference", str(lib / "dups"), "--action", "move",
                   "--to", str(tmp_path / "q"), "--yes")  # fmt: skip
    assert run.returncode == 0, run.stdout
    assert (lib / "dups" / "a.jpg").exists() and (lib / "dups" / "deep" / "a small.jpg").exists()
    assert not (lib / "keep" / "a.png").exists()  # a duplicate of a reference file goes


copies = st.lists(
    st.builds(Copy, st.sampled_from([f"/{d}/{n}" for d in ("ref", "a", "b/c") for n in "xyz"]),
              st.integers(1, 9), st.integers(0, 5),
              st.sampled_from([Relation.IDENTICAL, Relation.NEAR_DUPLICATE, Relation.CONTAINED, Relation.SIMILAR,
                               Relation.FRAME_OF, Relation.UNCERTAIN])),
    min_size=2, max_size=6, unique_by=lambda c: c.path,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(copies, max_size=5), keep=st.sampled_from(["quality", "largest", "highest-resolution",
       "oldest", "newest", "shortest-path", "prefer:/b"]), use_reference=st.booleans(),
       include=st.booleans())  # fmt: skip
def test_no_group_ever_loses_all_its_copies(
    groups: list[list[Copy]], keep: str, use_reference: bool, include: bool
) -> None:
    references = ["/ref"] if use_reference else []  # sub-clips and similar shots too, when asked
    actions = make_plan(groups, "trash", keep, references, include_subclips=include, include_similar=include,
                        include_uncertain=include)  # fmt: skip
    acted = {a.path for a in actions}
    for group in groups:
        assert any(c.path not in acted for c in group), "every group keeps a copy"
    assert all(a.keeper not in acted for a in actions), "a keeper is never removed"
    assert len(acted) == len(actions), "a file is acted on once"
    if use_reference:
        assert not any(p.startswith("/ref/") for p in acted), "reference folders are never touched"
        assert all(a.keeper.startswith("/ref/") for a in actions), "only duplicates of reference files go"


def test_killed_apply_loses_nothing_and_undo_restores_all(tmp_path: Path) -> None:
    """An apply killed at random moments, many times: every file is in place or comes back."""
    import random
    import shutil
    import signal

    template = tmp_path / "template"
    for n in range(25):
        a = photo(100 + n, (96, 72))
        save(a, template / f"g{n}" / "keep.png")
        save(a, template / f"g{n}" / "copy.jpg", quality=85)
        save(a, template / f"g{n}" / "sub" / "copy2.jpg", quality=60)
    original = {os.path.relpath(p, template): data for p, (_, _, data) in tree_state(template).items()}
    rng = random.Random(7)
    killed_mid_apply = 0
    for attempt in range(6):
        lib, cat = tmp_path / f"lib{attempt}", str(tmp_path / f"c{attempt}.sqlite")
        shutil.copytree(template, lib)
        scan([lib], catalog=cat, jobs=1)
        command = [sys.executable, "-m", "mediadup", "apply", "--catalog", cat, "--action", "move",
                   "--to", str(tmp_path / f"q{attempt}"), "--yes"]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_journal(cat, proc, rng.randrange(1, 50))  # the kill lands somewhere inside the apply
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_apply += proc.returncode == -signal.SIGKILL
        if attempt % 2:  # a second apply finishes the rest, then undo restores everything
            assert mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(tmp_path / f"q{attempt}"),
                            "--yes").returncode in (0, 1)  # fmt: skip
            assert not any((lib / f"g{n}" / "copy.jpg").exists() for n in range(25))
        mediadup("undo", "--catalog", cat)
        restored = {os.path.relpath(p, lib): data for p, (_, _, data) in tree_state(lib).items()}
        assert restored == original, f"attempt {attempt}: files lost or changed"
    assert killed_mid_apply >= 3


def test_move_across_devices(tmp_path: Path) -> None:
    import pytest

    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another file system")
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    quarantine = Path(tempfile_dir := os.path.join(other, f"mediadup-test-{os.getpid()}"))
    try:
        scan([lib], catalog=cat)
        before = tree_state(lib)
        assert mediadup("apply", "--catalog", cat, "--action", "move", "--to", tempfile_dir, "--yes").returncode == 0
        assert (quarantine / str(lib / "dups" / "a.jpg").lstrip("/")).exists()
        assert not list(quarantine.rglob("*.mediadup-partial"))
        assert "restored 2 files" in mediadup("undo", "--catalog", cat).stdout
        assert {p: b for p, (_, _, b) in tree_state(lib).items()} == {p: b for p, (_, _, b) in before.items()}
    finally:
        import shutil

        shutil.rmtree(quarantine, ignore_errors=True)


def test_an_interrupted_move_is_finished_or_undone(tmp_path: Path) -> None:
    """Killed between linking the target and removing the original: both names exist."""
    from mediadup.act.actions import move as _move

    source = tmp_path / "a.jpg"
    source.write_bytes(b"picture")
    target = tmp_path / "q" / "a.jpg"
    target.parent.mkdir()
    os.link(source, target)  # the state a kill inside _move can leave
    _move(str(source), str(target))
    assert not source.exists() and target.read_bytes() == b"picture"


def identical_library(root: Path) -> Path:
    a = photo(31, (300, 200))
    save(a, root / "a.jpg", quality=90)
    (root / "backup").mkdir()
    (root / "backup" / "a.jpg").write_bytes((root / "a.jpg").read_bytes())
    os.utime(root / "backup" / "a.jpg", ns=(1, 2_000_000_000_000_000_000))  # newer: the keeper stays a.jpg
    save(a.resize((150, 100)), root / "a small.jpg", quality=90)  # a near-duplicate: never linked
    return root


def test_hardlink_and_symlink_replace_identical_copies_and_undo_gives_bytes_back(tmp_path: Path) -> None:
    for op in ("hardlink", "symlink"):
        lib, cat = identical_library(tmp_path / op), str(tmp_path / f"{op}.sqlite")
        scan([lib], catalog=cat)
        before = tree_state(lib)
        run = mediadup("apply", "--catalog", cat, "--action", op, "--yes")
        assert run.returncode == 0, run.stdout + run.stderr
        copy = lib / "backup" / "a.jpg"
        assert os.path.samefile(copy, lib / "a.jpg") if op == "hardlink" else copy.is_symlink()
        assert (lib / "a small.jpg").exists() and not (lib / "a small.jpg").is_symlink()
        assert copy.read_bytes() == (lib / "a.jpg").read_bytes()
        run = mediadup("undo", "--catalog", cat)
        assert "restored 1 file" in run.stdout, run.stdout
        assert not copy.is_symlink() and not os.path.samefile(copy, lib / "a.jpg")
        assert tree_state(lib) == before


def test_reflink_says_clearly_when_the_file_system_cannot(tmp_path: Path) -> None:
    lib, cat = identical_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    before = tree_state(lib)
    run = mediadup("apply", "--catalog", cat, "--action", "reflink", "--yes")
    if run.returncode == 1:  # most file systems here (ext4, overlay, tmpfs) cannot
        assert "cannot share blocks (reflink)" in run.stdout
        assert tree_state(lib) == before
    else:
        assert (lib / "backup" / "a.jpg").read_bytes() == (lib / "a.jpg").read_bytes()


def test_scan_and_apply_in_one_go(tmp_path: Path) -> None:
    lib, cat, q = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite"), tmp_path / "q"
    dry = mediadup("scan", str(lib), "--catalog", cat, "--apply", "--action", "move", "--to", str(q))
    assert dry.returncode == 0 and "plan: 2 files" in dry.stdout and not q.exists()
    run = mediadup("scan", str(lib), "--catalog", cat, "--apply", "--action", "move", "--to", str(q), "--yes")
    assert run.returncode == 0 and "moved: 2 files" in run.stdout
    assert not (lib / "dups" / "a.jpg").exists() and (lib / "keep" / "a.png").exists()


def test_undo_one_apply_by_id(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    assert mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(tmp_path / "q"), "--yes").returncode == 0
    listing = mediadup("undo", "--list", "--catalog", cat).stdout
    assert listing.startswith("apply 1 move files=2") and "done" in listing
    assert (lib / "dups" / "a.jpg").exists() is False
    assert "restored 2 files" in mediadup("undo", "--id", "1", "--catalog", cat).stdout
    assert (lib / "dups" / "a.jpg").exists()
    assert "undone" in mediadup("undo", "--list", "--catalog", cat).stdout


def test_a_folder_that_refuses_changes_gets_a_clear_message_and_loses_nothing(tmp_path: Path) -> None:
    """An immutable folder (chattr +i) refuses even root, like a read-only mount."""
    import pytest

    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    if subprocess.run(["chattr", "+i", str(lib / "dups")], capture_output=True).returncode:
        pytest.skip("this file system has no immutable folders")
    try:
        run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(tmp_path / "q"), "--yes")
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert "move failed: Operation not permitted" in run.stdout
        assert (lib / "dups" / "a.jpg").exists() and (lib / "keep" / "a.png").exists()
        assert not list((tmp_path / "q").rglob("a.jpg"))  # no second copy left behind either
    finally:
        subprocess.run(["chattr", "-i", str(lib / "dups")])


def test_a_full_disk_gets_a_clear_message_and_loses_nothing(tmp_path: Path) -> None:
    """The quarantine is a 64 KB tmpfs in a private mount namespace: the move cannot fit."""
    import shutil

    import pytest

    if not shutil.which("unshare") or subprocess.run(["unshare", "-Urm", "true"], capture_output=True).returncode:
        pytest.skip("needs user and mount namespaces")
    lib, cat, q = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite"), tmp_path / "q"
    big = photo(40, (1200, 900))
    save(big, lib / "keep" / "big.png")
    save(big, lib / "dups" / "big.bmp")  # uncompressed: far larger than the quarantine
    q.mkdir()
    scan([lib], catalog=cat)
    script = (f"mount -t tmpfs -o size=64k tmpfs {q} && {sys.executable} -m mediadup apply --catalog {cat} "
              f"--action move --to {q} --yes --keep quality")  # fmt: skip
    run = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in run.stderr, run.stderr
    assert "move failed: No space left on device" in run.stdout, run.stdout + run.stderr
    assert (lib / "dups" / "big.bmp").exists() and (lib / "keep" / "big.png").exists()


def test_keep_policies_choose_the_copy_that_stays(tmp_path: Path) -> None:
    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    plan = lambda *keep: mediadup("apply", "--catalog", cat, "--keep", *keep).stdout  # noqa: E731
    assert "of " + str(lib / "keep" / "a.png") in plan("highest-resolution")
    assert "of " + str(lib / "dups" / "a.jpg") in plan(f"prefer:{lib / 'dups'}")
    assert "of " + str(lib / "keep" / "a.png") in plan("longest")  # images have no length: the scan's keeper


def test_an_edited_plan_is_followed_and_checked_against_the_scan(tmp_path: Path) -> None:
    import json

    lib, cat = small_library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    result_file = tmp_path / "groups.json"
    assert mediadup("scan", str(lib), "--catalog", cat, "--json", str(result_file), "-q").returncode == 0
    data = json.loads(result_file.read_text())
    files = data["groups"][0]["files"]
    for f in files:  # the user keeps the JPEG instead of the PNG
        f["role"] = "keep" if f["path"].endswith("dups/a.jpg") else "duplicate"
    result_file.write_text(json.dumps(data))
    with open(lib / "dups" / "deep" / "a small.jpg", "ab") as f:
        f.write(b"changed after the scan")
    run = mediadup("apply", "--catalog", cat, "--from", str(result_file), "--action", "move",
                   "--to", str(tmp_path / "q"), "--yes")  # fmt: skip
    assert run.returncode == 1 and "changed since the scan" in run.stdout
    assert (lib / "dups" / "a.jpg").exists() and not (lib / "keep" / "a.png").exists()
    assert (lib / "dups" / "deep" / "a small.jpg").exists()


def test_uncertain_copies_frames_sub_clips_and_shots_stay_unless_asked() -> None:
    """Relations that are not sure copies of the keeper are never removed by default."""
    keeper = Copy("/k.png", 9, 1, Relation.KEEPER)
    kinds = [Relation.UNCERTAIN, Relation.FRAME_OF, Relation.CONTAINED, Relation.SIMILAR, Relation.NEAR_DUPLICATE]
    group = [keeper, *(Copy(f"/{r.value}.jpg", 5, 1, r) for r in kinds)]
    assert [a.path for a in make_plan([group])] == ["/near-duplicate.jpg"]
    asked = make_plan([group], include_subclips=True, include_similar=True, include_uncertain=True)
    assert sorted(a.path for a in asked) == ["/contained.jpg", "/near-duplicate.jpg", "/similar.jpg", "/uncertain.jpg"]


@settings(max_examples=150, deadline=None)
@given(
    relations=st.lists(
        st.sampled_from([r for r in Relation if r not in (Relation.KEEPER, Relation.MOTION)]), min_size=1, max_size=5
    ),
    rules=st.lists(
        st.sampled_from(
            [
                "quality",
                "resolution",
                "content-resolution",
                "format",
                "camera-original",
                "largest",
                "longest",
                "oldest",
                "newest",
                "shortest-path",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    chosen=st.integers(0, 5),
    sizes=st.lists(st.integers(1, 100), min_size=6, max_size=6),
)
def test_no_rule_or_choice_lets_a_part_a_frame_or_a_shot_outrank_the_keeper(relations, rules, chosen, sizes) -> None:
    """Only the keeper or a copy of it may lead a group: keeping a video that only overlaps, a
    clip, a frame, a similar shot or a possible duplicate would remove the keeper for a file that
    is no copy of it, whatever the rules or the user's keep choice."""
    keeper = Copy("/k.mp4", sizes[0], 1, Relation.KEEPER, format="MP4")
    others = [Copy(f"/{n}.png", sizes[n + 1], 2 + n, r, pixels=10**7, duration=99.0, format="PNG")
              for n, r in enumerate(relations)]  # fmt: skip
    group = [keeper, *others]
    choices = {group[chosen % len(group)].path: (group[chosen % len(group)].size, group[chosen % len(group)].mtime_ns,
                                                 "keep")}  # fmt: skip
    decided, _ = with_choices([group], choices)
    for actions in (make_plan(decided, keep=",".join(rules)), make_plan([group], keep=",".join(rules))):
        by_path = {c.path: c for c in group}
        for a in actions:  # whatever is removed, its keeper is the scan's keeper or a copy of it
            assert a.keeper == keeper.path or by_path[a.keeper].relation.removable, (a, rules)
