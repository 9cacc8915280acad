"""Real images made with Pillow and NumPy in temporary folders: no mocks of decoders or files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter


def photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like picture, different for every seed: smooth colour fields, shapes and texture."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(4):
            fx, fy = rng.uniform(0.5, 4, 2) / np.array([w, h]) * 2 * np.pi
            img[..., c] += rng.uniform(20, 50) * np.sin(x * fx + y * fy * rng.choice([-1, 1]) + rng.uniform(0, 6.3))
    img += 128
    im = Image.fromarray(img.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(w // 20, w // 3), y0 + rng.integers(h // 20, h // 3)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    noise = rng.normal(0, 6, (h, w, 3))
    im = Image.fromarray((np.asarray(im, np.float32) + noise).clip(0, 255).astype(np.uint8))
    return im.filter(ImageFilter.GaussianBlur(1))


def mediadup(*args: str, cwd: Path | None = None, env: dict | None = None,
             user: list[str] | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    """The command as a user runs it (`user`: a prefix such as `nobody()` that changes who)."""
    return subprocess.run([*(user or []), sys.executable, "-m", "mediadup", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, **(env or {})})  # fmt: skip


def nobody() -> list[str]:
    """A command prefix that runs as the unprivileged user `nobody` when the tests run as root
    (as in CI), so that permissions are real; skips the test when that is not possible."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("setpriv is needed to drop root's privileges")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run([*drop, sys.executable, "-c", "import mediadup"], capture_output=True).returncode:
        pytest.skip("user nobody cannot run this Python (its folders are private)")
    return drop


def wait_for_journal(catalog: str, proc: subprocess.Popen, entries: int, state: str | None = None) -> None:
    """Wait until the journal holds `entries` entries (in `state`), or the process ended: a
    signal sent then lands inside an apply or undo."""
    import contextlib
    import sqlite3
    import time

    query = "SELECT count(*) FROM journal" + (" WHERE state = ?" if state else "")
    db = sqlite3.connect(catalog, timeout=30)
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.OperationalError):
                if db.execute(query, (state,) if state else ()).fetchone()[0] >= entries:
                    return
    finally:
        db.close()


def save(im: Image.Image, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)
    return path


def tree_state(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root with its size, mtime and bytes: to prove that nothing changed."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns, Path(p).read_bytes() if os.path.isfile(p) else b"")
    return out


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    return str(tmp_path / "catalog" / "mediadup.sqlite")


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A small library: two pictures with many kinds of copies, plus distinct pictures."""
    root = tmp_path / "photos"
    a = photo(1, (800, 600))
    save(a, root / "2020" / "original.jpg", quality=92)
    save(a, root / "copies" / "original copy.jpg", quality=92)
    save(a.resize((400, 300), Image.Resampling.LANCZOS), root / "small.jpg", quality=85)
    save(a, root / "recompressed.jpg", quality=40)
    save(a, root / "lossless.png")
    save(a.transpose(Image.Transpose.ROTATE_90), root / "rotated.jpg", quality=90)
    save(a.transpose(Image.Transpose.FLIP_LEFT_RIGHT), root / "mirrored.jpg", quality=90)
    save(a.crop((60, 45, 740, 555)), root / "cropped.jpg", quality=90)
    save(a.convert("L"), root / "gray.jpg", quality=90)
    b = photo(2)
    save(b, root / "other" / "b.jpg", quality=90)
    save(b.resize((320, 240)), root / "other" / "b small.webp", quality=80)
    for seed in range(3, 8):
        save(photo(seed), root / "distinct" / f"p{seed}.jpg", quality=90)
    return root
