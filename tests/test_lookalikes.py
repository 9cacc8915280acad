"""Pictures that look alike (skies, fog, smooth colour fields): the candidate search stays bounded,
the copies among them are still found, and two different smooth pictures are never sure copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from conftest import mediadup, photo
from mediadup import scan


def smooth_library(root: Path, pictures: int = 400, copies: int = 5) -> None:
    """Random 2x2 colour cells smoothly upscaled: their hashes crowd into small Hamming balls."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for n in range(pictures):
        cells = rng.integers(0, 256, (2, 2, 3), dtype=np.uint8)
        im = Image.fromarray(cells).resize((32, 32), Image.Resampling.BICUBIC)
        im.save(root / f"sky{n:03}.png")
        if n < copies:
            im.resize((48, 48), Image.Resampling.BICUBIC).save(root / f"sky{n:03}-copy.png")


def flat_drawing(rng: np.random.Generator, scale: int) -> tuple[Image.Image, tuple[tuple[int, ...], ...]]:
    """One ellipse on a plain background (400 x 300 times `scale`), and two boxes that crop it
    between two window sizes (80 % at a corner, 72 % off the middle)."""
    im = Image.new("RGB", (400 * scale, 300 * scale), tuple(int(v) for v in rng.integers(0, 256, 3)))
    x, y = rng.integers(25 * scale, 200 * scale, 2)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    ImageDraw.Draw(im).ellipse((x, y, x + 150 * scale, y + 100 * scale), fill=fill)
    boxes = tuple(tuple(v * scale for v in box) for box in ((0, 0, 320, 240), (50, 40, 338, 256)))
    return im, boxes


