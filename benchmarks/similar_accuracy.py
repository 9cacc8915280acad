"""How well `mediadup scan --similar` finds bursts, and how often it mixes distinct pictures.

From every picture in a source folder (default: the development benchmark's originals) it makes a
burst of four frames shot a second apart by one camera (EXIF time and model): the camera moves
1.5 % per frame, a "subject" (a piece of the picture) moves 8 % per frame, the exposure drifts,
and frame 2 is shaken (blurred). It scans all bursts at each level and reports:
- frames: the share of frames in a similar group with another frame of their burst;
- mixed: similar groups holding frames of two different bursts (false similar shots);
- duplicates: frames reported as duplicates (distinct shots must never be);
- shaken best: groups whose suggested best shot is the blurred frame.

Run:  python benchmarks/similar_accuracy.py [--source DIR] [--levels strict normal loose]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter

import mediadup
from mediadup.match.compare import LEVELS

FRAMES = 4
SHAKEN = 2


def originals(source: Path) -> list[Path]:
    truth = source / "truth.json"
    if truth.exists():  # the development benchmark: its originals only, not their copies
        return sorted(source / p for p, v in json.loads(truth.read_text()).items() if v["transform"] == "original")
    return sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))


def frame(im: Image.Image, k: int) -> Image.Image:
    w, h = im.size
    cw, ch = int(w * 0.9), int(h * 0.9)
    x0, y0 = int(w * (0.02 + 0.015 * k)), int(h * (0.05 - 0.01 * k))
    out = im.crop((x0, y0, x0 + cw, y0 + ch))
    pw, ph = int(cw * 0.25), int(ch * 0.3)
    subject = im.crop((int(w * 0.6), int(h * 0.1), int(w * 0.6) + pw, int(h * 0.1) + ph))
    out.paste(subject, (int(cw * (0.2 + 0.08 * k)), int(ch * 0.35)))
    out = ImageEnhance.Brightness(out).enhance(1 + 0.06 * (k - 1))
    return out.filter(ImageFilter.GaussianBlur(2.5)) if k == SHAKEN else out


def make_bursts(pictures: list[Path], folder: Path) -> None:
    for n, path in enumerate(pictures):
        im = Image.open(path).convert("RGB")
        for k in range(FRAMES):
            exif = Image.Exif()
            exif[271], exif[272] = "Camera", "Model"
            taken = f"2024:06:{1 + n // 1000:02d} {n // 60 % 24:02d}:{n % 60:02d}:{10 + k:02d}"
            exif.get_ifd(0x8769)[36867] = taken  # DateTimeOriginal, as a camera writes it
            (folder / f"burst{n:04d}").mkdir(exist_ok=True)
            frame(im, k).save(folder / f"burst{n:04d}" / f"IMG_{k:04d}.jpg", quality=92, exif=exif)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, default=Path("/tmp/mediadup-bench/dev"), help="folder of pictures")
    p.add_argument("--levels", nargs="+", choices=list(LEVELS), default=list(LEVELS))
    p.add_argument("--jobs", type=int, default=0)
    args = p.parse_args()
    pictures = originals(args.source)
    if not pictures:
        sys.exit(f"no pictures under {args.source}")
    print(f"{len(pictures)} bursts of {FRAMES} frames from {args.source}")
    print(f"{'level':<7} {'frames':>7} {'groups':>6} {'mixed':>5} {'duplicates':>10} {'shaken best':>11} {'scan s':>6}")
    with tempfile.TemporaryDirectory(prefix="mediadup-similar-") as tmp:
        bursts = Path(tmp, "bursts")
        bursts.mkdir()
        make_bursts(pictures, bursts)
        for level in args.levels:
            start = time.perf_counter()
            r = mediadup.scan(bursts, level=level, similar=True, jobs=args.jobs, catalog=Path(tmp, "c.sqlite"))
            seconds = time.perf_counter() - start
            found, mixed, shaken = set(), 0, 0
            for g in r.similar:
                by_burst = Counter(Path(m.path).parent.name for m in g.members)
                mixed += len(by_burst) > 1
                found |= {m.path for m in g.members if by_burst[Path(m.path).parent.name] > 1}
                shaken += Path(g.keeper.path).name == f"IMG_{SHAKEN:04d}.jpg"
            dups = sum(len(g.duplicates) for g in r.groups)
            share = len(found) / (len(pictures) * FRAMES)
            print(f"{level:<7} {share:>7.3f} {len(r.similar):>6} {mixed:>5} {dups:>10} {shaken:>11} {seconds:>6.1f}")


if __name__ == "__main__":
    main()
