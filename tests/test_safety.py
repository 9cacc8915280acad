"""Every way found to lose a file or to be told an untruth, each tried as a user would (issue:
"close every path that loses a file"): real files, real processes, real signals."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import mediadup, nobody, photo, save, tree_state, wait_for_journal
from mediadup import scan
from mediadup.act.apply import Interruption
from mediadup.store.catalog import Catalog


def library(root: Path, groups: int = 3) -> Path:
    """`groups` pictures, each kept as a PNG with a JPEG copy and a smaller copy, and one distinct picture."""
    for n in range(groups):
        a = photo(300 + n, (160, 120))
        save(a, root / f"g{n}" / "keep.png")
        save(a, root / f"g{n}" / "copy.jpg", quality=85)
        save(a.resize((80, 60)), root / f"g{n}" / "sub" / "small.jpg", quality=80)
    save(photo(299), root / "other.jpg", quality=90)
    return root


def identical_copies(root: Path, n: int) -> Path:
    """n pairs of byte-identical small pictures: a large apply, quick to set up."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(n)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(root / f"{i:04}.png")
        shutil.copy2(root / f"{i:04}.png", root / f"{i:04} copy.png")
    return root


def contents(root: Path) -> dict[str, bytes]:
    return {os.path.relpath(p, root): data for p, (_, _, data) in tree_state(root).items()}