def test_look_alikes_are_compared_with_their_nearest_only_and_copies_are_still_found(tmp_path: Path) -> None:
    """And no two different fields are grouped: sharing a luminance pattern by chance (turned,
    mirrored) with other colours, or with no fine detail that agrees, is no evidence of a copy."""
    smooth_library(tmp_path / "lib")
    result = scan(tmp_path / "lib", catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [[f"sky{n:03}-copy.png", f"sky{n:03}.png"] for n in range(5)], groups
    assert result.summary.crowded > 0 and result.summary.left_out > 0
    assert result.summary.compared < 24 * 10 * 405  # bounded per picture, far below all pairs


def test_the_summary_says_when_the_candidate_limit_left_pairs_out(tmp_path: Path) -> None:
    smooth_library(tmp_path / "lib", pictures=300, copies=1)
    out = mediadup("scan", str(tmp_path / "lib"), "--catalog", str(tmp_path / "c.sqlite"))
    assert out.returncode == 0, out.stderr
    assert "had more look-alikes than the candidate limit: only the nearest were compared" in out.stdout


def test_the_first_look_never_turns_away_a_copy_that_verification_accepts(tmp_path: Path) -> None:
    """Featureless pictures (no keypoints to check) get a cheap first look before verification:
    every copy that verification accepts (resized, recompressed, brighter, cropped, turned,
    mirrored) passes it with the same verdict (the crop search then looks only where a window is
    in reach), and most different look-alikes do not pass."""
    import io

    from PIL import ImageEnhance

    from mediadup.fingerprint.image import fingerprint_file
    from mediadup.match import screen
    from mediadup.match.compare import LEVELS, compare

    def jpeg(im: Image.Image) -> Image.Image:
        data = io.BytesIO()
        im.resize((96, 96), Image.Resampling.BICUBIC).save(data, "JPEG", quality=85)
        return Image.open(data)

    kinds = {
        "bigger": lambda im: im.resize((48, 48), Image.Resampling.BICUBIC),
        "jpeg": jpeg,
        "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.15),
        "cropped": lambda im: im.resize((128, 128), Image.Resampling.BICUBIC).crop((0, 0, 100, 100)),
        "turned": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    }
    rng = np.random.default_rng(7)

    def fingerprinted(im: Image.Image, name: str):
        im.save(tmp_path / f"{name}.png")
        return fingerprint_file(str(tmp_path / f"{name}.png"))

    originals, accepted = [], 0
    for n in range(20):
        im = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((32, 32), Image.Resampling.BICUBIC)
        a = fingerprinted(im, str(n))
        originals.append(a)
        for kind, make in kinds.items():
            b = fingerprinted(make(im), f"{n} {kind}")
            assert not screen.checkable(a, b)
            verdict = compare(a, b, LEVELS["loose"])
            if verdict is not None:
                accepted += 1
                parts = screen.within_reach(screen.views(a), screen.views(b))
                assert parts is not None and compare(a, b, LEVELS["loose"], parts) == verdict, (n, kind, parts)
    for n in range(10):  # flat drawings, cropped between two window sizes: their views agree least
        im, boxes = flat_drawing(rng, 2)
        a = fingerprinted(im, f"drawing {n}")
        for box in boxes:
            b = fingerprinted(im.crop(box), f"drawing {n} {box}")
            verdict = compare(a, b, LEVELS["loose"])
            if not screen.checkable(a, b) and verdict is not None:
                accepted += 1
                parts = screen.within_reach(screen.views(a), screen.views(b))
                assert parts is not None and compare(a, b, LEVELS["loose"], parts) == verdict, (n, box, parts)
    assert accepted >= 110
    others = [(a, b) for i, a in enumerate(originals) for b in originals[i + 1 :]]
    turned_away = sum(screen.within_reach(screen.views(a), screen.views(b)) is None for a, b in others)
    assert turned_away > 0.8 * len(others)


def test_featureless_pictures_in_other_colours_skip_the_crop_search_with_the_same_verdicts(
    tmp_path: Path, monkeypatch
) -> None:
    """A part of a picture in other colours is never believed, so two featureless pictures whose
    palettes differ are not searched for one inside the other; every verdict stays what the
    search would have given (copies regraded in the same framing are still found)."""
    from PIL import ImageEnhance

    from mediadup.fingerprint.image import fingerprint_file
    from mediadup.match import compare as verification

    rng = np.random.default_rng(11)
    pictures = []
    for n in range(14):  # smooth fields, each in its own two colours
        palette = rng.integers(0, 256, (2, 3))
        cells = np.clip(palette[rng.integers(0, 2, (4, 4))] + rng.integers(-20, 21, (4, 4, 3)), 0, 255).astype(np.uint8)
        im = Image.fromarray(cells).resize((32, 32), Image.Resampling.BICUBIC)
        cropped = im.resize((128, 128), Image.Resampling.BICUBIC).crop((0, 0, 100, 100))
        for name, copy in (
            (f"{n}", im),
            (f"{n} graded", ImageEnhance.Color(im).enhance(0.3)),
            (f"{n} cropped", cropped),
        ):
            copy.save(tmp_path / f"{name}.png")
            pictures.append(fingerprint_file(str(tmp_path / f"{name}.png")))
    pairs = [(a, b) for i, a in enumerate(pictures) for b in pictures[i + 1 :]]
    level = verification.LEVELS["loose"]
    searched = []
    search = verification.crop_search
    monkeypatch.setattr(verification, "crop_search", lambda *a: searched.append(1) or search(*a))
    verdicts = [verification.compare(a, b, level) for a, b in pairs]
    skipping = len(searched)
    searched.clear()
    monkeypatch.setattr(verification, "_other_colours", lambda *a: False)
    assert [verification.compare(a, b, level) for a, b in pairs] == verdicts
    assert skipping < 0.9 * len(searched)
    assert sum(v is not None for v in verdicts) >= 24  # the graded and cropped copies


def test_sketches_keep_every_copy_the_search_proposes_and_turn_away_most_look_alikes(tmp_path: Path) -> None:
    """Before any pair travels to a worker, pictures that keypoints cannot check are looked at in
    the alignment their hashes proposed (sketches kept in memory: luminance and colours). Every
    copy the search proposes and verification accepts is still proposed — resized, recompressed,
    brighter, vignetted, lower contrast, colour-graded, gray, with a sticker, cropped at a corner and in the
    middle, turned, mirrored, captioned; flat drawings cropped between two window sizes — and
    most look-alikes are not."""
    import io

    from PIL import ImageEnhance, ImageOps

    from mediadup.fingerprint.image import THUMB, fingerprint_file
    from mediadup.match.candidates import candidate_pairs
    from mediadup.match.compare import COLOURFUL, LEVELS, compare
    from mediadup.match.sketches import SKETCH, Sketches

    def jpeg(im: Image.Image) -> Image.Image:
        data = io.BytesIO()
        im.resize((80, 80), Image.Resampling.BICUBIC).save(data, "JPEG", quality=80)
        return Image.open(data)

    def captioned(im: Image.Image) -> Image.Image:
        big = im.resize((120, 120), Image.Resampling.BICUBIC)
        out = Image.new("RGB", (120, 150), "white")
        out.paste(big, (0, 30))
        ImageDraw.Draw(out).text((8, 8), "when the sky", fill="black")
        return out

    def graded(im: Image.Image) -> Image.Image:
        r, g, b = im.split()
        return Image.merge("RGB", (r.point(lambda v: 255 * (v / 255) ** 0.8), g, b.point(lambda v: v * 0.85 + 20)))

    def sticker(im: Image.Image) -> Image.Image:
        out = im.resize((96, 96), Image.Resampling.BICUBIC)
        ImageDraw.Draw(out).ellipse((60, 8, 88, 36), fill=(255, 220, 0))
        return out

    def vignette(im: Image.Image) -> Image.Image:
        big = np.asarray(im.resize((96, 96), Image.Resampling.BICUBIC), dtype=np.float32)
        y, x = np.mgrid[-1:1:96j, -1:1:96j]
        return Image.fromarray((big * (1 - 0.35 * (x**2 + y**2) / 2)[..., None]).astype(np.uint8))

    kinds = {
        "bigger": lambda im: im.resize((48, 48), Image.Resampling.BICUBIC),
        "jpeg": jpeg,
        "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
        "vignette": vignette,
        "flatter": lambda im: ImageEnhance.Contrast(im).enhance(0.8),
        "graded": graded,
        "gray": lambda im: ImageOps.grayscale(im).convert("RGB"),
        "sticker": sticker,
        "corner": lambda im: im.resize((128, 128), Image.Resampling.BICUBIC).crop((0, 0, 100, 100)),
        "middle": lambda im: im.resize((128, 128), Image.Resampling.BICUBIC).crop((12, 10, 120, 116)),
        "turned": lambda im: im.transpose(Image.Transpose.ROTATE_270),
        "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        "captioned": captioned,
    }
    rng = np.random.default_rng(11)
    prints, family, copies = [], [], []

    def add(im: Image.Image, name: str, of: int | None = None, kind: str = "") -> int:
        im.convert("RGB").save(tmp_path / f"{name}.png")
        prints.append(fingerprint_file(str(tmp_path / f"{name}.png")))
        family.append(len(prints) - 1 if of is None else of)
        if of is not None:
            copies.append((of, len(prints) - 1, kind))
        return len(prints) - 1

    for n in range(40):
        im = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((32, 32), Image.Resampling.BICUBIC)
        original = add(im, f"{n}")
        for kind, make in kinds.items():
            add(make(im), f"{n} {kind}", original, kind)
    for n in range(10):  # flat drawings, cropped between two window sizes: their views agree least
        im, boxes = flat_drawing(rng, 1)
        original = add(im, f"drawing {n}")
        for box in boxes:
            add(im.crop(box), f"drawing {n} {box}", original, "drawing cropped")
    hashes = np.stack([f.hashes for f in prints]).astype(np.uint64)
    sketches = Sketches.empty(np.ones(len(prints), dtype=bool))
    for k, f in enumerate(prints):
        sketches.set(k, f.thumb, f.colours, f.chroma > COLOURFUL and not f.info.monochrome)
    for name, level in LEVELS.items():
        every = {tuple(p) for p in candidate_pairs(hashes, level).pairs.tolist()}
        looked = candidate_pairs(hashes, level, sketches.reachable)
        kept = {tuple(p) for p in looked.pairs.tolist()}
        assert kept <= every and looked.turned_away == len(every - kept)
        missed = [(a, kind) for a, b, kind in copies if (a, b) in every - kept and compare(prints[a], prints[b], level)]
        assert not missed, (name, missed)
        found = sum((a, b) in kept for a, b, _ in copies)
        assert found >= 0.75 * len(copies), (name, found, len(copies))
        strangers = {(a, b) for a, b in every if family[a] != family[b]}  # of two different pictures
        assert len(strangers & kept) < 0.15 * len(strangers), (name, len(strangers & kept), len(strangers))
    # sketched all at once, and looked at in two threads: the same sketches, the same pairs kept
    threaded = Sketches.empty(np.ones(len(prints), dtype=bool), threads=2)
    thumbs, colours = np.stack([f.thumb for f in prints]), np.stack([f.colours for f in prints])
    threaded.set(np.arange(len(prints)), thumbs, colours, sketches.colourful.copy())
    assert (threaded.luma == sketches.luma).all() and (threaded.colours == sketches.colours).all()
    for level in LEVELS.values():
        one, two = (candidate_pairs(hashes, level, s.reachable) for s in (sketches, threaded))
        assert one.pairs.tolist() == two.pairs.tolist() and one.turned_away == two.turned_away
    assert THUMB % SKETCH == 0
    alone = Sketches.empty(np.ones(2, dtype=bool))  # a run of pairs that all pass at once (no second look)
    for k in (0, 1):
        alone.set(k, prints[k].thumb, prints[k].colours, True)
    codes = np.zeros(1, dtype=np.int16)
    assert alone.reachable(np.array([0]), np.array([1]), codes, codes).all()
    mixed = Sketches.empty(np.array([True, False]))  # a picture with keypoints: its pairs go to the workers
    mixed.set(0, prints[0].thumb, prints[0].colours, True)
    assert mixed.reachable(np.array([0]), np.array([1]), codes, codes).all() and len(mixed.luma) == 1


# Colour fields (4x4 cells smoothly upscaled) that 200,000-file smooth tree grouped as sure copies:
# among 150,000 look-alikes, two fields agree in a few places by chance, mostly at the best of a
# crop search's placements (the first four: "cropped" at 0.93; the last: "near-duplicate" at 0.95).
CHANCE_PAIRS = [
    (
        [
            [8, 64, 86],
            [124, 254, 252],
            [92, 6, 112],
            [203, 233, 238],
            [151, 179, 252],
            [0, 86, 140],
            [194, 21, 233],
            [203, 11, 84],
            [241, 150, 88],
            [111, 143, 157],
            [218, 50, 124],
            [64, 55, 15],
            [12, 49, 198],
            [101, 42, 148],
            [216, 97, 206],
            [251, 235, 119],
        ],
        [
            [178, 32, 100],
            [180, 228, 243],
            [39, 67, 34],
            [228, 165, 207],
            [101, 141, 251],
            [87, 65, 27],
            [206, 120, 78],
            [157, 19, 126],
            [201, 229, 214],
            [165, 174, 227],
            [138, 70, 92],
            [27, 59, 192],
            [160, 53, 39],
            [238, 30, 96],
            [80, 109, 253],
            [96, 242, 88],
        ],
    ),
    (
        [
            [193, 188, 150],
            [166, 133, 253],
            [31, 56, 17],
            [240, 56, 140],
            [34, 102, 223],
            [158, 39, 11],
            [5, 173, 107],
            [3, 48, 162],
            [85, 6, 243],
            [226, 189, 198],
            [40, 57, 9],
            [88, 57, 98],
            [233, 135, 47],
            [8, 115, 52],
            [130, 174, 205],
            [71, 78, 209],
        ],
        [
            [193, 175, 134],
            [65, 219, 53],
            [184, 26, 192],
            [31, 140, 111],
            [43, 101, 237],
            [75, 76, 244],
            [244, 112, 205],
            [237, 9, 74],
            [168, 10, 54],
            [238, 251, 168],
            [129, 56, 205],
            [244, 13, 117],
            [107, 143, 214],
            [72, 54, 245],
            [181, 169, 247],
            [100, 172, 104],
        ],
    ),
    (
        [
            [8, 104, 16],
            [41, 157, 168],
            [184, 13, 17],
            [229, 184, 58],
            [184, 176, 166],
            [234, 193, 89],
            [230, 124, 211],
            [16, 4, 158],
            [134, 208, 210],
            [132, 73, 90],
            [111, 3, 196],
            [40, 248, 88],
            [205, 9, 47],
            [243, 153, 18],
            [106, 202, 228],
            [57, 154, 123],
        ],
        [
            [39, 118, 67],
            [90, 176, 231],
            [120, 92, 114],
            [165, 251, 81],
            [197, 170, 140],
            [196, 255, 209],
            [150, 221, 253],
            [19, 22, 9],
            [138, 233, 240],
            [180, 50, 154],
            [52, 57, 156],
            [70, 190, 221],
            [68, 176, 139],
            [125, 176, 36],
            [40, 184, 217],
            [232, 58, 221],
        ],
    ),
    (
        [
            [104, 39, 142],
            [155, 255, 147],
            [98, 6, 104],
            [148, 149, 57],
            [223, 216, 220],
            [247, 96, 162],
            [65, 50, 207],
            [44, 25, 38],
            [48, 104, 111],
            [11, 65, 104],
            [202, 234, 248],
            [243, 148, 127],
            [251, 129, 210],
            [201, 204, 122],
            [117, 42, 81],
            [111, 227, 242],
        ],
        [
            [18, 16, 69],
            [96, 217, 55],
            [73, 44, 215],
            [183, 216, 116],
            [176, 177, 92],
            [44, 220, 43],
            [121, 1, 217],
            [6, 82, 79],
            [179, 108, 85],
            [36, 37, 221],
            [207, 198, 188],
            [183, 133, 77],
            [49, 106, 117],
            [198, 166, 114],
            [45, 73, 71],
            [105, 190, 199],
        ],
    ),
    (
        [
            [29, 37, 118],
            [254, 179, 182],
            [71, 22, 184],
            [80, 208, 255],
            [213, 230, 46],
            [195, 197, 254],
            [122, 123, 90],
            [46, 30, 190],
            [231, 214, 33],
            [17, 59, 18],
            [223, 45, 156],
            [211, 89, 119],
            [115, 82, 129],
            [252, 167, 232],
            [173, 107, 13],
            [251, 35, 207],
        ],
        [
            [122, 43, 139],
            [171, 243, 152],
            [130, 10, 107],
            [180, 105, 175],
            [137, 235, 170],
            [166, 210, 188],
            [132, 177, 22],
            [156, 19, 93],
            [69, 187, 219],
            [37, 67, 75],
            [47, 116, 211],
            [1, 164, 218],
            [180, 67, 219],
            [178, 248, 192],
            [9, 152, 195],
            [139, 113, 136],
        ],
    ),
]


def test_featureless_pictures_alike_in_a_few_places_by_chance_are_no_sure_copies(tmp_path: Path) -> None:
    """Without keypoints, thumbnails are all the evidence: two colour fields aligned (as a whole or
    as a crop) with fine detail agreeing in fewer places than a keypoint fit must show are at most
    "may be duplicates", unless their pixels are the same. A copy of such a field, resized, stays
    a sure copy (its pixels are the same)."""
    from mediadup.fingerprint.image import fingerprint_file
    from mediadup.match.compare import LEVELS, compare
    from mediadup.records import Relation

    def field(cells: list, name: str, size: int = 32):
        im = Image.fromarray(np.array(cells, dtype=np.uint8).reshape(4, 4, 3)).resize(
            (32, 32), Image.Resampling.BICUBIC
        )
        im.resize((size, size), Image.Resampling.BICUBIC).save(tmp_path / f"{name}.png")
        return fingerprint_file(str(tmp_path / f"{name}.png"))

    for n, (one, other) in enumerate(CHANCE_PAIRS):
        a, b, copy = field(one, f"{n}a"), field(other, f"{n}b"), field(one, f"{n}c", 48)
        for level in LEVELS.values():
            for x, y in ((a, b), (b, a)):
                verdict = compare(x, y, level)
                assert verdict is None or verdict.relation is Relation.UNCERTAIN, (n, level.name, verdict)
            sure = compare(a, copy, level)
            assert sure is not None and sure.relation is not Relation.UNCERTAIN, (n, level.name, sure)


def test_ctrl_c_while_look_alikes_are_verified_stops_at_once_and_keeps_the_verdicts(tmp_path: Path) -> None:
    """SIGINT to the whole process group during verification: the scan ends within seconds, says
    so, and the verdicts reached so far are in the catalog for the next scan to resume from."""
    import contextlib
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    rng = np.random.default_rng(3)
    lib = tmp_path / "lib"
    lib.mkdir()
    for n in range(1000):  # families of look-alikes, alike but for their grain: thousands of pairs to verify
        if n % 25 == 0:
            cells = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            base = np.asarray(Image.fromarray(cells).resize((64, 64), Image.Resampling.BICUBIC), dtype=np.int16)
        grain = rng.integers(-14, 15, (64, 64, 1), dtype=np.int16)
        Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)).save(lib / f"{n:04}.png")
    catalog = str(tmp_path / "c.sqlite")
    command = [sys.executable, "-m", "mediadup", "scan", str(lib), "--catalog", catalog, "-j", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def count(table: str) -> int:
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(catalog, timeout=5)) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return 0

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None and count("image_fingerprints") < 1000:
        time.sleep(0.2)
    time.sleep(5.0)  # verifying by now (it lasts about 15 s)
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    asked = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - asked < 10, "Ctrl-C waited for the verification to end"
    assert proc.returncode == 130 and "verdicts are kept" in err and "Traceback" not in err, err
    assert count("verdicts") > 0


