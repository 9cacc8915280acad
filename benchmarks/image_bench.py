"""A second image benchmark, built here from sources the shared bench does not use, with copies
and traps made in ways of its own; its sources split in two halves: tune on one, report the other.

Sources: the photographs of GCompris' activities (objects, animals, monuments, paintings; Debian
package gcompris-qt-data, read out of its Qt resource bundles), the Debian Edu artwork
wallpapers, and graphics drawn here. Each source gets a camera-like original (JPEG with camera
EXIF) and copies of these kinds:

  easy    recompressed chain (resize, JPEG q60, resize, WebP), tone curve / fade, PNG converted
          from the camera JPEG
  medium  caption band (meme: a band of random colour with text, above or below), frame (border
          of random colour), vignette (dark corners, stronger colour), stickers (drawn emoji),
          text over the picture, colour grading, screenshot (window chrome around a smaller copy)
  hard    perspective (keystone), tilt (a few degrees, cropped to no corners), crop with a turn,
          mirror

and traps that must not be grouped (pairs between them are false, or "related" for one design):
  flat      drawn shapes on plain backgrounds, each different
  design    one drawn design at other aspect ratios, its logo moved and rescaled (related)
  edition   a light and a dark edition of one drawn design (related)
  far-crops two crops of a source that do not overlap (related; the source itself is not in the set)
  burst     two overlapping crops of a source, moved 6 %, one 8 % brighter, no EXIF (related; idem)
  template  two different sources under the same caption band and frame (each a copy of its own
            source; the two together are a false pair)

Usage:
  python benchmarks/image_bench.py build [--out /tmp/mediadup-bench2] [--sources 70]
  python benchmarks/image_bench.py run [--half report|tune|both] [--levels strict normal loose] [--baseline]

`run` scans each half with mediadup (one catalog per half, so levels after the first reuse the
fingerprints) and prints pair precision, false pairs, related pairs, recall of each copy with
its original per class and per kind, and how the compared pairs were decided (thumbnails,
keypoints, "may be duplicates", different); `--baseline` adds a plain pHash (imagehash, distance <= 10,
imagededup's default) on the same files. Needs `apt-get download` (Debian) for the sources.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

PACKAGES = ["gcompris-qt-data", "debian-edu-artwork-emerald", "debian-edu-artwork-softwaves",
            "debian-edu-artwork-spacefun", "debian-edu-artwork-homeworld"]  # fmt: skip
MIN_PIXELS = 320 * 240
CLASSES = {
    "recompressed": "easy", "tone": "easy", "png-of-jpeg": "easy",
    "caption": "medium", "frame": "medium", "vignette": "medium", "stickers": "medium", "text": "medium",
    "graded": "medium", "screenshot": "medium",
    "perspective": "hard", "tilt": "hard", "crop-turn": "hard", "mirror": "hard",
}  # fmt: skip
WORDS = "when the code compiles on the first try nobody believes it my face when monday again".split()  # noqa: SIM905


# --- sources ---------------------------------------------------------------------------------
def read_rcc(data: bytes) -> dict[str, bytes]:
    """The files of a Qt resource bundle (.rcc): name -> bytes."""
    magic, version, tree, blobs, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres":
        return {}
    entry = 22 if version >= 2 else 14
    out: dict[str, bytes] = {}

    def name(offset: int) -> str:
        (n,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(i: int, prefix: str) -> None:
        base = tree + i * entry
        offset, flags = struct.unpack(">IH", data[base : base + 6])
        here = prefix + (name(offset) if i else "")
        if flags & 2:
            count, first = struct.unpack(">II", data[base + 6 : base + 14])
            for child in range(first, first + count):
                walk(child, here + "/")
            return
        (at,) = struct.unpack(">I", data[base + 10 : base + 14])
        (n,) = struct.unpack(">I", data[blobs + at : blobs + at + 4])
        blob = data[blobs + at + 4 : blobs + at + 4 + n]
        if flags & 1:
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            return  # zstd: not needed for these bundles
        out[here] = blob

    walk(0, "")
    return out


def collect(work: Path) -> list[tuple[str, Image.Image]]:
    """(name, picture) of every usable source picture, largest first per name."""
    debs, unpacked = work / "debs", work / "src"
    debs.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
    if not unpacked.exists():
        for deb in debs.glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    found: list[tuple[str, Image.Image]] = []
    for bundle in sorted(glob.glob(str(unpacked / "usr/share/gcompris-qt/rcc/*.rcc"))):
        for name, blob in sorted(read_rcc(Path(bundle).read_bytes()).items()):
            if name.lower().endswith((".webp", ".jpg", ".jpeg", ".png")):
                found.append((f"gcompris:{name}", _open(blob)))
    for path in sorted(glob.glob(str(unpacked / "usr/share/**/*.png"), recursive=True)):
        if "desktop-base" not in path:
            found.append((f"edu:{os.path.relpath(path, unpacked)}", _open(Path(path).read_bytes())))
    usable = [(n, im) for n, im in found if im is not None and im.width * im.height >= MIN_PIXELS]
    return _distinct(usable)


def _open(blob: bytes) -> Image.Image | None:
    try:
        im = Image.open(io.BytesIO(blob))
        im.load()
        return ImageOps.exif_transpose(im.convert("RGB"))
    except Exception:
        return None


def _distinct(sources: list[tuple[str, Image.Image]]) -> list[tuple[str, Image.Image]]:
    """One picture per look: sources whose 16x16 grays agree closely are one source."""
    kept, grays = [], []
    for name, im in sources:
        g = np.asarray(im.convert("L").resize((16, 16), Image.Resampling.BOX), np.float32)
        g = (g - g.mean()) / (g.std() + 1e-6)
        if g.std() < 0.5 or any(float(np.mean((g - o) ** 2)) < 0.5 for o in grays):
            continue
        kept.append((name, im))
        grays.append(g)
    return kept


def half_of(name: str) -> str:
    """Which half a source is in, by its name alone (stable whatever else is added)."""
    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "report"


# --- copies ----------------------------------------------------------------------------------
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(10, size))


def fit(im: Image.Image, longest: int = 1600) -> Image.Image:
    scale = min(1.0, longest / max(im.size))
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)


def caption(im: Image.Image, rng: np.random.Generator, colour=None, words=None, top=None) -> Image.Image:
    """A meme: a band of a quarter of the height, of one colour, with a line of text, above or below."""
    band = round(im.height * rng.uniform(0.18, 0.3))
    colour = colour if colour is not None else tuple(int(v) for v in rng.integers(0, 256, 3))
    out = Image.new("RGB", (im.width, im.height + band), colour)
    top = bool(rng.integers(0, 2)) if top is None else top
    out.paste(im, (0, band if top else 0))
    text = " ".join(words or rng.choice(WORDS, 5))
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    y = band // 3 if top else im.height + band // 3
    ImageDraw.Draw(out).text((im.width // 20, y), text, fill=ink, font=font(band // 3))
    return out


def frame(im: Image.Image, rng: np.random.Generator, colour=None) -> Image.Image:
    side = round(min(im.size) * rng.uniform(0.05, 0.12))
    colour = colour if colour is not None else tuple(int(v) for v in rng.integers(0, 256, 3))
    return ImageOps.expand(im, border=side, fill=colour)


def vignette(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)
    dark = 1 - rng.uniform(0.5, 0.75) * np.clip(r, 0, 1) ** 2
    px = np.asarray(ImageEnhance.Color(im).enhance(1.4), np.float32) * dark[..., None]
    return Image.fromarray(px.clip(0, 255).astype(np.uint8))


def stickers(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(2, 4))):
        r = round(min(im.size) * rng.uniform(0.06, 0.1))
        cx, cy = int(rng.integers(r, im.width - r)), int(rng.integers(r, im.height - r))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 205, 40), outline=(120, 80, 0), width=max(1, r // 10))
        for ex in (-r // 3, r // 3):
            draw.ellipse((cx + ex - r // 8, cy - r // 3, cx + ex + r // 8, cy - r // 12), fill=(40, 30, 20))
        draw.arc((cx - r // 2, cy - r // 6, cx + r // 2, cy + r // 2), 20, 160, fill=(40, 30, 20), width=max(1, r // 8))
    return out


def text_over(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = im.copy()
    size = im.height // 12
    ImageDraw.Draw(out).text((im.width // 10, int(im.height * rng.uniform(0.3, 0.6))), " ".join(rng.choice(WORDS, 4)),
                             fill=(255, 255, 255), font=font(size), stroke_width=max(1, size // 12),
                             stroke_fill=(0, 0, 0))  # fmt: skip
    return out


def tone(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    lift, gamma = rng.uniform(25, 50), rng.uniform(0.8, 1.25)
    lut = [round(lift + (255 - lift * 1.4) * (i / 255) ** gamma) for i in range(256)]
    return im.point(lut * 3)


def graded(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    px = np.asarray(im, np.float32)
    luma = px.mean(axis=2, keepdims=True) / 255
    teal, orange = np.array([-20, 10, 25], np.float32), np.array([30, 8, -25], np.float32)
    px = px + (1 - luma) * teal + luma * orange * rng.uniform(0.7, 1.2)
    return Image.fromarray(px.clip(0, 255).astype(np.uint8))


def screenshot(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    shown = im.resize((round(im.width * 0.6), round(im.height * 0.6)), Image.Resampling.BILINEAR)
    bar, pad = 28, 12
    out = Image.new("RGB", (shown.width + 2 * pad + 160, shown.height + bar + 2 * pad), (236, 236, 236))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, out.width, bar), fill=(60, 63, 70))
    for n, c in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse((8 + n * 18, 8, 20 + n * 18, 20), fill=c)
    draw.text((80, 7), "Photo Viewer - IMG.jpg", fill=(220, 220, 220), font=font(13))
    draw.rectangle((out.width - 150, bar + pad, out.width - pad, out.height - pad), fill=(250, 250, 250))
    for n in range(6):
        line = f"Property {n}: {int(rng.integers(99))}"
        draw.text((out.width - 142, bar + pad + 8 + n * 20), line, fill=(80, 80, 80), font=font(11))
    out.paste(shown, (pad, bar + pad))
    return out


def perspective(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    k = rng.uniform(0.06, 0.09) * w
    # the quad of the source shown on the whole output: a keystone (top narrower)
    quad = (k, 0, 0, h, w, h, w - k, 0)  # upper-left, lower-left, lower-right, upper-right
    return im.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)


def tilt(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = rng.uniform(3, 4.5) * rng.choice([-1, 1])
    turned = im.rotate(angle, Image.Resampling.BICUBIC, expand=False)
    a = np.radians(abs(angle))
    w, h = im.size  # the largest centred box with no empty corners
    f = 1 / (np.cos(a) + np.sin(a) * max(w / h, h / w))
    dw, dh = w * (1 - f) / 2, h * (1 - f) / 2
    return turned.crop((round(dw), round(dh), round(w - dw), round(h - dh)))


def crop_turn(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    keep = rng.uniform(0.78, 0.88)
    x, y = rng.uniform(0, 1 - keep) * w, rng.uniform(0, 1 - keep) * h
    return im.crop((round(x), round(y), round(x + keep * w), round(y + keep * h))).transpose(Image.Transpose.ROTATE_90)


def recompressed(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, str, dict]:
    step = im.resize((round(im.width * 0.7), round(im.height * 0.7)), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    step.save(buf, "JPEG", quality=60)
    step = Image.open(buf).convert("RGB")
    step = step.resize((round(step.width * 0.7), round(step.height * 0.7)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    step.save(buf, "JPEG", quality=50)
    return Image.open(buf).convert("RGB"), ".webp", {"quality": 70}


COPIES = {
    "caption": caption, "frame": frame, "vignette": vignette, "stickers": stickers, "text": text_over,
    "tone": tone, "graded": graded, "screenshot": screenshot, "perspective": perspective, "tilt": tilt,
    "crop-turn": crop_turn, "mirror": lambda im, rng: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}  # fmt: skip


def camera_exif(n: int) -> bytes:
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "Canon EOS 80D"
    exif.get_ifd(0x8769)[36867] = f"2021:05:{1 + n % 28:02d} 10:{n % 60:02d}:00"
    return exif.tobytes()


# --- traps -----------------------------------------------------------------------------------
def flat(rng: np.random.Generator, size=(800, 600)) -> Image.Image:
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    im = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(1, 4))):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(0, size[0] * 0.6)), int(rng.integers(0, size[1] * 0.6))
        x1, y1 = x0 + int(rng.integers(60, size[0] * 0.5)), y0 + int(rng.integers(60, size[1] * 0.5))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=c)
    return im


def design(size: tuple[int, int], style: dict, logo_at: float, dark: bool = False) -> Image.Image:
    """A wallpaper design: a gradient between two colours and a logo, both drawn from `style`
    (each design its own direction, colours, logo and word)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = style["direction"]
    t = np.clip((dx * x / w + dy * y / h + (abs(dx) + abs(dy) - dx - dy) / 2) / (abs(dx) + abs(dy)), 0, 1)
    a, b = style["colours"]
    px = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    if dark:
        px = px * 0.35
    im = Image.fromarray(px.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    r = min(w, h) * style["size"]
    cx, cy = w * logo_at, h * style["height"]
    ink = (200, 200, 200) if dark else tuple(int(v) for v in style["ink"])
    shape, line = style["shape"], max(2, int(r / 12))
    for k in range(style["rings"]):
        rr = r * (1 - 0.25 * k)
        box = (cx - rr, cy - rr, cx + rr, cy + rr)
        if shape == "rings":
            draw.ellipse(box, outline=ink, width=line)
        elif shape == "squares":
            draw.rectangle(box, outline=ink, width=line)
        else:
            draw.polygon(
                [(cx, cy - rr), (cx - rr, cy + rr), (cx + rr, cy + rr)], outline=ink, width=max(2, int(r / 12))
            )
    draw.text((cx - r, cy + r * 1.2), style["word"], fill=ink, font=font(int(r / 2)))
    return im


def design_style(rng: np.random.Generator) -> dict:
    return {
        "direction": (float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)) or 0.5),
        "colours": (rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)),
        "size": float(rng.uniform(0.1, 0.25)), "height": float(rng.uniform(0.3, 0.6)),
        "ink": rng.integers(0, 256, 3), "shape": str(rng.choice(["rings", "squares", "triangles"])),
        "rings": int(rng.integers(1, 4)), "word": str(rng.choice(["aurora", "nimbus", "kite", "delta", "sol"])),
    }  # fmt: skip


