"""A third image benchmark: drawn graphics that look alike, made here from nothing but numbers.

Wallpaper designs: a smooth blend of two colours (straight or about a point) and a thin logo
(nested rings, triangles, squares or hexagons and a word), every design with its logo near one
place, as a family of templates would have it. Each design is drawn light or dark (its
original), and as the other edition (related: one design, not a copy). Different designs are
false pairs: they share a style, a place and often a shape and a word, and little else. Each
original gets copies of these kinds:

  easy    resized (half the size, JPEG), webp (WebP q70), gray (grayscale), tinted (sepia)
  medium  caption (a white band with black words above), crop (80 % of each side, anywhere)
  hard    small-crop (65 % of each side, JPEG), gray-crop (75 %, grayscale)

Seeds split the designs in two halves (tune: 0.., report: 100000..): tune on one, report the
other. `run` scans each half and prints, at each level, pair precision, false and related pairs,
the recall of each copy with its original per class and kind, and how the pairs were decided.

    python benchmarks/graphics_bench.py run [--half tune|report|both] [--designs 40] [--levels strict normal loose]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from image_bench import run_half
from PIL import Image, ImageDraw, ImageFont, ImageOps

CLASSES = {
    "resized": "easy", "webp": "easy", "gray": "easy", "tinted": "easy",
    "caption": "medium", "crop": "medium",
    "small-crop": "hard", "gray-crop": "hard",
}  # fmt: skip
WORDS = ["nova", "kite", "sol", "delta", "zen", "arc", "flux"]
SEEDS = {"tune": 0, "report": 100_000}


def design(seed: int, dark: bool, size: tuple[int, int] = (1600, 900)) -> Image.Image:
    """Design `seed` drawn light or dark: the same blend, logo and word; a dark edition's ink is
    light gray, a light one's the design's own colour."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * x / w + np.sin(angle) * y / h
    else:
        t = np.hypot(x - rng.uniform(0, 1) * w, y - rng.uniform(0, 1) * h)
    t = ((t - t.min()) / (t.max() - t.min()))[..., None]
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    light, shade = rng.uniform(0.8, 1.0), rng.uniform(0.25, 0.45)
    im = Image.fromarray(((a * (1 - t) + b * t) * (shade if dark else light)).clip(0, 255).astype(np.uint8))
    colour = tuple(int(v) for v in rng.integers(0, 200, 3))
    ink = (205, 205, 205) if dark else colour
    draw = ImageDraw.Draw(im)
    r = min(w, h) * rng.uniform(0.08, 0.22)
    cx, cy = w * rng.uniform(0.25, 0.35), h * rng.uniform(0.3, 0.6)
    shape, rings, line = int(rng.integers(0, 4)), int(rng.integers(1, 4)), max(2, int(r / 14))
    for k in range(rings):
        s = r * (1 - 0.22 * k)
        box = (cx - s, cy - s, cx + s, cy + s)
        if shape == 0:
            draw.ellipse(box, outline=ink, width=line)
        elif shape == 1:
            draw.rectangle(box, outline=ink, width=line)
        elif shape == 2:
            draw.polygon([(cx, cy - s), (cx - s, cy + s), (cx + s, cy + s)], outline=ink, width=line)
        else:
            draw.regular_polygon((cx, cy, s), 6, outline=ink, width=line)
    word = WORDS[int(rng.integers(0, len(WORDS)))]
    draw.text((cx - r, cy + r * 1.25), word, fill=ink, font=ImageFont.load_default(size=int(r / 2)))
    return im


def part(im: Image.Image, keep: float, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * keep), round(h * keep)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return im.crop((x, y, x + cw, y + ch))


def captioned(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    band = round(h * rng.uniform(0.15, 0.25))
    out = Image.new("RGB", (w, h + band), (255, 255, 255))
    out.paste(im, (0, band))
    words = " ".join(rng.choice(WORDS, 4))
    font = ImageFont.load_default(size=band // 2)
    ImageDraw.Draw(out).text((w * 0.05, band * 0.25), words, fill=(0, 0, 0), font=font)
    return out


def build(folder: Path, designs: int, first_seed: int) -> None:
    marker = folder / ".designs"
    if marker.exists() and marker.read_text() == str(designs):
        return
    truth: dict = {}

    def save(im: Image.Image, rel: str, group: str, kind: str, family: str, **kw) -> None:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        im.save(folder / rel, **kw)
        truth[rel] = {"group": group, "kind": kind, "family": family}

    for n in range(designs):
        seed = first_seed + n
        rng = np.random.default_rng(seed + 1)
        dark = bool(rng.random() < 0.5)
        original = design(seed, dark)
        d = f"d{seed}"
        save(original, f"{d}/original.png", d, "original", d)
        save(design(seed, not dark), f"{d}/edition.png", f"{d}-edition", "edition", d)
        save(original.resize((800, 450), Image.Resampling.LANCZOS), f"{d}/resized.jpg", d, "resized", d, quality=85)
        save(original, f"{d}/webp.webp", d, "webp", d, quality=70)
        save(original.convert("L"), f"{d}/gray.png", d, "gray", d)
        save(ImageOps.colorize(original.convert("L"), (40, 20, 5), (255, 235, 200)), f"{d}/tinted.jpg", d, "tinted", d,
             quality=90)  # fmt: skip
        save(captioned(original, rng), f"{d}/caption.jpg", d, "caption", d, quality=88)
        save(part(original, 0.8, rng), f"{d}/crop.png", d, "crop", d)
        save(part(original, 0.65, rng), f"{d}/small-crop.jpg", d, "small-crop", d, quality=88)
        save(part(original, 0.75, rng).convert("L"), f"{d}/gray-crop.png", d, "gray-crop", d)
    (folder / "truth.json").write_text(json.dumps(truth))
    marker.write_text(str(designs))


def run(out: Path, halves: list[str], designs: int, levels: list[str]) -> None:
    for half in halves:
        folder = out / half
        build(folder, designs, SEEDS[half])
        run_half(half, folder, levels, CLASSES)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["run"])
    p.add_argument("--out", type=Path, default=Path("/tmp/mediadup-graphics-bench"))
    p.add_argument("--half", choices=["tune", "report", "both"], default="tune")
    p.add_argument("--designs", type=int, default=40, help="designs per half")
    p.add_argument("--levels", nargs="+", default=["strict", "normal", "loose"])
    args = p.parse_args()
    run(args.out, ["tune", "report"] if args.half == "both" else [args.half], args.designs, args.levels)


if __name__ == "__main__":
    main()