def test_pairs_proposed_only_as_alike_but_for_a_local_edit_get_no_crop_search(tmp_path: Path, monkeypatch) -> None:
    """The same window of two pictures says "alike but for a local edit elsewhere": a pair that no
    other view proposed is a copy in the same framing or none. Among look-alikes such pairs are
    nearly all the candidates, and the crop search most of their cost: pictures that keypoints
    cannot check are then compared in the same framing only, unturned (a copy still found; a
    mirrored one is not, until asked again with a crop in reach), the verdict is
    remembered as that, and the pair is compared again, crop search included, when asked with a
    crop in reach (here: the grouping, which checks every duplicate against its keeper)."""
    from mediadup.fingerprint.image import FIRST_WINDOW, INNER, NO_INNER, SHARED_WINDOWS, fingerprint_file
    from mediadup.fingerprint.workers import Workers
    from mediadup.match import compare as verification
    from mediadup.match import screen
    from mediadup.match.candidates import candidate_pairs
    from mediadup.match.verify import FRAMED, Verifier
    from mediadup.records import Relation

    rng = np.random.default_rng(9)
    hashes = rng.integers(0, 2**64, (8, INNER + 1), dtype=np.uint64)  # every view far from every other
    hashes[:, INNER] = NO_INNER
    shared = FIRST_WINDOW + SHARED_WINDOWS[1]
    hashes[1, shared] = hashes[0, shared]  # 0 and 1: one window alike, nothing else
    hashes[3, 0] = hashes[2, 0]  # 2 and 3: alike as a whole
    hashes[5, 0] = hashes[4, FIRST_WINDOW + 3]  # 5 is like a crop window of 4
    hashes[7, [0, shared]] = hashes[6, [0, shared]]  # 6 and 7: alike as a whole and in a window
    for level in verification.LEVELS.values():
        found = candidate_pairs(hashes, level)
        assert found.pairs.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]], level.name
        assert found.may_crop.tolist() == [False, True, True, True], level.name

    field = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    im = Image.fromarray(field).resize((128, 128), Image.Resampling.BICUBIC)
    copies = {"original": im, "bigger": im.resize((192, 192), Image.Resampling.BICUBIC),
              "cropped": im.crop((0, 0, 100, 100)),
              "mirrored": im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)}  # fmt: skip
    fingerprints = {}
    for name, picture in copies.items():
        picture.save(tmp_path / f"{name}.png")
        fingerprints[name] = fingerprint_file(str(tmp_path / f"{name}.png"))
    assert not any(screen.checkable(fingerprints["original"], f) for f in fingerprints.values())
    searched: list[int] = []
    search = verification.crop_search
    monkeypatch.setattr(verification, "crop_search", lambda *a: searched.append(1) or search(*a))
    ids = {name: k for k, name in enumerate(fingerprints)}
    with Workers(1) as workers:
        verifier = Verifier(fingerprints, ids, verification.LEVELS["normal"], {}, workers)
        pairs = [("original", "bigger"), ("original", "cropped")]
        assert verifier.matches(pairs, [False, False]) == [True, False] and not searched
        assert verifier.known[(ids["original"], ids["cropped"])] == FRAMED
        assert verifier.matches(pairs[1:], [False]) == [False] and not searched  # remembered
        assert [m.relation for m in verifier.many(pairs)] == [Relation.NEAR_DUPLICATE, Relation.CROPPED]
        assert searched and verifier.compared == 3
        assert [row[2] for row in verifier.new] == [verifier.known[(0, 1)], FRAMED, verifier.known[(0, 2)]]
        twice = Verifier(fingerprints, ids, verification.LEVELS["normal"], {}, workers)  # one pair asked both ways
        assert twice.matches([pairs[1], pairs[1]], [False, True]) == [True, True] and twice.compared == 1
        mirrored = ("original", "mirrored")  # the same window of both is unturned: so is the copy
        assert verifier.matches([mirrored], [False]) == [False]
        assert [m.relation for m in verifier.many([mirrored])] == [Relation.MIRRORED]