# --- building --------------------------------------------------------------------------------
def build(out: Path, n_sources: int, seed: int = 7) -> None:
    work = out / "work"
    sources = collect(work)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sources))
    halves: dict[str, list[tuple[str, Image.Image]]] = {"tune": [], "report": []}
    for i in order:
        name, im = sources[i]
        half = halves[half_of(name)]
        if len(half) < n_sources:
            half.append((name, im))
    for half, chosen in halves.items():
        folder = out / half
        if (folder / "truth.json").exists():
            continue
        truth: dict[str, dict] = {}
        make_half(folder, chosen, np.random.default_rng(seed + (half == "report")), truth)
        (folder / "truth.json").write_text(json.dumps(truth, indent=0))
        print(f"{half}: {len(chosen)} sources, {len(truth)} files -> {folder}")


def make_half(folder: Path, chosen: list[tuple[str, Image.Image]], rng: np.random.Generator, truth: dict) -> None:
    def save(im: Image.Image, rel: str, group: str, kind: str, family: str | None = None, **kw) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        im.save(path, **kw)
        truth[rel] = {"group": group, "kind": kind, "family": family or group}

    for n, (_name, source) in enumerate(chosen):
        im = fit(source)
        g = f"s{n:03d}"
        if n % 4 == 3:  # a trap source: only shots of it that are not copies of each other, no original
            w, h = im.size
            if n % 8 == 3:  # two far crops: related, never duplicates
                save(im.crop((0, 0, round(w * 0.42), h)), f"{g}/far-left.jpg", f"{g}-left", "far-crops", g, quality=90)
                save(im.crop((round(w * 0.58), 0, w, h)), f"{g}/far-right.jpg", f"{g}-right", "far-crops", g,
                     quality=90)  # fmt: skip
            else:  # a burst without EXIF: two overlapping shots, the camera moved 6 %, one brighter
                a = im.crop((0, 0, round(w * 0.88), round(h * 0.9)))
                b = im.crop((round(w * 0.06), round(h * 0.04), round(w * 0.94), round(h * 0.94)))
                save(a, f"{g}/burst-a.jpg", f"{g}-burst-a", "burst", g, quality=90)
                save(
                    ImageEnhance.Brightness(b).enhance(1.08), f"{g}/burst-b.jpg", f"{g}-burst-b", "burst", g, quality=90
                )
            continue
        save(im, f"{g}/original.jpg", g, "original", quality=92, exif=camera_exif(n))
        (folder / g).mkdir(exist_ok=True)
        Image.open(folder / f"{g}/original.jpg").save(folder / f"{g}/png-of-jpeg.png")  # converted from the JPEG
        truth[f"{g}/png-of-jpeg.png"] = {"group": g, "kind": "png-of-jpeg", "family": g}
        copy, ext, kw = recompressed(im, rng)
        save(copy, f"{g}/recompressed{ext}", g, "recompressed", **kw)
        for kind, make in COPIES.items():
            save(make(im, rng), f"{g}/{kind}.jpg", g, kind, quality=int(rng.integers(80, 93)))
    # the same caption band and frame over different sources
    for n in range(0, len(chosen) - 2, 4):
        for m in (n, n + 1):  # copy sources (never a trap source)
            im = fit(chosen[m][1], 1000)
            shared = caption(frame(im, rng, colour=(250, 250, 250)), rng, colour=(255, 255, 255),
                             words=["same", "caption", "on", "every", "post"], top=True)  # fmt: skip
            # a captioned, framed copy of source m; the trap is the pair of the two templates
            save(shared, f"template/t{n:03d}-{m:03d}.jpg", f"s{m:03d}", "template", quality=88)
    # drawn graphics: flat shapes, one design at other sizes, light and dark editions
    for n in range(max(4, len(chosen) // 4)):
        save(flat(rng), f"flat/f{n:03d}.png", f"flat-{n}", "flat")
        style = design_style(rng)
        d = f"design-{n}"
        for size, logo_at in (((1600, 900), 0.3), ((1200, 900), 0.5), ((900, 1600), 0.5)):
            save(design(size, style, logo_at), f"design/d{n:03d}-{size[0]}x{size[1]}.png",
                 f"{d}-{size[0]}x{size[1]}", "design", d)  # fmt: skip
        save(design((1600, 900), style, 0.3, dark=True), f"design/d{n:03d}-dark.png", f"{d}-dark", "edition", d)


# --- scoring ---------------------------------------------------------------------------------
def score(folder: Path, groups: list[list[str]], classes: dict[str, str] = CLASSES) -> dict:
    truth = json.loads((folder / "truth.json").read_text())
    rel = [[os.path.relpath(p, folder) for p in g if os.path.relpath(p, folder) in truth] for g in groups]
    true_pairs = 0
    false: list[tuple[str, str]] = []
    related: list[tuple[str, str]] = []
    for g in rel:
        for a, b in combinations(sorted(g), 2):
            ta, tb = truth[a], truth[b]
            if ta["group"] == tb["group"]:
                true_pairs += 1
            elif ta["family"] == tb["family"]:
                related.append((a, b))
            else:
                false.append((a, b))
    where = {p: i for i, g in enumerate(rel) for p in g}
    found: Counter = Counter()
    made: Counter = Counter()
    originals = {t["group"]: p for p, t in truth.items() if t["kind"] == "original"}
    for p, t in truth.items():
        if t["kind"] in classes:
            made[t["kind"]] += 1
            o = originals[t["group"]]
            found[t["kind"]] += p in where and o in where and where[p] == where[o]
    return {"true": true_pairs, "false": false, "related": len(related), "related_pairs": related, "found": found,
            "made": made}  # fmt: skip


def scan_groups(folder: Path, level: str, catalog: Path) -> tuple[list[list[str]], float, list[list[str]]]:
    """mediadup's duplicate groups, the time the scan took, and its "may be duplicates" (each keeper
    with its uncertain members): shown to the user apart, never removed unless asked."""
    import mediadup

    started = time.time()
    result = mediadup.scan([folder], level=level, catalog=catalog, similar=False)
    uncertain = getattr(mediadup.Relation, "UNCERTAIN", None)  # absent before the relation existed
    sure = [[m.path for m in g.members if m.relation is not uncertain] for g in result.groups]
    maybe = [[g.keeper.path, *(m.path for m in g.duplicates if m.relation is uncertain)] for g in result.groups]
    return [g for g in sure if len(g) > 1], time.time() - started, [g for g in maybe if len(g) > 1]


def stages(catalog: Path, level: str) -> str:
    """How the scan's verified pairs were decided, from the verdicts it stored: by the aligned
    thumbnails alone, by thumbnails with the keypoints confirming a crop, by the keypoints where
    thumbnails could not align the two, "may be duplicates", different pictures, or different in
    the same framing (pairs alike but for a local edit, whose crop was not searched)."""
    import sqlite3

    from mediadup.match.verify import FRAMED, from_json

    with sqlite3.connect(catalog) as db:
        rows = [m for (m,) in db.execute("SELECT match FROM verdicts WHERE level = ?", (level,))]
    counts: Counter[str] = Counter()
    for text in rows:
        match = from_json(text)
        if match is None:
            counts["different in the same framing" if text == FRAMED else "different"] += 1
            continue
        relation, evidence = match.relation.value, match.evidence
        if relation == "uncertain":
            counts["may be duplicates"] += 1
        elif "geometry" not in evidence:
            counts["thumbnails"] += 1
        else:
            counts["thumbnails + keypoints" if "phash_distance" in evidence else "keypoints"] += 1
    order = ("thumbnails", "thumbnails + keypoints", "keypoints", "may be duplicates", "different",
             "different in the same framing")  # fmt: skip
    return f"{len(rows)} pairs compared: " + ", ".join(f"{k} {counts[k]}" for k in order)


def baseline_groups(folder: Path) -> list[list[str]]:
    """A plain pHash (imagehash) at imagededup's default threshold (10), grouped by connected pairs."""
    import imagehash

    paths = sorted(str(p) for p in folder.rglob("*") if p.suffix in (".jpg", ".png", ".webp"))
    hashes = [imagehash.phash(Image.open(p)) for p in paths]
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(paths)), 2):
        if hashes[i] - hashes[j] <= 10:
            parent[find(i)] = find(j)
    out = defaultdict(list)
    for i, p in enumerate(paths):
        out[find(i)].append(p)
    return [g for g in out.values() if len(g) > 1]


