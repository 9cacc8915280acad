"""The `mediadup` command, run as a real subprocess like a user would."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import mediadup, photo, save


def test_scan_prints_groups_keeper_reason_and_summary(library: Path, catalog: str) -> None:
    run = mediadup("scan", str(library), "--catalog", catalog)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "keep" in out and "lossless (PNG)" in out and "rotated rotate-90" in out
    assert "2 groups" in out and "reclaimable" in out and "16 images" in out


def test_json_to_stdout_has_the_documented_shape(library: Path, catalog: str) -> None:
    run = mediadup("scan", str(library), "--catalog", catalog, "--json", "-")
    assert run.returncode == 0
    data = json.loads(run.stdout)
    assert data["version"] == 2 and data["skipped"] == []
    files = data["groups"][0]["files"]
    assert [f["role"] for f in files].count("keep") == 1
    assert set(files[0]) >= {"path", "role", "relation", "score", "width", "height", "size"}
    assert files[0]["relation"] == "keeper" and all(f["relation"] != "keeper" for f in files[1:])
    assert "groups" in run.stderr  # the summary goes to stderr when stdout carries the JSON


def test_csv_has_one_row_per_file(library: Path, catalog: str, tmp_path: Path) -> None:
    out = tmp_path / "groups.csv"
    run = mediadup("scan", str(library), "--catalog", catalog, "--csv", str(out), "--quiet")
    assert run.returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 11 and {r["group"] for r in rows} == {"1", "2"}
    assert run.stdout.count("Group") == 0  # --quiet: only the summary


def test_exit_code_1_when_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 100)
    save(photo(1, (64, 64)), tmp_path / "ok.jpg")
    run = mediadup("scan", str(tmp_path), "--catalog", str(tmp_path / "c.sqlite"))
    assert run.returncode == 1
    assert "1 file skipped" in run.stdout and "broken.jpg" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert mediadup("scan", str(tmp_path / "missing")).returncode == 2
    assert mediadup("scan", str(tmp_path), "--level", "wild").returncode == 2
    assert mediadup("scan").returncode == 2
    bad_catalog = tmp_path / "not-a-db.sqlite"
    bad_catalog.write_text("this is not SQLite " * 100)
    run = mediadup("scan", str(tmp_path), "--catalog", str(bad_catalog))
    assert run.returncode == 2 and "cannot open catalog" in run.stderr and "Traceback" not in run.stderr


def test_exact_only_and_levels(library: Path, catalog: str) -> None:
    run = mediadup("scan", str(library), "--catalog", catalog, "--exact-only", "--json", "-")
    groups = json.loads(run.stdout)["groups"]
    assert len(groups) == 1 and {f["relation"] for f in groups[0]["files"]} == {"keeper", "identical"}
    for level in ("strict", "loose"):
        assert mediadup("scan", str(library), "--catalog", catalog, "--level", level, "-q").returncode == 0


def test_help_lists_every_option() -> None:
    out = mediadup("scan", "--help").stdout
    for option in (
        "--level",
        "--exact-only",
        "--jobs",
        "--catalog",
        "--include",
        "--exclude",
        "--follow-symlinks",
        "--hidden",
        "--max-pixels",
        "--json",
        "--csv",
        "--quiet",
    ):
        assert option in out


def test_non_utf8_names_are_printed_escaped(tmp_path: Path) -> None:
    a = photo(4, (200, 150))
    root = tmp_path / "lib"
    root.mkdir()
    a.save(os.fsdecode(os.fsencode(str(root)) + b"/\xff.jpg"), "JPEG", quality=90)
    save(a, root / "b.jpg", quality=60)
    run = mediadup("scan", str(root), "--catalog", str(tmp_path / "c.sqlite"), "--json", "-")
    assert run.returncode == 0, run.stderr
    paths = [f["path"] for f in json.loads(run.stdout)["groups"][0]["files"]]
    assert any(p.endswith("\\xff.jpg") for p in paths)


def test_outputs_are_checked_before_scanning(library: Path, catalog: str, tmp_path: Path) -> None:
    picture = library / "2020" / "original.jpg"
    before = picture.read_bytes()
    run = mediadup("scan", str(library), "--catalog", catalog, "--json", str(picture))
    assert run.returncode == 2 and "refusing to write over" in run.stderr and picture.read_bytes() == before
    run = mediadup("scan", str(library), "--catalog", catalog, "--csv", str(tmp_path / "no" / "such" / "x.csv"))
    assert run.returncode == 2 and "cannot write" in run.stderr


def test_globs_ignore_case_and_roots_count_once(tmp_path: Path) -> None:
    save(photo(1, (64, 64)), tmp_path / "lib" / "A.JPG")
    save(photo(1, (64, 64)), tmp_path / "lib" / "b.png")
    run = mediadup("scan", str(tmp_path / "lib"), str(tmp_path / "lib"), "--include", "*.jpg",
                   "--catalog", str(tmp_path / "c.sqlite"), "--json", "-")  # fmt: skip
    summary = json.loads(run.stdout)["summary"]
    assert summary["images"] == 1 and summary["hardlinks"] == 0


def test_ctrl_c_exits_cleanly_and_keeps_finished_fingerprints(tmp_path: Path) -> None:
    import signal
    import sqlite3
    import time

    base = photo(200, (1200, 900)).resize((2400, 1800))
    total = 300  # enough work that fingerprints are saved (every 2 s) long before the scan ends
    for n in range(total):
        x, y = (n * 37) % 1900, (n * 53) % 1400
        save(base.crop((x, y, x + 480, y + 360)), tmp_path / "lib" / f"{n}.jpg", quality=90)
    catalog = str(tmp_path / "c.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "mediadup", "scan", str(tmp_path / "lib"), "--catalog", catalog,
                             "-j", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(catalog, timeout=5)) as db:
            if db.execute("SELECT count(*) FROM image_fingerprints").fetchone()[0]:
                break
    os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    with contextlib.closing(sqlite3.connect(catalog)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = db.execute("SELECT count(*) FROM image_fingerprints").fetchone()[0]
    assert 0 < kept < total  # what was finished is kept: the next scan resumes from there