def test_a_pair_alike_in_one_window_only_is_turned_away_when_its_colours_disagree_elsewhere(tmp_path: Path) -> None:
    """The same window of both proposes a copy in the same framing (alike but for a local edit
    elsewhere), and such a copy's colours agree place by place over most of the whole picture
    (compare.colours_agree): two colour fields that share a corner and differ in the rest are
    turned away at the first look, as verification would; a copy with a sticker outside the
    window, or in other colours, and a field gone gray are still proposed."""
    from PIL import ImageOps

    from mediadup.fingerprint.image import SHARED_WINDOWS, WINDOWS, fingerprint_file
    from mediadup.match.candidates import candidate_pairs
    from mediadup.match.compare import COLOURFUL, LEVELS, compare
    from mediadup.match.sketches import TURNED, Sketches

    rng = np.random.default_rng(5)
    corner = next(w for w in SHARED_WINDOWS if WINDOWS[w][:2] == (0, 0))  # the top left 75 %
    pictures = []
    for n in range(12):
        cells = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        other = cells.copy()
        other[3, :], other[:, 3] = rng.integers(0, 256, (2, 4, 3), dtype=np.uint8)  # alike in the top left only
        original = Image.fromarray(cells).resize((96, 96), Image.Resampling.BICUBIC)
        sticker = original.copy()
        ImageDraw.Draw(sticker).ellipse((78, 78, 94, 94), fill=(255, 255, 0))
        graded = Image.merge(
            "RGB", [c.point(lambda v, k=k: v * (0.8 + 0.1 * k) + 10) for k, c in enumerate(original.split())]
        )
        relatives = {
            "original": original,
            "other": Image.fromarray(other).resize((96, 96), Image.Resampling.BICUBIC),
            "sticker": sticker,
            "graded": graded,
            "gray": ImageOps.grayscale(original).convert("RGB"),
        }
        for kind, im in relatives.items():
            im.save(tmp_path / f"{n} {kind}.png")
            pictures.append(fingerprint_file(str(tmp_path / f"{n} {kind}.png")))
    hashes = np.stack([f.hashes for f in pictures]).astype(np.uint64)
    sketches = Sketches.empty(np.ones(len(pictures), dtype=bool))
    for k, f in enumerate(pictures):
        sketches.set(k, f.thumb, f.colours, f.chroma > COLOURFUL and not f.info.monochrome)
    firsts = np.arange(0, len(pictures), 5).repeat(4)  # each original and its four relatives
    window = np.full(len(firsts), TURNED + corner, dtype=np.int16)
    seconds = (firsts.reshape(-1, 4) + np.arange(1, 5)).ravel()
    kept = sketches.reachable(firsts, seconds, window, window)
    looked = {kind: kept.reshape(-1, 4)[:, j].tolist() for j, kind in enumerate(list(relatives)[1:])}
    assert not any(looked["other"]), looked["other"]
    assert all(looked["sticker"]) and all(looked["graded"]) and all(looked["gray"])
    for a, b in zip(firsts[::4], seconds[::4]):  # verification: no copy in the same framing either
        assert compare(pictures[a], pictures[b], LEVELS["normal"], parts="", turned=False) is None
    every = candidate_pairs(hashes, LEVELS["normal"])
    screened = candidate_pairs(hashes, LEVELS["normal"], sketches.reachable)
    assert screened.turned_away > 0 and len(screened.pairs) < len(every.pairs)


