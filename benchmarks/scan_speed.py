"""Scan throughput: mediadup.scan first scan vs rescan, and vs a plain imagehash.phash loop.

Generates once (cached under --work) two folders of synthetic photographs:
- `jpeg-N`:  N camera-like 12-megapixel JPEGs (4000x3000, quality 90, EXIF camera/date, every
  tenth one with an EXIF orientation of 6, 8 or 3);
- `mixed-M`: M smaller pictures (800..2048 px) as PNG, WebP, HEIC (if pillow_heif), GIF and TIFF.
For each folder it reads every file once (page cache warm), times a plain single-process loop
`imagehash.phash(Image.open(f))`, then for each --jobs value a first scan with a fresh catalog
and a rescan with the same catalog (nothing changed), and prints files/s, the first/rescan time
ratio and mediadup's first-scan files/s per core relative to the imagehash loop.

Run:  /tmp/venv/bin/python benchmarks/scan_speed.py [--jpegs 60] [--mixed 120] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import mediadup

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover
    HEIC = False

MIXED_FORMATS = ("png", "webp", "heic", "gif", "tiff") if HEIC else ("png", "webp", "gif", "tiff")


def photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A photograph-like picture: smooth light, soft shapes, blurred texture and sensor grain."""
    w, h = max(8, width // 4), max(8, height // 4)  # compose at a quarter size, then upscale
    light = Image.fromarray(rng.integers(20, 235, (3, 4, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(light)
    for _ in range(int(rng.integers(6, 20))):
        x, y = rng.integers(0, w), rng.integers(0, h)
        rx, ry = rng.integers(w // 40, w // 5, size=2)
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)
        else:
            draw.polygon([(int(x + dx), int(y + dy)) for dx, dy in rng.integers(-rx, rx + 1, (5, 2))], fill=fill)
    light = light.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3))))
    texture = Image.fromarray(rng.normal(128, 60, (h // 8, w // 8)).clip(0, 255).astype(np.uint8))
    texture = texture.resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    base = np.asarray(light, dtype=np.int16) + (np.asarray(texture, dtype=np.int16)[..., None] - 128) // 3
    big = Image.fromarray(base.clip(0, 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    grain = rng.integers(-10, 11, (height, width, 1), dtype=np.int16)  # luminance noise
    return Image.fromarray((np.asarray(big, dtype=np.int16) + grain).clip(0, 255).astype(np.uint8))


def camera_exif(i: int) -> Image.Exif:
    exif = Image.Exif()
    exif[271], exif[272], exif[306] = "BenchCam", "Model 12", f"2024:05:{i % 28 + 1:02d} 12:00:00"
    if i % 10 == 3:
        exif[274] = (6, 8, 3)[(i // 10) % 3]  # orientation: rotate 90 cw / 90 ccw / 180
    return exif


def save_atomically(im: Image.Image, path: Path, fmt: str, **kwargs: object) -> None:
    tmp = path.with_name("." + path.name)  # hidden while being written: never scanned
    im.save(tmp, format=fmt, **kwargs)
    os.replace(tmp, path)


def make_jpegs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"IMG_{i:04d}.jpg"
        if not path.exists():
            im = photo(np.random.default_rng(i), 4000, 3000)
            save_atomically(im, path, "JPEG", quality=90, exif=camera_exif(i).tobytes())


def make_mixed(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        fmt = MIXED_FORMATS[i % len(MIXED_FORMATS)]
        path = folder / f"pic_{i:04d}.{'tif' if fmt == 'tiff' else fmt}"
        if path.exists():
            continue
        rng = np.random.default_rng(100_000 + i)
        long_side = int(rng.choice([800, 1280, 1600, 2048]))
        aspect = float(rng.choice([4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3]))
        size = (long_side, round(long_side / aspect)) if aspect > 1 else (round(long_side * aspect), long_side)
        im = photo(rng, *size)
        if fmt == "gif":
            save_atomically(im.quantize(256), path, "GIF")
        elif fmt == "tiff":
            save_atomically(im, path, "TIFF", compression="tiff_lzw")
        elif fmt in ("webp", "heic"):
            save_atomically(im, path, "WEBP" if fmt == "webp" else "HEIF", quality=85)
        else:
            save_atomically(im, path, "PNG")


def imagehash_loop(files: list[Path]) -> float:
    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            imagehash.phash(im)
    return time.perf_counter() - start


def timed_scan(folder: Path, catalog: Path, jobs: int, n: int) -> float:
    start = time.perf_counter()
    result = mediadup.scan([folder], jobs=jobs, catalog=catalog, progress=False)
    seconds = time.perf_counter() - start
    s = result.summary
    if result.skipped or s.fingerprinted + s.from_cache != n:
        print(f"  warning: {folder.name} jobs {jobs}: {s.fingerprinted} fingerprinted, {s.from_cache} cached, "
              f"{len(result.skipped)} skipped")  # fmt: skip
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("/tmp/mediadup-scan-speed"), help="data and catalogs")
    p.add_argument("--jpegs", type=int, default=60, help="12-megapixel JPEGs")
    p.add_argument("--mixed", type=int, default=120, help="smaller PNG/WebP/HEIC/GIF/TIFF files")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()

    folders = [args.work / f"jpeg-{args.jpegs}", args.work / f"mixed-{args.mixed}"]
    start = time.perf_counter()
    make_jpegs(folders[0], args.jpegs)
    make_mixed(folders[1], args.mixed)
    print(f"data ready in {time.perf_counter() - start:.1f} s under {args.work}; formats {', '.join(MIXED_FORMATS)}")

    head = f"{'folder':<10} {'files':>5} {'MB':>6} {'jobs':>4} {'first s':>8} {'files/s':>8} {'rescan s':>8}"
    print(f"{head} {'files/s':>8} {'1st/re':>7} {'imagehash/s':>11} {'per core vs ih':>14}")
    for folder in folders:
        files = sorted(f for f in folder.iterdir() if not f.name.startswith("."))
        megabytes = sum(len(f.read_bytes()) for f in files) / 1e6  # also warms the page cache
        ih_rate = len(files) / imagehash_loop(files)
        for jobs in args.jobs:
            catalog = args.work / f"catalog-{folder.name}-j{jobs}.sqlite"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{catalog}{suffix}").unlink(missing_ok=True)
            first = timed_scan(folder, catalog, jobs, len(files))
            again = timed_scan(folder, catalog, jobs, len(files))
            rate = len(files) / first
            print(
                f"{folder.name:<10} {len(files):>5} {megabytes:>6.0f} {jobs:>4} {first:>8.2f} {rate:>8.1f} "
                f"{again:>8.3f} {len(files) / again:>8.0f} {first / again:>7.1f} {ih_rate:>11.1f} "
                f"{rate / jobs / ih_rate:>14.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
