"""Similar shots (--similar): bursts around their best shot, apart from duplicates, removed only when asked."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

import mediadup
from conftest import photo, save
from mediadup.act.decisions import contents, pairs_among
from mediadup.fingerprint.image import shot_signals
from mediadup.match.compare import distinct_shots
from mediadup.records import ImageInfo, Relation
from mediadup.report.text import write_csv
from mediadup.store.catalog import Catalog


def exif(second: int | None, saved: str | None = None) -> Image.Exif:
    """A camera's EXIF: the moment of the shot (DateTimeOriginal) and, when an editor saved the
    file, the time of that save (DateTime)."""
    e = Image.Exif()
    e[271], e[272] = "Canon", "EOS R6"
    if second is not None:
        e.get_ifd(0x8769)[36867] = f"2024:06:01 10:00:{second:02d}"
    if saved:
        e[306] = saved
    return e


def burst_frame(scene: Image.Image, k: int) -> Image.Image:
    """The scene a moment later: the camera moved a little and the subject (a ball) moved more."""
    w, h = scene.size
    frame = scene.crop((8 + 6 * k, 10, w - 40 + 6 * k, h - 30)).resize((w, h))
    draw = ImageDraw.Draw(frame)
    x = 60 + 110 * k
    draw.ellipse((x, 180, x + 150, 330), fill=(230, 40, 40), outline=(20, 20, 20), width=6)
    return frame


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    """A burst of four frames (one shaken: blurred), a re-encoded copy of the first, and unrelated photos."""
    root = tmp_path / "shoot"
    scene = photo(7)
    for k in range(4):
        frame = burst_frame(scene, k)
        if k == 2:
            frame = frame.filter(ImageFilter.GaussianBlur(3))
        save(frame, root / f"IMG_{k:04d}.jpg", quality=92, exif=exif(10 + k))
    first = Image.open(root / "IMG_0000.jpg")
    save(first.resize((480, 360)), root / "export" / "IMG_0000_small.jpg", quality=80, exif=exif(10))
    for seed in (21, 22, 23):
        save(photo(seed), root / f"other_{seed}.jpg", quality=90)
    return root


def names(paths) -> set[str]:
    return {Path(p).name for p in paths}


def test_a_burst_is_one_similar_group_around_its_sharpest_shot(shoot: Path, catalog: str) -> None:
    result = mediadup.scan(shoot, catalog=catalog, similar=True, jobs=1)
    # the only duplicates: the first frame and its re-encoded copy; the other frames are distinct shots
    assert [names(m.path for m in g.members) for g in result.groups] == [{"IMG_0000.jpg", "IMG_0000_small.jpg"}]
    assert len(result.similar) == 1
    shots = result.similar[0]
    assert names(m.path for m in shots.members) == {"IMG_0000.jpg", "IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"}
    assert Path(shots.keeper.path).name != "IMG_0002.jpg"  # the shaken frame is never the suggestion
    assert shots.reason.startswith("suggested best shot: sharpest")
    assert all(m.relation is Relation.SIMILAR and m.score >= 0.78 for m in shots.duplicates)
    assert shots.reclaimable == 0 and result.summary.similar == 1


def test_without_similar_bursts_are_not_duplicates(shoot: Path, catalog: str) -> None:
    result = mediadup.scan(shoot, catalog=catalog, jobs=1)
    assert result.similar == []
    assert [names(m.path for m in g.members) for g in result.groups] == [{"IMG_0000.jpg", "IMG_0000_small.jpg"}]


def test_similar_shots_are_removed_only_when_asked(shoot: Path, catalog: str, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "mediadup"]
    out = tmp_path / "out.json"
    run = subprocess.run([*cli, "scan", str(shoot), "--similar", "--catalog", catalog, "--json", str(out), "-j", "1"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Similar shots 1" in run.stdout and "suggested best shot" in run.stdout
    data = json.loads(out.read_text())
    assert len(data["groups"]) == 1 and len(data["similar"]) == 1
    assert {f["role"] for f in data["similar"][0]["files"]} == {"keep", "similar"}
    best = next(f["path"] for f in data["similar"][0]["files"] if f["role"] == "keep")
    quarantine = tmp_path / "q"
    plain = subprocess.run([*cli, "apply", "--catalog", catalog, "--action", "move", "--to", str(quarantine)],
                           capture_output=True, text=True)  # fmt: skip
    assert "plan: 1 file," in plain.stdout, plain.stdout  # only the re-encoded copy
    run = subprocess.run([*cli, "apply", "--catalog", catalog, "--action", "move", "--to", str(quarantine),
                          "--include-similar", "--yes"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    left = names(p for p in shoot.rglob("*.jpg"))
    assert Path(best).name in left and "IMG_0000.jpg" in left  # the best shot and every group's keeper stay
    assert {"other_21.jpg", "other_22.jpg", "other_23.jpg"} <= left
    assert len(left) < 8  # the other shots went


def test_csv_rows_of_similar_shots(shoot: Path, catalog: str) -> None:
    result = mediadup.scan(shoot, catalog=catalog, similar=True, jobs=1)
    buf = io.StringIO()
    write_csv(result, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert {r["relation"] for r in rows if r["group"] == "2"} == {"keeper", "similar"}


def test_pictures_fingerprinted_before_sharpness_was_measured_are_measured_once(shoot: Path, catalog: str) -> None:
    mediadup.scan(shoot, catalog=catalog, jobs=1)
    with sqlite3.connect(catalog) as db:  # as stored by an older mediadup: no sharpness, no clipping
        for file_id, info in db.execute("SELECT file_id, info FROM image_fingerprints").fetchall():
            old = {k: v for k, v in json.loads(info).items() if k not in ("sharpness", "clipped", "captured")}
            db.execute("UPDATE image_fingerprints SET info = ? WHERE file_id = ?", (json.dumps(old), file_id))
        db.execute("UPDATE files SET fp_version = 9 WHERE fp_version IS NOT NULL")  # its fingerprint version
    result = mediadup.scan(shoot, catalog=catalog, similar=True, jobs=1)
    assert result.summary.fingerprinted > 0 and len(result.similar) == 1  # fingerprinted again, once
    assert Path(result.similar[0].keeper.path).name != "IMG_0002.jpg"
    with sqlite3.connect(catalog) as db:
        measured = [json.loads(i).get("sharpness") for (i,) in db.execute("SELECT info FROM image_fingerprints")]
    assert sum(s is not None for s in measured) >= 4  # the burst's frames are stored measured
    assert mediadup.scan(shoot, catalog=catalog, similar=True, jobs=1).summary.fingerprinted == 0


def test_ignored_shots_are_not_grouped(shoot: Path, catalog: str) -> None:
    with Catalog(catalog) as cat:
        cat.ignore(pairs_among(contents([str(shoot / "IMG_0001.jpg"), str(shoot / "IMG_0003.jpg")])))
    result = mediadup.scan(shoot, catalog=catalog, similar=True, jobs=1)
    for g in result.similar:
        assert not {"IMG_0001.jpg", "IMG_0003.jpg"} <= names(m.path for m in g.members)


@pytest.mark.parametrize(
    ("a", "b", "distinct"),
    [
        ("2024:06:01 10:00:10", "2024:06:01 10:00:12", True),  # a burst
        ("2024:06:01 10:00:10", "2024:06:01 10:00:10", False),  # a copy
        ("2024:06:01 10:00:10", "2024:06:01 12:00:10", False),  # a copy moved to another time zone
        ("2024:06:01 10:00:10", "2024:06:01 10:45:10", False),  # ... a quarter-hour zone
        ("2024:06:01 10:00:10", None, False),  # a copy without EXIF
        ("2024:06:01 10:00:10", "garbage", False),
    ],
)
def test_capture_times_tell_distinct_shots(a: str, b: str | None, distinct: bool) -> None:
    def info(date: str | None, camera: str | None = "Canon EOS R6") -> ImageInfo:
        return ImageInfo(100, 100, "JPEG", "RGB", 100, 100, exif_date=date, camera=camera, captured=date)

    assert distinct_shots(info(a), info(b)) is distinct
    assert not distinct_shots(info(a, None), info(b))  # software's dates say nothing of the moment


def test_an_edit_saved_later_is_still_a_duplicate(tmp_path: Path, catalog: str) -> None:
    """An editor's save time (DateTime) is not the moment of the shot: copies still group."""
    picture = photo(31)
    save(picture, tmp_path / "lib" / "IMG_1.jpg", quality=92, exif=exif(None, "2024:06:01 10:00:10"))
    save(picture.resize((480, 360)), tmp_path / "lib" / "IMG_1-edited.jpg", quality=85,
         exif=exif(None, "2024:06:03 21:17:44"))  # fmt: skip
    result = mediadup.scan(tmp_path / "lib", catalog=catalog, jobs=1)
    assert [names(m.path for m in g.members) for g in result.groups] == [{"IMG_1.jpg", "IMG_1-edited.jpg"}]