def report(name: str, folder: Path, s: dict, seconds: float | None = None, classes: dict[str, str] = CLASSES) -> None:
    precision = s["true"] / max(1, s["true"] + len(s["false"]))
    by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for kind, n in s["made"].items():
        by_class[classes[kind]][0] += s["found"][kind]
        by_class[classes[kind]][1] += n
    classes = "  ".join(f"{c} {f / max(1, n):.3f}" for c, (f, n) in sorted(by_class.items()))
    took = f"  {seconds:.0f} s" if seconds is not None else ""
    print(f"{name:<22} precision {precision:.4f}  false pairs {len(s['false']):>4}  related pairs {s['related']:>4}  "
          f"{classes}{took}")  # fmt: skip
    print("    " + "  ".join(f"{k} {s['found'][k] / n:.2f}" for k, n in sorted(s["made"].items())))
    truth = json.loads((folder / "truth.json").read_text())
    for what, pairs in (("false", s["false"]), ("related", s["related_pairs"])):
        kinds = Counter(tuple(sorted((truth[a]["kind"], truth[b]["kind"]))) for a, b in pairs)
        if kinds:
            print(f"    {what} pairs by kinds: " + ", ".join(f"{a}~{b} {n}" for (a, b), n in kinds.most_common(8)))


def keepers(folder: Path, groups: list[list[str]]) -> str:
    """Whether each group that holds an original keeps it (a group's first file is its keeper)."""
    truth = json.loads((folder / "truth.json").read_text())
    kind = {str(folder / p): t["kind"] for p, t in truth.items()}
    holding = [g for g in groups if any(kind.get(p) == "original" for p in g)]
    others = Counter(kind.get(g[0], "?") for g in holding if kind.get(g[0]) != "original")
    said = ", ".join(f"{k} {n}" for k, n in others.most_common()) or "none"
    kept = len(holding) - sum(others.values())
    return f"the original kept in {kept} of {len(holding)} groups holding one; else: {said}"