def test_views_that_show_nothing_bring_no_candidates(tmp_path: Path) -> None:
    """Product shots on white: windows that miss the product are plain white in every picture,
    and a small product leaves the average hash nearly empty. Such views carry no information:
    they hash to FLAT, are not searched and propose nothing (the pairs are those found with each
    of them replaced by a hash that matches nothing); a copy is still found."""
    from mediadup.fingerprint import phash
    from mediadup.fingerprint.image import AVERAGE, FIRST_WINDOW, INNER, WINDOWS, fingerprint_file
    from mediadup.match.candidates import candidate_pairs
    from mediadup.match.compare import LEVELS

    rng = np.random.default_rng(5)
    paths, places = [], []
    for n in range(70):
        im = Image.new("RGB", (240, 240), "white")
        x, y = (int(v) for v in rng.integers(0, 200, 2))
        product = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        im.paste(Image.fromarray(product).resize((40, 40), Image.Resampling.BICUBIC), (x, y))
        im.save(tmp_path / f"p{n}.png")
        paths.append(tmp_path / f"p{n}.png")
        places.append((x / 240, y / 240, (x + 40) / 240, (y + 40) / 240))
    Image.open(paths[0]).resize((360, 360), Image.Resampling.BICUBIC).save(tmp_path / "copy.png")
    paths.append(tmp_path / "copy.png")
    places.append(places[0])
    hashes = np.stack([fingerprint_file(str(p)).hashes for p in paths]).astype(np.uint64)
    plain = np.array([[x0 >= px1 or x1 <= px0 or y0 >= py1 or y1 <= py0 for x0, y0, x1, y1 in WINDOWS]
                      for px0, py0, px1, py1 in places])  # fmt: skip
    assert plain.sum() > 200 and (hashes[:, FIRST_WINDOW:INNER][plain] == phash.FLAT).all()
    ones = np.bitwise_count(hashes[:, AVERAGE])
    empty = np.minimum(ones, 64 - ones) <= LEVELS["strict"].view_radius  # a nearly empty average hash
    assert empty.mean() > 0.5
    alone = hashes.copy()  # each view that shows nothing replaced by a hash that matches nothing
    unique = rng.integers(0, 2**64, alone.shape, dtype=np.uint64)
    alone[:, FIRST_WINDOW:INNER][plain] = unique[:, : len(WINDOWS)][plain]
    alone[empty, AVERAGE] = unique[empty, -1]
    for level in LEVELS.values():
        found, without = candidate_pairs(hashes, level), candidate_pairs(alone, level)
        assert found.pairs.tolist() == without.pairs.tolist(), level.name
        assert (found.crowded, found.left_out) == (without.crowded, without.left_out), level.name
        assert [0, len(paths) - 1] in found.pairs.tolist()


