"""Every kind of image file, and every kind of bad input: a clear reason, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from conftest import nobody, photo, save
from mediadup import scan
from mediadup.find.discover import Walker, sniff
from mediadup.fingerprint.decode import decode
from mediadup.records import Kind


def huge_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG header announcing a giant image (a decompression bomb), with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "L", "1", "I;16", "I", "F", "RGB"])
def test_every_pixel_mode_decodes_to_rgb(tmp_path: Path, mode: str) -> None:
    im = photo(1, (96, 64))
    if mode in ("I;16", "I", "F"):
        im = Image.fromarray(
            (np.asarray(im.convert("L"), np.float32) * 257).astype(np.uint16 if mode == "I;16" else np.int32)
        )
        im = im.convert(mode) if mode == "F" else im
    else:
        im = im.convert(mode)
    ext = "tif" if mode in ("CMYK", "I", "F", "I;16") else "png"
    path = save(im, tmp_path / f"x.{ext}")
    d = decode(str(path))
    assert d.image.mode == "RGB" and (d.width, d.height) == (96, 64)
    assert np.asarray(d.image).std() > 5  # not blank: the pixels survived the conversion


def test_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    d = decode(str(save(im, tmp_path / "clear.png")))
    assert np.asarray(d.image).min() == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = photo(2, (120, 60))
    exif = Image.Exif()
    exif[274] = 6  # rotated 90° clockwise for display
    d = decode(str(save(im, tmp_path / "o.jpg", exif=exif, quality=95)))
    assert (d.width, d.height) == (60, 120) and d.image.size[0] < d.image.size[1]


def test_animated_gif_uses_the_first_frame(tmp_path: Path) -> None:
    frames = [photo(s, (64, 48)).convert("P") for s in (3, 4)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert decode(str(path)).format == "GIF"


def test_heic_and_avif(tmp_path: Path) -> None:
    im = photo(5, (128, 96))
    heif = pillow_heif.from_pillow(im)
    heif.save(tmp_path / "a.heic", quality=90)
    save(im, tmp_path / "a.avif", quality=80)
    save(im, tmp_path / "a.png")
    result = scan([tmp_path], catalog=str(tmp_path / "c.sqlite"))
    assert result.skipped == []
    assert [{os.path.basename(m.path) for m in g.members} for g in result.groups] == [{"a.heic", "a.avif", "a.png"}]


def test_large_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    path = save(photo(6, (2000, 1500)), tmp_path / "big.jpg", quality=90)
    d = decode(str(path))
    assert (d.width, d.height) == (2000, 1500) and max(d.image.size) <= 512 and d.jpeg_quality == 90


def bad_files(root: Path) -> dict[str, str]:
    """Bad files, and a word the reason given for each must contain."""
    root.mkdir(parents=True, exist_ok=True)
    good = save(photo(7, (200, 150)), root / "good.jpg", quality=90).read_bytes()
    (root / "empty.jpg").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "garbage.png").write_bytes(os.urandom(2000))
    (root / "text.jpg").write_text("this is not a picture\n" * 50)
    huge_png(root / "bomb.png", 100_000, 100_000)
    (root / "header-only.jpg").write_bytes(good[:20])
    return {
        "empty.jpg": "empty",
        "truncated.jpg": "truncated",
        "garbage.png": "not a readable image",
        "text.jpg": "not a readable image",
        "bomb.png": "too large",
        "header-only.jpg": "",
    }


def test_bad_files_are_skipped_with_reasons_and_the_scan_goes_on(tmp_path: Path) -> None:
    expected = bad_files(tmp_path / "lib")
    a = photo(8)
    save(a, tmp_path / "lib" / "a.jpg", quality=90)
    save(a.resize((320, 240)), tmp_path / "lib" / "a small.jpg", quality=90)
    result = scan([tmp_path / "lib"], catalog=str(tmp_path / "c.sqlite"))
    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    assert [{os.path.basename(m.path) for m in g.members} for g in result.groups] == [{"a.jpg", "a small.jpg"}]


def test_failures_are_cached_and_reported_again(tmp_path: Path) -> None:
    bad_files(tmp_path / "lib")
    first = scan([tmp_path / "lib"], catalog=str(tmp_path / "c.sqlite"))
    second = scan([tmp_path / "lib"], catalog=str(tmp_path / "c.sqlite"))
    assert second.summary.fingerprinted == 0
    assert second.skipped == first.skipped


def test_max_pixels(tmp_path: Path) -> None:
    save(photo(9, (300, 200)), tmp_path / "a.png")
    result = scan([tmp_path], catalog=str(tmp_path / "c.sqlite"), max_pixels=10_000)
    assert "too large: 300x200" in result.skipped[0].reason


def test_unreadable_file_and_folder() -> None:
    """Permissions are real: as root (CI), the scan runs as the unprivileged user `nobody`."""
    root = Path(tempfile.mkdtemp(prefix="mediadup-perm-"))
    try:
        root.chmod(0o755)
        save(photo(1, (64, 64)), root / "secret.jpg").chmod(0)
        save(photo(1, (64, 64)), root / "secret copy.jpg").chmod(0)
        (root / "closed").mkdir()
        save(photo(2, (64, 64)), root / "closed" / "x.jpg")
        (root / "closed").chmod(0)
        command = [
            sys.executable,
            "-m",
            "mediadup",
            "scan",
            str(root),
            "--catalog",
            str(root / "c.sqlite"),
            "--json",
            "-",
            "--quiet",
        ]
        if drop := nobody():
            command = [*drop, *command]
            os.chown(root, 65534, 65534)
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        reasons = {os.path.basename(s["path"]): s["reason"] for s in json.loads(run.stdout)["skipped"]}
        assert reasons["closed"] == "cannot read folder: Permission denied"
        assert "Permission denied" in reasons["secret.jpg"] or "permission denied" in reasons["secret.jpg"]
    finally:
        (root / "closed").chmod(0o755)
        shutil.rmtree(root)


def test_odd_names(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    a = photo(10, (200, 150))
    save(a, root / "space and ünïcödé 📷.jpg", quality=90)
    raw = os.fsencode(str(root)) + b"/bad-\xff\xfe-name.jpg"
    a.save(os.fsdecode(raw), "JPEG", quality=80)
    save(a, root / "-starts-with-dash.JPG", quality=70)
    result = scan([root], catalog=str(tmp_path / "c.sqlite"))
    assert result.skipped == []
    assert len(result.groups) == 1 and len(result.groups[0].members) == 3


def test_symlinks_are_not_followed_unless_asked_and_loops_end(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    save(photo(11), root / "real" / "a.jpg", quality=90)
    (root / "link").symlink_to(root / "real")
    (root / "real" / "loop").symlink_to(root)
    (root / "broken.jpg").symlink_to(root / "nowhere.jpg")
    assert [f.path for f in Walker().walk([str(root)]).files] == [str(root / "real" / "a.jpg")]
    followed = Walker(follow_symlinks=True).walk([str(root)])
    assert len(followed.files) == 1  # the same file through the link is one inode
    assert [s.reason for s in followed.skipped] == ["broken symbolic link"]


def test_include_exclude_hidden(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.png", "raw/c.jpg", ".hidden/d.jpg", ".e.jpg"):
        save(photo(1, (32, 32)), tmp_path / name)
    walk = lambda **kw: sorted(os.path.relpath(f.path, tmp_path) for f in Walker(**kw).walk([str(tmp_path)]).files)  # noqa: E731
    assert walk() == ["a.jpg", "b.png", "raw/c.jpg"]
    assert walk(include=("*.jpg",)) == ["a.jpg", "raw/c.jpg"]
    assert walk(exclude=("raw",)) == ["a.jpg", "b.png"]
    assert walk(hidden=True) == [".e.jpg", ".hidden/d.jpg", "a.jpg", "b.png", "raw/c.jpg"]


def test_files_without_extension_are_sniffed(tmp_path: Path) -> None:
    save(photo(1, (32, 32)), tmp_path / "IMG0001", format="JPEG")
    (tmp_path / "notes").write_text("hello, world, not a picture")
    found = Walker().walk([str(tmp_path)])
    assert [os.path.basename(f.path) for f in found.files] == ["IMG0001"] and found.other == 1
    assert sniff(b"\x00\x00\x00\x18ftypheic") is Kind.IMAGE
    assert sniff(b"\x00\x00\x00\x18ftypisom") is Kind.VIDEO


def test_missing_root_is_reported(tmp_path: Path) -> None:
    result = scan([tmp_path / "nope"], catalog=str(tmp_path / "c.sqlite"))
    assert result.skipped[0].reason.startswith("cannot open")


def test_file_deleted_or_changed_during_the_scan(tmp_path: Path) -> None:
    from mediadup.fingerprint.workers import fingerprint_one
    from mediadup.records import Kind

    gone = tmp_path / "gone.jpg"
    assert fingerprint_one((str(gone), 10**8, Kind.IMAGE))[2] == "file vanished during the scan"
    # a file that changes between discovery and decoding is reported, not fingerprinted
    from mediadup.fingerprint_cache import _changed

    p = save(photo(1, (64, 64)), tmp_path / "a.jpg")
    st = p.stat()
    assert not _changed(str(p), (st.st_size, st.st_mtime_ns))
    save(photo(2, (64, 64)), p, quality=50)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _changed(str(p), (st.st_size, st.st_mtime_ns))


def test_passing_troubles_are_not_remembered(tmp_path: Path) -> None:
    """--max-pixels applies to each scan: a file skipped as too large is read when the limit rises,
    and a cached fingerprint obeys a lower limit."""
    save(photo(9, (300, 200)), tmp_path / "lib" / "a.png")
    save(photo(9, (300, 200)), tmp_path / "lib" / "a.jpg", quality=80)
    catalog = str(tmp_path / "c.sqlite")
    assert len(scan([tmp_path / "lib"], catalog=catalog, max_pixels=10_000).skipped) == 2
    result = scan([tmp_path / "lib"], catalog=catalog)
    assert result.skipped == [] and len(result.groups) == 1
    again = scan([tmp_path / "lib"], catalog=catalog, max_pixels=10_000)
    assert again.summary.fingerprinted == 0 and len(again.skipped) == 2 and again.groups == []


def test_identical_copies_of_a_broken_file_are_skipped_not_grouped(tmp_path: Path) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(3000)
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(data)
    result = scan([tmp_path], catalog=str(tmp_path / "c.sqlite"))
    assert result.groups == [] and len(result.skipped) == 2
