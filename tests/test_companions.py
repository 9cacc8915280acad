"""Live Photos: a photo and its motion clip are one item, in groups, plans and undo."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import av
import numpy as np
from PIL import Image

from conftest import mediadup, photo, save
from mediadup import scan
from mediadup.act.plan import make_plan
from mediadup.act.planfile import read_plan, write_json
from mediadup.group.companions import find_companions
from mediadup.store.catalog import Catalog

IDENT = "5D8F3A2B-1C4E-4F6A-9B7D-0E1F2A3B4C5D"


def clip(path: Path, picture: Image.Image, seconds: float = 2.0, ident: str | None = None) -> None:
    """A short MOV of the picture drifting a little, as a phone records around a Live Photo."""
    options = {"movflags": "use_metadata_tags"} if ident else {}
    with av.open(str(path), "w", options=options) as out:
        if ident:
            out.metadata["com.apple.quicktime.content.identifier"] = ident
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        base = picture.resize((352, 264))
        for i in range(int(seconds * 10)):
            frame = base.crop((i % 16, i % 12, i % 16 + 320, i % 12 + 240))
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def apple_photo(path: Path, picture: Image.Image, ident: str) -> None:
    """A JPEG whose maker note carries the content identifier, as an iPhone writes it."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x927C] = b"Apple iOS\x00\x00\x01MM" + b"\x00" * 20 + ident.encode() + b"\x00"
    picture.save(path, quality=90, exif=exif)


def live_library(tmp_path: Path) -> Path:
    root = tmp_path / "phone"
    a = photo(1, (640, 480))
    save(a, root / "IMG_0001.JPG", quality=92)
    clip(root / "IMG_0001.MOV", a)
    save(a.resize((480, 360)), root / "IMG_0002.JPG", quality=85)  # a smaller copy, with its own clip
    clip(root / "IMG_0002.MOV", a.resize((480, 360)))
    b = photo(2, (640, 480))
    apple_photo(root / "renamed photo.jpg", b, IDENT)  # a pair whose names no longer agree
    clip(root / "motion.mov", b, ident=IDENT)
    save(photo(3, (640, 480)), root / "IMG_0003.JPG")  # a photo without its other half
    clip(root / "IMG_0004.MOV", photo(4), seconds=9)  # a video of its own: too long to be a motion part
    save(photo(4, (640, 480)), root / "IMG_0004.JPG")
    return root


def test_pairs_by_name_and_by_content_identifier(tmp_path: Path) -> None:
    root = live_library(tmp_path)
    result = scan(root, catalog=str(tmp_path / "c.sqlite"))
    assert result.summary.companions == 3
    assert result.skipped == []
    (group,) = result.groups  # the clips are never duplicates of their photos, nor of each other
    assert [Path(m.path).name for m in group.members] == ["IMG_0001.JPG", "IMG_0002.JPG"]
    assert [Path(m.companion.path).name for m in group.members if m.companion] == ["IMG_0001.MOV", "IMG_0002.MOV"]
    assert group.reclaimable == sum((root / n).stat().st_size for n in ("IMG_0002.JPG", "IMG_0002.MOV"))
    plan = tmp_path / "plan.json"
    with open(plan, "w") as f:
        write_json(result, f)
    files = json.loads(plan.read_text())["groups"][0]["files"]
    assert [Path(f["companion"]).name for f in files] == ["IMG_0001.MOV", "IMG_0002.MOV"]
    with Catalog(str(tmp_path / "c.sqlite")) as cat:
        groups, left_out = read_plan(str(plan), cat)
    assert left_out == []
    actions = make_plan(groups)  # an edited plan carries the clips too
    assert [(Path(a.path).name, a.relation) for a in actions] == [
        ("IMG_0002.JPG", "near-duplicate"),
        ("IMG_0002.MOV", "motion"),
    ]


def test_a_removed_photo_takes_its_motion_clip_along_and_undo_brings_both_back(tmp_path: Path) -> None:
    root, catalog = live_library(tmp_path), str(tmp_path / "c.sqlite")
    run = mediadup("scan", str(root), "--catalog", catalog)
    assert run.returncode == 0 and "+ motion" in run.stdout and "3 Live Photos" in run.stdout, run.stderr
    run = mediadup("apply", "--action", "move", "--to", str(tmp_path / "out"), "--yes", "--catalog", catalog)
    assert run.returncode == 0, run.stdout + run.stderr
    left = sorted(p.name for p in root.iterdir())
    assert "IMG_0002.JPG" not in left and "IMG_0002.MOV" not in left
    assert {"IMG_0001.JPG", "IMG_0001.MOV", "motion.mov", "IMG_0004.MOV"} <= set(left)
    assert mediadup("undo", "--catalog", catalog).returncode == 0
    assert {"IMG_0002.JPG", "IMG_0002.MOV"} <= {p.name for p in root.iterdir()}


def test_a_motion_clip_gone_before_apply_leaves_the_photo_to_go_alone(tmp_path: Path) -> None:
    root, catalog = live_library(tmp_path), str(tmp_path / "c.sqlite")
    mediadup("scan", str(root), "--catalog", catalog, "--quiet")
    (root / "IMG_0002.MOV").unlink()
    run = mediadup("apply", "--action", "move", "--to", str(tmp_path / "out"), "--yes", "--catalog", catalog)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr  # 1: something skipped
    assert "IMG_0002.MOV: the file is gone" in run.stdout
    assert not (root / "IMG_0002.JPG").exists() and (root / "IMG_0001.MOV").exists()


def test_pairing_rules(tmp_path: Path) -> None:
    from mediadup.records import FileStat, Kind

    def stat(name: str) -> FileStat:
        return FileStat(str(tmp_path / name), 1, 0, 0, 0, Kind.IMAGE)

    files = [stat(n) for n in ("a.HEIC", "a.mov", "b.jpg", "b.mp4", "c.png", "c.mov", "d.jpg", "sub/d.mov")]
    durations = {str(tmp_path / n): 2.5 for n in ("a.mov", "b.mp4", "c.mov", "sub/d.mov")}
    pairs = {Path(k).name: Path(v).name for k, v in find_companions(files, durations).items()}
    assert pairs == {"a.HEIC": "a.mov", "b.jpg": "b.mp4"}  # PNG is no Live Photo; other folders never pair
    durations[str(tmp_path / "a.mov")] = 30.0
    assert "a.HEIC" not in {Path(k).name for k in find_companions(files, durations)}


def test_companions_and_decisions_survive_a_catalog_migration(tmp_path: Path) -> None:
    root, catalog = live_library(tmp_path), str(tmp_path / "c.sqlite")
    scan(root, catalog=catalog)
    run = mediadup("ignore", str(root / "IMG_0001.JPG"), str(root / "IMG_0002.JPG"), "--catalog", catalog)
    assert run.returncode == 0, run.stderr
    with contextlib.closing(sqlite3.connect(catalog)) as db:  # as an older mediadup left it
        db.execute("ALTER TABLE image_fingerprints DROP COLUMN usable")
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema'")
        db.commit()
    result = scan(root, catalog=catalog)
    assert result.summary.companions == 3 and result.summary.fingerprinted == 0
    assert result.groups == []  # the two photos were declared apart
    run = mediadup("scan", str(root), "--catalog", catalog, "--similar")
    assert run.returncode == 0 and "3 Live Photos" in run.stdout, run.stderr
