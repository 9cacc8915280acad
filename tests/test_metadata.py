"""apply notes metadata a duplicate has and its keeper lacks; --merge-metadata copies it losslessly, undoable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_companions import clip

from conftest import photo, save
from mediadup.act.metadata import carried, unmerge
from mediadup.find.exact import full_hash
from mediadup.fingerprint.decode import register_plugins

CLI = [sys.executable, "-m", "mediadup"]


def camera_exif() -> Image.Exif:
    e = Image.Exif()
    e[271], e[272], e[306] = "Canon", "EOS R6", "2021:07:14 18:03:22"
    e[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    return e


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


@pytest.fixture
def stripped_keeper(tmp_path: Path) -> Path:
    """The best copy lost its metadata (an export); a smaller copy still has the camera's."""
    root = tmp_path / "photos"
    picture = photo(5, (1200, 900))
    save(picture, root / "export" / "best.jpg", quality=95)
    save(picture.resize((600, 450)), root / "phone" / "IMG_2041.jpg", quality=85, exif=camera_exif())
    return root


def pixels(path: Path) -> np.ndarray:
    register_plugins()
    with Image.open(path) as im:
        return np.asarray(im).copy()


def test_apply_says_what_a_removal_would_lose(stripped_keeper: Path, catalog: str) -> None:
    assert run("scan", str(stripped_keeper), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    plan = run("apply", "--catalog", catalog)
    assert plan.returncode == 0, plan.stderr
    assert "IMG_2041.jpg has capture date, GPS, camera that its keeper" in plan.stdout.replace("\n", " ")
    assert "--merge-metadata" in plan.stdout


def test_merge_metadata_keeps_the_pixels_and_undo_restores_the_keeper(stripped_keeper: Path, catalog: str) -> None:
    keeper, duplicate = stripped_keeper / "export" / "best.jpg", stripped_keeper / "phone" / "IMG_2041.jpg"
    before, digest, mtime = pixels(keeper), full_hash(str(keeper)), keeper.stat().st_mtime_ns
    assert run("scan", str(stripped_keeper), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    dry = run("apply", "--catalog", catalog, "--merge-metadata")
    assert "merge    capture date,GPS,camera from" in dry.stdout and full_hash(str(keeper)) == digest
    done = run("apply", "--catalog", catalog, "--merge-metadata", "--action", "move", "--to",
               str(stripped_keeper.parent / "q"), "--yes")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "metadata merged into 1 keeper;" in done.stdout
    assert not duplicate.exists()
    assert carried(str(keeper)) == {"capture date", "GPS", "camera"}
    exif = Image.open(keeper).getexif()
    assert exif[271] == "Canon" and exif.get_ifd(0x8825)[1] == "N"
    assert np.array_equal(pixels(keeper), before)  # not re-encoded
    assert keeper.stat().st_mtime_ns == mtime
    back = run("undo", "--catalog", catalog)
    assert back.returncode == 0, back.stdout + back.stderr
    assert duplicate.exists() and full_hash(str(keeper)) == digest and carried(str(keeper)) == set()


def heic_library(tmp_path: Path) -> Path:
    register_plugins()
    root = tmp_path / "photos"
    picture = photo(6, (1200, 900))
    save(picture, root / "best.heic", quality=90)
    save(picture.resize((600, 450)), root / "IMG_1.jpg", quality=85, exif=camera_exif())
    return root


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="ExifTool is not installed")
def test_exiftool_merges_into_a_heic_keeper(tmp_path: Path, catalog: str) -> None:
    root = heic_library(tmp_path)
    keeper = root / "best.heic"
    before = pixels(keeper)
    assert run("scan", str(root), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    done = run("apply", "--catalog", catalog, "--merge-metadata", "--action", "move", "--to", str(tmp_path / "q"),
               "--yes")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert carried(str(keeper)) == {"capture date", "GPS", "camera"} and not (root / "IMG_1.jpg").exists()
    assert np.array_equal(pixels(keeper), before)


def test_without_a_writer_for_the_keeper_its_duplicate_stays(tmp_path: Path, catalog: str) -> None:
    root = heic_library(tmp_path)
    digest = full_hash(str(root / "best.heic"))
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    env = {**os.environ, "PATH": str(nothing)}  # no exiftool to be found
    assert run("scan", str(root), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    plan = subprocess.run([*CLI, "apply", "--catalog", catalog], capture_output=True, text=True, env=env)
    assert "needs ExifTool (exiftool); or keep the duplicate" in plan.stdout.replace("\n", " ")
    done = subprocess.run([*CLI, "apply", "--catalog", catalog, "--merge-metadata", "--action", "move", "--to",
                           str(tmp_path / "q"), "--yes"], capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "IMG_1.jpg: its metadata could not be copied into the keeper" in done.stdout
    assert "needs ExifTool" in done.stdout
    assert (root / "IMG_1.jpg").exists() and full_hash(str(root / "best.heic")) == digest


def test_identical_copies_and_complete_keepers_need_no_note(tmp_path: Path, catalog: str) -> None:
    root = tmp_path / "photos"
    picture = photo(8, (800, 600))
    save(picture, root / "a.jpg", quality=95, exif=camera_exif())
    (root / "b.jpg").write_bytes((root / "a.jpg").read_bytes())
    save(picture.resize((400, 300)), root / "small.jpg", quality=80, exif=camera_exif())
    assert run("scan", str(root), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    plan = run("apply", "--catalog", catalog)
    assert "plan: 2 files" in plan.stdout and "note:" not in plan.stdout


def test_undo_never_puts_back_a_cut_off_original_nor_undoes_later_edits(tmp_path: Path) -> None:
    keeper, backup = tmp_path / "best.jpg", tmp_path / "kept" / "best.jpg"
    save(photo(3, (300, 200)), keeper, quality=90)
    original = keeper.read_bytes()
    backup.parent.mkdir()
    backup.write_bytes(original[: len(original) // 2])  # an apply killed while it kept the original
    merged = full_hash(str(keeper))
    assert "no longer kept whole" in unmerge(str(keeper), str(backup), len(original), merged)
    backup.write_bytes(original)
    save(photo(4, (300, 200)), keeper, quality=90)  # the user edited the keeper after the merge
    edited = keeper.read_bytes()
    assert "changed since the merge" in unmerge(str(keeper), str(backup), len(original), merged)
    assert keeper.read_bytes() == edited and backup.exists()


def test_a_live_photo_whose_metadata_cannot_be_merged_keeps_its_motion_clip(tmp_path: Path, catalog: str) -> None:
    root = heic_library(tmp_path)
    clip(root / "IMG_1.MOV", Image.open(root / "IMG_1.jpg"))
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    env = {**os.environ, "PATH": str(nothing)}  # no exiftool: nothing can write into the HEIC keeper
    assert run("scan", str(root), "--catalog", catalog, "-q", "-j", "1").returncode == 0
    done = subprocess.run([*CLI, "apply", "--catalog", catalog, "--merge-metadata", "--action", "move", "--to",
                           str(tmp_path / "q"), "--yes"], capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 1 and "IMG_1.MOV: its photo stays" in done.stdout, done.stdout + done.stderr
    assert (root / "IMG_1.jpg").exists() and (root / "IMG_1.MOV").exists()


def test_odd_names_and_a_relative_catalog_merge_and_undo(stripped_keeper: Path, tmp_path: Path) -> None:
    keeper = Path(os.fsdecode(os.fsencode(str(stripped_keeper / "export")) + b"/best \xff.jpg"))
    (stripped_keeper / "export" / "best.jpg").rename(keeper)  # a name that is not UTF-8
    digest = full_hash(str(keeper))
    here = {"cwd": str(tmp_path), "capture_output": True, "text": True}
    assert subprocess.run([*CLI, "scan", str(stripped_keeper), "--catalog", "c.sqlite", "-q", "-j", "1"],
                          **here).returncode == 0  # fmt: skip
    done = subprocess.run([*CLI, "apply", "--catalog", "c.sqlite", "--merge-metadata", "--action", "move", "--to",
                           "q", "--yes"], **here)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert carried(str(keeper)) == {"capture date", "GPS", "camera"}
    back = subprocess.run([*CLI, "undo", "--catalog", str(tmp_path / "c.sqlite")], cwd="/", capture_output=True,
                          text=True)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    assert full_hash(str(keeper)) == digest and (stripped_keeper / "phone" / "IMG_2041.jpg").exists()