# --- 1. a move onto the files' own place ----------------------------------------------------
def test_a_move_onto_the_files_own_place_is_refused_before_acting(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    before = tree_state(lib)
    (tmp_path / "root link").symlink_to("/")
    for target in ("/", str(tmp_path / "root link")):
        run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", target, "--yes")
        assert run.returncode == 2 and "onto itself" in run.stderr, run.stdout + run.stderr
        assert tree_state(lib) == before
    assert "nothing to undo" in mediadup("undo", "--catalog", cat).stdout


def test_moving_a_file_onto_its_own_name_never_unlinks_it(tmp_path: Path) -> None:
    from mediadup.act.actions import move as _move

    source = tmp_path / "a.jpg"
    source.write_bytes(b"picture")
    with pytest.raises(OSError, match="the file itself"):
        _move(str(source), str(tmp_path / "." / "a.jpg"))
    assert source.read_bytes() == b"picture"


def test_a_quarantine_inside_the_scanned_folder_is_allowed_with_a_note(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(lib / "quarantine"), "--yes")
    assert run.returncode == 0 and "later scans will see the moved files" in run.stdout, run.stdout + run.stderr
    assert "restored 2 files" in mediadup("undo", "--catalog", cat).stdout


# --- 2. two applies at once -----------------------------------------------------------------
def test_a_second_apply_or_undo_is_refused_while_one_runs(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    before = tree_state(lib)
    with Catalog(cat) as held, held.exclusive("apply"):
        for command in (("apply", "--yes"), ("undo",)):
            run = mediadup(*command, "--catalog", cat)
            assert run.returncode == 2 and "is changing files with this catalog" in run.stderr, run.stderr
            assert f"process {os.getpid()}" in run.stderr
    assert tree_state(lib) == before
    assert mediadup("apply", "--catalog", cat, "--yes", env={"XDG_DATA_HOME": str(tmp_path / "x")}).returncode == 0


def test_applies_racing_on_one_catalog_lose_nothing(tmp_path: Path) -> None:
    """Two `apply --yes` started together, several times: one acts, the other is refused or finds
    nothing left to do; every file is in the library or the quarantine, and undo brings all back."""
    template = identical_copies(tmp_path / "template", 40)
    original = contents(template)
    for attempt in range(4):
        lib, cat, q = tmp_path / f"lib{attempt}", str(tmp_path / f"c{attempt}.sqlite"), tmp_path / f"q{attempt}"
        shutil.copytree(template, lib)
        scan([lib], catalog=cat, jobs=1)
        command = [sys.executable, "-m", "mediadup", "apply", "--catalog", cat, "--action", "move", "--to", str(q),
                   "--yes"]  # fmt: skip
        procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert all("Traceback" not in err and "internal error" not in err for _, err in outputs), outputs
        assert sorted(p.returncode for p in procs) in ([0, 1], [0, 2], [0, 0]), outputs
        in_q = {os.path.basename(p): data for p, (_, _, data) in tree_state(q).items()}
        assert len(in_q) == 40 and len(contents(lib)) == 40
        assert mediadup("undo", "--catalog", cat).returncode == 0
        assert contents(lib) == original


# --- 3. outputs never overwrite the catalog ----------------------------------------------------
def test_no_output_option_writes_over_the_catalog_or_a_database(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib"), str(tmp_path / "c.sqlite")
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    scan([lib], catalog=cat)
    assert mediadup("apply", "--catalog", cat, "--yes", env=env).returncode == 0
    other_db = tmp_path / "photos.db"
    sqlite3.connect(other_db).execute("CREATE TABLE t (x)").connection.commit()
    saved = {p: p.read_bytes() for p in (Path(cat), other_db)}
    attempts = [
        ("report", "--html", cat, "--catalog", cat),
        ("scan", str(lib), "--catalog", cat, "--json", cat),
        ("scan", str(lib), "--catalog", cat, "--csv", cat + "-wal"),
        ("scan", str(lib), "--catalog", cat, "--json", str(other_db)),
        ("report", "--html", str(other_db), "--catalog", cat),
    ]
    for args in attempts:
        run = mediadup(*args)
        assert run.returncode == 2 and "refusing to write over" in run.stderr, (args, run.stderr)
    assert other_db.read_bytes() == saved[other_db]
    run = mediadup("undo", "--catalog", cat, env=env)
    assert run.returncode == 0 and "restored 6 files" in run.stdout, run.stdout + run.stderr


def test_two_outputs_to_one_file_are_refused(tmp_path: Path) -> None:
    lib = library(tmp_path / "lib", groups=1)
    out = str(tmp_path / "out.txt")
    run = mediadup("scan", str(lib), "--catalog", str(tmp_path / "c.sqlite"), "--json", out, "--csv", out)
    assert run.returncode == 2 and "same file" in run.stderr and not os.path.exists(out)


# --- 4. an edited plan acts only on scanned files, by their real names -------------------------
def test_an_edited_plan_acts_only_on_files_the_scan_grouped(tmp_path: Path) -> None:
    lib, cat, plan = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite"), tmp_path / "plan.json"
    (lib / "important.txt").write_text("my notes")
    assert mediadup("scan", str(lib), "--catalog", cat, "--json", str(plan), "-q").returncode == 0
    data = json.loads(plan.read_text())
    sneaked = {**data["groups"][0]["files"][1], "path": str(lib / "important.txt"), "role": "duplicate"}
    data["groups"][0]["files"].append(sneaked)
    data["groups"].append({"files": [{"path": str(lib / "other.jpg"), "role": "keep"},
                                     {"path": str(lib / "important.txt"), "role": "duplicate"}]})  # fmt: skip
    plan.write_text(json.dumps(data))
    run = mediadup("apply", "--catalog", cat, "--from", str(plan), "--action", "move", "--to", str(tmp_path / "q"),
                   "--yes")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"left out {lib / 'important.txt'}: no scan recorded this file in a group" in run.stdout
    assert (lib / "important.txt").read_text() == "my notes" and (lib / "other.jpg").exists()
    assert not (lib / "g0" / "copy.jpg").exists()  # the plan's own duplicates went


def test_a_plan_with_undecodable_names_acts_on_the_right_files(tmp_path: Path) -> None:
    lib, cat, plan = tmp_path / "lib", str(tmp_path / "c.sqlite"), tmp_path / "plan.json"
    a = photo(5, (160, 120))
    save(a, lib / "keep.png")
    odd = os.path.join(os.fsencode(lib), b"copy \xff.jpg")
    a.save(odd.decode("utf-8", "surrogateescape"), format="JPEG", quality=85)
    decoy = lib / "copy \\xff.jpg"  # literally named like the display form of the odd name
    decoy.write_bytes(b"not a picture, and not a duplicate")
    assert mediadup("scan", str(lib), "--catalog", cat, "--json", str(plan), "-q").returncode in (0, 1)
    files = json.loads(plan.read_text())["groups"][0]["files"]
    dup = next(f for f in files if f["role"] == "duplicate")
    assert dup["path"].endswith("copy \\xff.jpg") and base64.b64decode(dup["path_bytes"]) == odd
    run = mediadup("apply", "--catalog", cat, "--from", str(plan), "--action", "move", "--to", str(tmp_path / "q"),
                   "--yes")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert not os.path.exists(odd) and decoy.read_bytes() == b"not a picture, and not a duplicate"
    moved = os.path.join(os.fsencode(tmp_path / "q"), odd.lstrip(b"/"))
    assert os.path.exists(moved)


# --- 5. a keeper that cannot be read ------------------------------------------------------------
def test_a_keeper_that_cannot_be_read_skips_its_group_and_the_apply_goes_on(tmp_path: Path) -> None:
    drop = nobody()
    top = Path(tempfile.mkdtemp(prefix="mediadup-keeper-"))  # outside pytest's private folder: nobody can reach it
    try:
        top.chmod(0o777)
        lib, cat = library(top / "lib", groups=2), str(top / "c.sqlite")
        if drop:
            subprocess.run(["chown", "-R", "65534:65534", str(top)], check=True)
        # one job: multiprocessing's resource tracker is out of reach for `nobody` on some machines
        assert mediadup("scan", str(lib), "--catalog", cat, "-q", "-j", "1", user=drop).returncode == 0
        (lib / "g0" / "keep.png").chmod(0)
        run = mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(top / "q"), "--yes", user=drop)
        assert run.returncode == 1 and "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
        assert "Permission denied" in run.stdout and "skipped" in run.stdout
        assert (lib / "g0" / "copy.jpg").exists() and not (lib / "g1" / "copy.jpg").exists()
    finally:
        shutil.rmtree(top)


# --- 6. Ctrl-C during an apply --------------------------------------------------------------------
def test_ctrl_c_during_an_apply_finishes_the_file_in_progress_and_says_what_was_done(tmp_path: Path) -> None:
    for attempt in range(3):  # the signal must land inside the apply: try again if it finished first
        lib, cat = identical_copies(tmp_path / f"lib{attempt}", 300), str(tmp_path / f"c{attempt}.sqlite")
        q = tmp_path / f"q{attempt}"
        original = contents(lib)
        scan([lib], catalog=cat, jobs=1)
        command = [sys.executable, "-m", "mediadup", "apply", "--catalog", cat, "--action", "move", "--to", str(q),
                   "--yes"]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_journal(cat, proc, 5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        with contextlib.closing(sqlite3.connect(cat, timeout=30)) as db:
            states = dict(db.execute("SELECT state, count(*) FROM journal GROUP BY state").fetchall())
        if proc.returncode == 0:
            continue
        assert proc.returncode == 130 and "Traceback" not in err, out + err
        assert "no scanned file was changed" not in out + err
        done = states.get("done", 0)
        assert 0 < done < 300 and "planned" not in states  # the file in progress was finished, whole
        assert f"interrupted: stopped after {done} files" in out and "`mediadup undo` restores them" in out
        assert len(contents(lib)) + len(contents(q)) == 600
        assert mediadup("undo", "--catalog", cat).returncode == 0
        assert contents(lib) == original
        return
    pytest.fail("every apply finished before Ctrl-C reached it")


def test_ctrl_c_while_files_change_only_asks_to_stop() -> None:
    with Interruption() as interruption:
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt in the middle of an action
        time.sleep(0.01)
        assert interruption.asked
    with pytest.raises(KeyboardInterrupt):  # and Ctrl-C is itself again afterwards
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)


# --- 7. names cannot change the review page --------------------------------------------------------
def test_no_file_name_can_change_the_review_page(tmp_path: Path) -> None:
    lib, cat, page = tmp_path / "lib", str(tmp_path / "c.sqlite"), tmp_path / "review.html"
    a = photo(9, (160, 120))
    names = ["<!--<script>.jpg", "<script>alert(1)<!--.jpg", "a\u2028b&amp;.jpg"]
    for name in names:
        save(a, lib / name, quality=85)
    save(a, lib / "keep.png")
    scan([lib], catalog=cat)
    assert mediadup("report", "--html", str(page), "--catalog", cat).returncode == 0
    html = page.read_text()
    assert html.count("<script") == 2 and html.count("</script>") == 2 and "<!--" not in html
    data = html.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    shown = {os.path.basename(f["path"]) for g in json.loads(data)["groups"] for f in g["files"]}
    assert {"<!--<script>.jpg", "<script>alert(1)<!--.jpg"} <= shown


# --- 8. an undo killed several times ---------------------------------------------------------------
def test_an_undo_killed_many_times_ends_with_every_file_back_and_the_trash_clean(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    template = identical_copies(tmp_path / "template", 60)
    original = contents(template)
    rng = random.Random(3)
    for attempt in range(3):
        lib, cat = tmp_path / f"lib{attempt}", str(tmp_path / f"c{attempt}.sqlite")
        shutil.copytree(template, lib)
        scan([lib], catalog=cat, jobs=1)
        assert mediadup("apply", "--catalog", cat, "--yes", env=env).returncode == 0
        for _ in range(3):  # undo, killed part-way, three times
            proc = subprocess.Popen([sys.executable, "-m", "mediadup", "undo", "--catalog", cat],
                                    env={**os.environ, **env}, stdout=subprocess.DEVNULL)  # fmt: skip
            wait_for_journal(cat, proc, rng.randrange(1, 60), "restored")  # the kill lands inside the undo
            proc.kill()
            proc.wait()
        run = mediadup("undo", "--catalog", cat, env=env)
        assert "0 could not be restored" in run.stdout or "nothing to undo" in run.stdout, run.stdout
        assert contents(lib) == original
        trash = tmp_path / "xdg" / "Trash"
        assert not list((trash / "files").iterdir()) and not list((trash / "info").iterdir())


def test_a_file_already_back_is_restored_not_a_failure(tmp_path: Path) -> None:
    """The states a killed undo leaves, made by hand: a second name in the quarantine, a file
    fully back with its journal entry still open, and a trash note left behind."""
    lib, cat, q = identical_copies(tmp_path / "lib", 3), str(tmp_path / "c.sqlite"), tmp_path / "q"
    original = contents(lib)
    scan([lib], catalog=cat, jobs=1)
    assert mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(q), "--yes").returncode == 0
    moved = sorted(p for p in q.rglob("*") if p.is_file())
    back = [lib / p.name for p in moved]
    os.link(moved[0], back[0])  # killed after linking back, before removing the quarantine's name
    os.rename(moved[1], back[1])  # killed after the move, before the journal said so
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 0 and "restored 3 files; 0 could not" in run.stdout, run.stdout
    assert contents(lib) == original and not [p for p in q.rglob("*") if p.is_file()]


# --- 9. nothing to undo, and mistyped catalogs -------------------------------------------------------
def test_nothing_to_undo_and_unknown_applies_are_said(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 1 and "nothing to undo" in run.stdout
    run = mediadup("undo", "--catalog", cat, "--id", "99")
    assert run.returncode == 1 and "no apply 99" in run.stdout
    assert mediadup("apply", "--catalog", cat, "--yes", env={"XDG_DATA_HOME": str(tmp_path / "x")}).returncode == 0
    assert mediadup("undo", "--catalog", cat, env={"XDG_DATA_HOME": str(tmp_path / "x")}).returncode == 0
    run = mediadup("undo", "--catalog", cat, "--id", "1")
    assert run.returncode == 1 and "apply 1 was undone already" in run.stdout


def test_a_mistyped_catalog_is_refused_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "nested" / "catalgo.sqlite"
    for args in (("apply",), ("undo",), ("undo", "--list"), ("report", "--html", str(tmp_path / "r.html")),
                 ("ignore", "--list")):  # fmt: skip
        run = mediadup(*args, "--catalog", str(typo))
        assert run.returncode == 2 and "no catalog at" in run.stderr, (args, run.stderr)
        assert not typo.parent.exists()


# --- 10. a catalog folder that cannot be written ------------------------------------------------------
def test_a_catalog_in_a_folder_that_cannot_be_written_gets_a_clear_message(tmp_path: Path) -> None:
    drop = nobody()
    top = Path(tempfile.mkdtemp(prefix="mediadup-ro-"))
    try:
        lib = library(top / "lib", groups=1)
        (top / "closed").mkdir()
        (top / "closed").chmod(0o555)  # root's: nobody may read it, not write in it
        top.chmod(0o755)
        run = mediadup("scan", str(lib), "--catalog", str(top / "closed" / "c.sqlite"), "-j", "1", user=drop)
        assert run.returncode == 2 and "is not writable" in run.stderr and "--catalog" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    finally:
        shutil.rmtree(top)


# --- smaller ----------------------------------------------------------------------------------------
def test_a_killed_scan_leaves_no_worker_tracebacks(tmp_path: Path, debug: str = "") -> None:
    lib = tmp_path / "lib"
    a = photo(400, (1600, 1200))
    for n in range(40):
        save(a.rotate(n), lib / f"p{n}.png", compress_level=0)
    cat = str(tmp_path / "c.sqlite")
    err = tmp_path / "stderr"
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "mediadup", "scan", str(lib), "--catalog", cat, "-j", "2",
                                 "-q"], stdout=subprocess.DEVNULL, stderr=f,
                                env={**os.environ, "MEDIADUP_DEBUG": debug})  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(sqlite3.Error):
                db = sqlite3.connect(cat, timeout=1)
                n = db.execute("SELECT count(*) FROM image_fingerprints").fetchone()[0]
                db.close()
                if n >= 2:
                    break
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    time.sleep(3)  # the workers find their parent gone
    assert "Traceback" not in err.read_text() and "BrokenPipe" not in err.read_text()


def test_control_characters_in_names_are_shown_escaped_on_one_line(tmp_path: Path) -> None:
    lib, cat = tmp_path / "lib", str(tmp_path / "c.sqlite")
    a = photo(11, (160, 120))
    save(a, lib / "keep.png")
    save(a, lib / "two\nlines\r.jpg", quality=85)
    run = mediadup("scan", str(lib), "--catalog", cat)
    assert "two\\nlines\\r.jpg" in run.stdout and "two\nlines" not in run.stdout


def test_a_fifo_given_as_a_root_is_reported(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = mediadup("scan", str(fifo), "--catalog", str(tmp_path / "c.sqlite"))
    assert run.returncode == 1 and "FIFO, socket or device" in run.stdout


def test_bad_removal_options_are_refused_before_the_scan(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), tmp_path / "c.sqlite"
    run = mediadup("scan", str(lib), "--catalog", str(cat), "--apply", "--action", "delete", "--yes")
    assert run.returncode == 2 and "--permanent" in run.stderr and not cat.exists()
    run = mediadup("scan", str(lib), "--catalog", str(cat), "--keep", "prefer:/nonexistent")
    assert run.returncode == 2 and "no such folder" in run.stderr and not cat.exists()
    run = mediadup("scan", str(lib), "--catalog", str(cat), "--keep", "prettiest")
    assert run.returncode == 2 and "unknown keep rule" in run.stderr


def test_a_link_plan_says_which_copies_it_leaves(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite")
    scan([lib], catalog=cat)
    run = mediadup("apply", "--catalog", cat, "--action", "hardlink")
    assert "2 copies that are not byte-identical stay" in run.stdout, run.stdout


def test_the_summary_says_what_happened_in_words_that_are_true(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite")
    run = mediadup("scan", str(lib), "--catalog", cat)
    assert "1 group, 2 duplicates" in run.stdout and "1 groups" not in run.stdout
    run = mediadup("apply", "--catalog", cat, "--yes", env={"XDG_DATA_HOME": str(tmp_path / "x")})
    assert "trashed: 2 files (" in run.stdout and "freed when the trash is emptied" in run.stdout
    assert "reclaimed" not in run.stdout


def test_skipped_ok_keeps_scan_and_apply_going(tmp_path: Path) -> None:
    lib, cat = library(tmp_path / "lib", groups=1), str(tmp_path / "c.sqlite")
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a picture")
    assert mediadup("scan", str(lib), "--catalog", cat, "-q").returncode == 1
    run = mediadup("scan", str(lib), "--catalog", cat, "-q", "--skipped-ok")
    assert run.returncode == 0 and "broken.jpg" in run.stdout


def test_an_undo_that_could_not_restore_everything_can_be_run_again(tmp_path: Path) -> None:
    """The quarantine was out of reach (an unplugged drive): undo says so, keeps the apply open,
    and a later undo brings every file back."""
    lib, cat, q = library(tmp_path / "lib", groups=2), str(tmp_path / "c.sqlite"), tmp_path / "q"
    original = contents(lib)
    scan([lib], catalog=cat)
    assert mediadup("apply", "--catalog", cat, "--action", "move", "--to", str(q), "--yes").returncode == 0
    q.rename(tmp_path / "unplugged")
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 1 and "4 could not be restored" in run.stdout and "no longer at" in run.stdout
    (tmp_path / "unplugged").rename(q)
    run = mediadup("undo", "--catalog", cat)
    assert run.returncode == 0 and "restored 4 files; 0 could not" in run.stdout, run.stdout
    assert contents(lib) == original