def run(out: Path, halves: list[str], levels: list[str], baseline: bool) -> None:
    for half in halves:
        folder = out / half
        if not (folder / "truth.json").exists():
            raise SystemExit(f"no benchmark set in {folder}: build it first (python {sys.argv[0]} build --out {out})")
        run_half(half, folder, levels)
        if baseline:
            report(f"{half} pHash<=10", folder, score(folder, baseline_groups(folder)))


def run_half(half: str, folder: Path, levels: list[str], classes: dict[str, str] = CLASSES) -> None:
    """Scan a half at each level (one catalog: levels after the first reuse the fingerprints) and
    print its scores, how its pairs were decided, its keepers and its "may be duplicates"."""
    with tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            groups, seconds, maybe = scan_groups(folder, level, Path(tmp, "catalog.sqlite"))
            report(f"{half} {level}", folder, score(folder, groups, classes), seconds, classes)
            print(f"    verdicts: {stages(Path(tmp, 'catalog.sqlite'), level)}")
            print(f"    keepers: {keepers(folder, groups)}")
            if maybe:
                m = score(folder, maybe, classes)
                print(f"    may be duplicates (never removed unless asked): {m['true']} true pairs, "
                      f"{len(m['false'])} false, {m['related']} related")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["build", "run"])
    p.add_argument("--out", type=Path, default=Path("/tmp/mediadup-bench2"))
    p.add_argument("--sources", type=int, default=70, help="sources per half")
    p.add_argument("--half", choices=["report", "tune", "both"], default="report")
    p.add_argument("--levels", nargs="+", default=["strict", "normal", "loose"])
    p.add_argument("--baseline", action="store_true")
    args = p.parse_args()
    if args.command == "build":
        build(args.out, args.sources)
    else:
        halves = ["tune", "report"] if args.half == "both" else [args.half]
        run(args.out, halves, args.levels, args.baseline)


if __name__ == "__main__":
    sys.exit(main())