def test_stored_hashes_give_the_rows_asked_for_from_one_copy_of_the_catalogs(tmp_path_factory) -> None:
    """The search's reads of the catalog's hashes (StoredHashes): any slice or row numbers (repeats,
    any order, runs and gaps) give the rows of the matrix, from one copy read from the catalog
    once; the copy is a temporary file beside the catalog, gone when closed; a copy cut short or
    one that cannot be written is a clear error, never rows of garbage."""
    import pytest
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from mediadup.fingerprint.image import Stored
    from mediadup.records import FileStat, Kind, MediadupError
    from mediadup.store.catalog import Catalog
    from mediadup.store.files import StoredHashes

    folder = tmp_path_factory.mktemp("stored")
    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 2**64, (400, 7), dtype=np.uint64)
    with Catalog(str(folder / "c.sqlite")) as catalog:
        files = [FileStat(f"/x/{k}.jpg", 1, 0, 1, k + 1, Kind.IMAGE) for k in range(len(matrix))]
        known = catalog.refresh(files)
        ids = np.array([known[f.path].id for f in files])
        catalog.store_fingerprints(
            (i, Kind.IMAGE, Stored(row.tobytes(), b"", b"", "{}", b"", True), None, None)
            for i, row in zip(ids.tolist(), matrix)
        )
        unwritable = StoredHashes(catalog.db, ids[:3].tolist(), str(folder / "missing"))
        with pytest.raises(MediadupError, match="cannot copy"), unwritable:
            unwritable[:1]
        order = rng.permutation(len(matrix))[:300]
        order[10:20] = order[0]  # a file searched under several names
        reads = 0
        with catalog.image_hashes(ids[order].tolist()) as hashes:
            wanted = matrix[order]

            @settings(max_examples=60, deadline=None)
            @given(st.one_of(
                st.builds(slice, st.integers(0, 300), st.integers(0, 300)),
                arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 299)),
                arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 299)).map(np.sort),
            ))  # fmt: skip
            def rows_as_asked(rows: slice | np.ndarray) -> None:
                nonlocal reads
                assert np.array_equal(hashes[rows], wanted[rows])
                reads += 1

            rows_as_asked()
            assert reads and len(hashes) == 300 and hashes.shape == (300, 7)
            catalog.db.execute("DELETE FROM image_fingerprints")  # the copy is read, not the catalog
            assert np.array_equal(hashes[5:9], wanted[5:9])
            assert [p.name for p in folder.iterdir() if p.name.startswith("tmp")] == []  # (unlinked at once)
            hashes.copy.truncate(100)
            with pytest.raises(MediadupError, match="cut short"):
                hashes[:2]
        assert hashes.copy is not None and hashes.copy.closed