def test_an_edited_plan_cannot_make_a_similar_shot_a_duplicate(shoot: Path, catalog: str, tmp_path: Path) -> None:
    """The relation of each file comes from the scan, not from the plan file: editing "similar"
    into "near-duplicate" does not make a distinct shot removable without --include-similar."""
    out = tmp_path / "plan.json"
    cli = [sys.executable, "-m", "mediadup"]
    subprocess.run([*cli, "scan", str(shoot), "--similar", "--catalog", catalog, "--json", str(out), "-j", "1"],
                   capture_output=True, text=True, check=True)  # fmt: skip
    data = json.loads(out.read_text())
    for f in data["similar"][0]["files"]:
        if f["role"] == "similar":
            f["role"], f["relation"] = "duplicate", "near-duplicate"
    out.write_text(json.dumps(data))
    run = subprocess.run([*cli, "apply", "--catalog", catalog, "--from", str(out)], capture_output=True, text=True)
    assert "plan: 1 file," in run.stdout, run.stdout  # still only the re-encoded copy of the duplicate group


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_sharpness_is_the_spread_of_the_laplacian_and_clipping_the_share_of_extreme_pixels(
    h: int, w: int, seed: int
) -> None:
    """The shot signals are their definitions (OpenCV computes them: checked against NumPy)."""
    x = np.random.default_rng(seed).choice([0, 1, 2, 3, 128, 252, 253, 255], size=(h, w)).astype(np.uint8)
    sharpness, clipped = shot_signals(x)
    f = x.astype(np.float32)
    lap = 4 * f[1:-1, 1:-1] - f[:-2, 1:-1] - f[2:, 1:-1] - f[1:-1, :-2] - f[1:-1, 2:]
    expected = (
        (round(float(lap.std()), 3), round(float(((x <= 2) | (x >= 253)).mean()), 4)) if min(h, w) >= 3 else (0, 0)
    )
    assert (sharpness, clipped) == expected


def test_a_blurred_shot_is_less_sharp() -> None:
    picture = photo(3).convert("L")
    blurred = picture.filter(ImageFilter.GaussianBlur(2))
    assert shot_signals(np.asarray(blurred))[0] < 0.5 * shot_signals(np.asarray(picture))[0]