def test_the_hashes_searched_are_read_from_the_catalog_by_rows_and_freed_memory_goes_back(tmp_path: Path) -> None:
    """Light fingerprints hold the picture hash alone (a rescan that matches nothing reads no
    other); the candidate search reads the hashes of the pictures it searches from the catalog
    by rows, in the order asked (a slice or row numbers, repeats too); and freed small blocks are handed back to
    the system, not kept by the allocator to the scan's end."""
    import sys

    import pytest

    from mediadup.fingerprint.image import fingerprint_file
    from mediadup.heap import release
    from mediadup.records import FileStat, Kind, MediadupError
    from mediadup.store.catalog import Catalog

    files, stored = [], []
    for seed in range(3):
        path = tmp_path / f"{seed}.png"
        photo(seed).save(path)
        st = path.stat()
        files.append(FileStat(str(path), st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, Kind.IMAGE))
        stored.append(fingerprint_file(str(path)).stored())
    with Catalog(str(tmp_path / "c.sqlite")) as catalog:
        ids = [c.id for c in catalog.refresh(files).values()]
        catalog.store_fingerprints([(i, Kind.IMAGE, fp, None, None) for i, fp in zip(ids, stored)])
        light = dict(catalog.fingerprints(ids, Kind.IMAGE, light=True))
        assert [bytes(light[i].hashes) for i in ids] == [fp.hashes[:8] for fp in stored]
        assert all(bytes(fp.light().hashes) == fp.hashes[:8] for fp in stored)
        with catalog.image_hashes([ids[2], ids[0], ids[1], ids[0]]) as matrix:
            assert len(matrix) == 4 and matrix.shape == (4, len(stored[0].hashes) // 8)
            assert [bytes(row) for row in matrix[:]] == [stored[k].hashes for k in (2, 0, 1, 0)]
            assert [bytes(row) for row in matrix[1:3]] == [stored[k].hashes for k in (0, 1)]
            assert [bytes(row) for row in matrix[np.array([3, 0, 3])]] == [stored[k].hashes for k in (0, 2, 0)]
        with catalog.image_hashes([]) as nothing:
            assert nothing[:].shape[0] == 0
        for missing in ([ids[0], max(ids) + 1], [max(ids) + 1, ids[0]]):  # gone before the search, or during it
            with pytest.raises(MediadupError, match="left the catalog"), catalog.image_hashes(missing) as matrix:
                matrix[:]
        with catalog.image_hashes(ids) as matrix:
            catalog.db.execute("DELETE FROM image_fingerprints WHERE file_id = ?", (ids[2],))
            for _ in range(2):  # a copy cut short is not kept: the next read fails again, never reads garbage
                with pytest.raises(MediadupError, match="left the catalog"):
                    matrix[:1]
                assert matrix.copy is None

    if not sys.platform.startswith("linux"):
        pytest.skip("resident memory read from /proc")

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096

    held, pinned = [], []
    for n in range(20_000):  # 160 MB in blocks the allocator keeps, each beside a block still in use
        held.append(bytes(8000) + n.to_bytes(8, "little"))
        pinned.append(bytes(600) + n.to_bytes(8, "little"))
    before = resident()
    del held
    release()
    assert resident() < before - 100 * 2**20


def test_the_cyclic_collector_rests_while_lasting_records_are_made_skips_them_after_and_comes_back(
    tmp_path: Path,
) -> None:
    """Records of every file and fingerprints are made with the cyclic garbage collector paused
    (it would walk them all again and again as they grow), then frozen, so that its later full
    collections skip them; a scan leaves it as it found it, on or off, with nothing frozen."""
    import gc

    from mediadup.heap import lasting_objects, thawed

    with thawed():
        with lasting_objects():
            assert not gc.isenabled()
            records = [{"file": n} for n in range(5000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(records), "made to last: later collections skip them"
    assert gc.get_freeze_count() == 0, "the collector's again once the scan ends"
    gc.disable()
    try:
        with lasting_objects():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

    smooth_library(tmp_path / "lib", pictures=20, copies=2)
    first = scan(tmp_path / "lib", catalog=tmp_path / "c.sqlite", jobs=1)
    again = scan(tmp_path / "lib", catalog=tmp_path / "c.sqlite", jobs=1)
    assert gc.isenabled() and len(first.groups) == len(again.groups) == 2
    assert gc.get_freeze_count() == 0
