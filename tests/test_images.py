"""Pictures the way users' libraries hold them: which copy is the original, and what is content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from conftest import photo, save
from mediadup import scan


def camera_exif(make: str = "Canon", model: str = "Canon EOS 80D", taken: str = "2021:05:01 10:00:00") -> bytes:
    exif = Image.Exif()
    exif[271], exif[272] = make, model
    exif.get_ifd(0x8769)[36867] = taken
    return exif.tobytes()


def test_the_camera_original_is_kept_over_a_lossless_file_converted_from_it(tmp_path: Path) -> None:
    """A PNG made from a camera JPEG holds the JPEG's pixels, no better: the camera's file stays."""
    lib = tmp_path / "lib"
    for n in range(3):
        original = save(photo(50 + n, (640, 480)), lib / "DCIM" / f"IMG_{n:04}.JPG", quality=92, exif=camera_exif())
        save(Image.open(original), lib / "converted" / f"IMG_{n:04}.png")
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    assert len(result.groups) == 3
    for g in result.groups:
        assert g.keeper.path.endswith(".JPG"), (g.keeper.path, g.reason)
        assert g.reason.startswith("camera original (EXIF: Canon Canon EOS 80D, taken 2021:05:01 10:00:00)")


def captioned(im: Image.Image, colour: tuple[int, int, int], text: str, top: bool = True) -> Image.Image:
    """A meme: a band of a quarter of the height, one colour, a line of text on it."""

    band = im.height // 4
    out = Image.new("RGB", (im.width, im.height + band), colour)
    out.paste(im, (0, band if top else 0))
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    ImageDraw.Draw(out).text((im.width // 20, (band // 3) + (0 if top else im.height)), text, fill=ink,
                             font=ImageFont.load_default(size=band // 3))  # fmt: skip
    return out


def test_a_captioned_copy_joins_its_original_which_stays(tmp_path: Path) -> None:
    """Bands of any colour with text on them are not content: the copy matches its original, and
    the original (all content) is kept, not the copy with more pixels of band."""
    lib = tmp_path / "lib"
    for n, (colour, top) in enumerate((((255, 255, 255), True), ((200, 30, 160), False), ((20, 20, 20), True))):
        a = photo(70 + n, (640, 480))
        save(a, lib / f"p{n}" / "original.jpg", quality=92)
        save(captioned(a, colour, "when the code compiles first time", top), lib / f"p{n}" / "meme.jpg", quality=88)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [["meme.jpg", "original.jpg"]] * 3, groups
    assert all(Path(g.keeper.path).name == "original.jpg" for g in result.groups), [g.reason for g in result.groups]


def test_different_pictures_under_one_caption_band_are_not_duplicates(tmp_path: Path) -> None:
    """The same band and text over different pictures (a template) is shared canvas, not content."""
    lib = tmp_path / "lib"
    for n in range(4):
        save(captioned(photo(80 + n, (640, 480)), (255, 255, 255), "same caption on every post"),
             lib / f"post{n}.jpg", quality=88)  # fmt: skip
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    assert result.groups == []


def pillarboxed(im: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """Bars of one colour left and right, each a sixth of the width."""
    bar = im.width // 6
    out = Image.new("RGB", (im.width + 2 * bar, im.height), colour)
    out.paste(im, (bar, 0))
    return out


def test_a_band_ends_where_its_colour_does(tmp_path: Path) -> None:
    """Bands are found on a blurred copy, which carries the picture a few lines into the band: the
    content still ends where the band's colour does (a rim of band left on the content makes a
    captioned copy disagree with its original at the edge, and captions of two pictures agree)."""
    from mediadup.fingerprint.decode import WORK_SIZE
    from mediadup.fingerprint.image import fingerprint_file

    original = photo(91, (900, 600))
    for n, colour in enumerate(((255, 255, 255), (0, 0, 0), (200, 30, 160))):
        for kind, framed in (
            ("top", captioned(original, colour, "a caption above")),
            ("bottom", captioned(original, colour, "a caption below", top=False)),
            ("bars", pillarboxed(original, colour)),
        ):
            path = tmp_path / f"{n} {kind}.png"
            framed.save(path)
            step = max(framed.size) / WORK_SIZE  # one line of the working copy, in the file's pixels
            info = fingerprint_file(str(path)).info
            assert abs(info.content_width - 900) <= 2 * step + 1, (colour, kind, info.content_width)
            assert abs(info.content_height - 600) <= step + 1, (colour, kind, info.content_height)


def in_a_template(picture: Image.Image, template: Image.Image) -> Image.Image:
    """`picture` in the middle of a patterned card (a print template, a viewer's window), half of
    each side: the card is three quarters of the frame and every copy made from it shares it."""
    out = template.copy()
    w, h = out.size
    out.paste(picture.resize((w // 2, h // 2)), (w // 4, h // 4))
    return out


def test_different_pictures_in_one_patterned_template_are_not_duplicates(tmp_path: Path) -> None:
    """Around the middle everything agrees (the template's pattern); in the middle, other pictures.
    The shared bench's screenshots in one window style were grouped so (4 false pairs); a copy of
    one of them stays a copy."""
    lib = tmp_path / "lib"
    template = photo(95, (800, 600))
    for n in range(4):
        save(in_a_template(photo(90 + n, (640, 480)), template), lib / f"card{n}.jpg", quality=90)
    save(Image.open(lib / "card0.jpg").resize((600, 450)), lib / "card0-smaller.jpg", quality=80)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    assert [sorted(Path(m.path).name for m in g.members) for g in result.groups] == [["card0-smaller.jpg", "card0.jpg"]]


def drawing(background: tuple[int, int, int], disc: tuple[int, int, int], size=(800, 600)) -> Image.Image:

    im = Image.new("RGB", size, background)
    ImageDraw.Draw(im).ellipse((250, 150, 550, 450), fill=disc)
    return im


def test_flat_graphics_are_sure_copies_only_with_the_same_pixels(tmp_path: Path) -> None:
    """A drawing with little detail and its recoloured edition look alike to any measure of shape:
    they "may be duplicates", shown but never removed unless asked; a plain re-encode of the
    drawing is a sure copy."""
    from mediadup.act.plan import groups_from_catalog, make_plan
    from mediadup.records import Relation
    from mediadup.store.catalog import Catalog

    lib, catalog = tmp_path / "lib", str(tmp_path / "c.sqlite")
    save(drawing((20, 20, 20), (230, 40, 40)), lib / "logo.png")
    save(drawing((20, 20, 20), (230, 40, 40)), lib / "logo copy.jpg", quality=95)
    save(drawing((240, 240, 240), (40, 40, 230)), lib / "logo light edition.png")
    result = scan(lib, catalog=catalog)
    relations = {Path(m.path).name: m.relation for g in result.groups for m in g.duplicates}
    assert relations.get("logo copy.jpg", Relation.NEAR_DUPLICATE) is Relation.NEAR_DUPLICATE, relations
    assert relations.get("logo light edition.png", Relation.UNCERTAIN) is Relation.UNCERTAIN, relations
    with Catalog(catalog) as cat:
        groups = groups_from_catalog(cat)
    planned = {Path(a.path).name for a in make_plan(groups)}
    assert "logo light edition.png" not in planned
    if "logo light edition.png" in relations:
        assert "logo light edition.png" in {Path(a.path).name for a in make_plan(groups, include_uncertain=True)}


def wallpaper(seed: int, size=(960, 540)) -> Image.Image:
    """A dark wallpaper: a gradient between two colours and a thin logo with a word, all from `seed`."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = rng.uniform(-1, 1, 2)
    t = (dx * x / w + dy * y / h - min(dx, 0) - min(dy, 0)) / (abs(dx) + abs(dy) + 1e-6)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    px = (a * (1 - t[..., None]) + b * t[..., None]) * 0.35
    im = Image.fromarray(px.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    r = min(w, h) * rng.uniform(0.1, 0.25)
    cx, cy = w * rng.uniform(0.25, 0.75), h * rng.uniform(0.3, 0.6)
    shape = rng.integers(0, 3)
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == 0:
        draw.ellipse(box, outline=(200, 200, 200), width=4)
    elif shape == 1:
        draw.rectangle(box, outline=(200, 200, 200), width=4)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], outline=(200, 200, 200), width=4)
    draw.text(
        (cx - r, cy + r * 1.2),
        ["aurora", "kite", "sol", "delta"][seed % 4],
        fill=(200, 200, 200),
        font=ImageFont.load_default(size=int(r / 2)),
    )
    return im


def fingerprinted(im: Image.Image, path: Path):
    from mediadup.fingerprint.image import fingerprint_file

    return fingerprint_file(str(save(im, path)))


def gradient_design(size: tuple[int, int], hues: tuple[int, int], mark: float) -> Image.Image:
    """A screen background: a vertical blend of two hues and a small bright star at `mark` of the
    width, drawn for a screen of `size`."""
    w, h = size
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, bottom = (np.array(Image.new("HSV", (1, 1), (hue, 200, 220)).convert("RGB"))[0, 0] for hue in hues)
    px = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3))
    im = Image.fromarray(px.clip(0, 255).astype(np.uint8))
    r, cx, cy = min(w, h) * 0.08, w * mark, h * 0.4
    star = [(cx + r * (1 - 0.6 * (k % 2)) * np.cos(k * np.pi / 5), cy + r * (1 - 0.6 * (k % 2)) * np.sin(k * np.pi / 5))
            for k in range(10)]  # fmt: skip
    ImageDraw.Draw(im).polygon(star, fill=(250, 250, 250))
    return im


def test_one_design_drawn_for_other_screens_is_not_one_picture(tmp_path: Path) -> None:
    """A background drawn again for a phone (portrait) and a monitor (landscape) has the same
    colours everywhere, but a picture is not squeezed to 40 % of its width by copying: other
    shapes are other pictures (or a crop, which the search finds), not even "may be duplicates".
    A thumbnail squeezed from 4:3 to a square is still a copy."""
    from mediadup.match.compare import LEVELS, compare

    for n, hues in enumerate(((10, 160), (120, 200), (30, 90))):
        wide = fingerprinted(gradient_design((1600, 1200), hues, 0.3), tmp_path / f"{n}-wide.png")
        tall = fingerprinted(gradient_design((900, 1600), hues, 0.5), tmp_path / f"{n}-tall.png")
        square = fingerprinted(photo(120 + n, (800, 600)).resize((400, 400)), tmp_path / f"{n}-square.jpg")
        original = fingerprinted(photo(120 + n, (800, 600)), tmp_path / f"{n}-photo.jpg")
        for level in LEVELS.values():
            assert compare(wide, tall, level) is None, (n, level.name)  # was "may be duplicates"
        assert compare(original, square, LEVELS["normal"]) is not None


def test_different_drawings_in_one_style_are_never_sure_duplicates(tmp_path: Path) -> None:
    """Dark gradient wallpapers, each with its own thin logo: alike on the whole, with detail in
    only a few places, and those places disagree. Before local evidence, 6 of them were grouped
    as duplicates. (Seed 13 is left out: its logo is found as a part of seed 21's, with one side
    nearly gray so that colour cannot tell them apart; see the README's limitations.)"""
    lib = tmp_path / "lib"
    for n in [*range(13), *range(14, 24)]:
        save(wallpaper(n), lib / f"w{n:02d}.png")
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    sure = [(g.keeper.path, m.path) for g in result.groups for m in g.duplicates if m.relation.removable]
    assert sure == []


def test_may_be_duplicates_are_shown_as_such(tmp_path: Path) -> None:
    import io
    import json

    from rich.console import Console

    from mediadup.act.planfile import write_json
    from mediadup.records import FileStat, Group, GroupMember, Kind, Relation, ScanResult, ScanSummary
    from mediadup.report.text import print_groups

    def member(name: str, relation: Relation, evidence: dict) -> GroupMember:
        return GroupMember(FileStat(str(tmp_path / name), 10, 1, 1, 1, Kind.IMAGE), relation, 0.97, evidence)

    why = "too little detail to be sure (1 of 16 places), and not the same pixels"
    group = Group(member("logo.png", Relation.KEEPER, {}), [member("logo 2.png", Relation.UNCERTAIN,
                  {"uncertain": why})], "lossless (PNG)")  # fmt: skip
    result = ScanResult([group], [], ScanSummary())
    out = io.StringIO()
    print_groups(result, Console(file=out, width=200))
    assert "maybe" in out.getvalue() and f"may be a duplicate: {why}" in out.getvalue()
    assert group.reclaimable == 0
    data = io.StringIO()
    write_json(result, data)
    files = json.loads(data.getvalue())["groups"][0]["files"]
    assert files[1]["relation"] == "uncertain" and files[1]["evidence"]["uncertain"] == why


@settings(max_examples=200, deadline=None)
@given(
    h=st.integers(1, 80),
    w=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
    flat=st.floats(0, 1),
)
def test_the_content_box_is_always_inside_the_picture(h: int, w: int, seed: int, flat: float) -> None:
    """Any picture, however small, uniform or noisy, gets a box inside it of at least 30 % per side."""
    from mediadup.fingerprint.image import _blur, content_box

    rng = np.random.default_rng(seed)
    luma = rng.integers(0, 256, (h, w)).astype(np.uint8)
    luma[: int(h * flat)] = rng.integers(0, 256)  # a band of one colour, or the whole picture
    x0, y0, x1, y1 = content_box(_blur(luma), sharp=luma)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert (x1 - x0) >= 0.3 * w and (y1 - y0) >= 0.3 * h


@settings(max_examples=100, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 256))
def test_the_blur_before_finding_bands_is_pillows_box_blur(h: int, w: int, seed: int, levels: int) -> None:
    """The content box is found on a blurred picture: OpenCV's blur stands in for Pillow's
    BoxBlur(2) pixel for pixel (fingerprints do not change with it)."""
    from mediadup.fingerprint.image import _blur

    pixels = (np.random.default_rng(seed).integers(0, levels, (h, w, 3)) * (255 // levels)).astype(np.uint8)
    assert np.array_equal(_blur(pixels), np.asarray(Image.fromarray(pixels).filter(ImageFilter.BoxBlur(2))))


def graded_copy(im: Image.Image, warmth: float) -> Image.Image:
    """A teal-and-orange grade: shadows pushed to teal, highlights to orange (one mapping of colours)."""
    px = np.asarray(im, np.float32)
    luma = px.mean(axis=2, keepdims=True) / 255
    px = px + (1 - luma) * np.array([-30, 12, 35]) + luma * np.array([40, 10, -35]) * warmth
    return Image.fromarray(px.clip(0, 255).astype(np.uint8))


def repainted(im: Image.Image) -> Image.Image:
    """Another colour edition: each half's colours swapped around in its own way (no one mapping)."""
    px = np.asarray(im).copy()
    half = px.shape[1] // 2
    px[:, :half] = px[:, :half][..., [2, 0, 1]]
    px[:, half:] = px[:, half:][..., [1, 2, 0]]
    return Image.fromarray(px)


def test_a_colour_graded_copy_is_a_copy_and_a_repainted_edition_is_not(tmp_path: Path) -> None:
    """Colours that one mapping explains everywhere are a grade of the picture; colours changed in
    one part and not another are another edition, whatever the shapes say."""
    for n in range(3):
        original = photo(90 + n, (640, 480))
        save(original, tmp_path / f"g{n}" / "original.jpg", quality=92)
        save(graded_copy(original, 0.8 + 0.2 * n), tmp_path / f"g{n}" / "graded.jpg", quality=88)
        save(repainted(photo(95 + n, (640, 480))), tmp_path / f"e{n}" / "blue.jpg", quality=92)
        save(photo(95 + n, (640, 480)), tmp_path / f"e{n}" / "red.jpg", quality=92)
    result = scan(tmp_path, catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [["graded.jpg", "original.jpg"]] * 3, groups


def jpeg_pixels(im: Image.Image, quality: int) -> np.ndarray:
    """The pixels a JPEG of `im` decodes to."""
    import io

    data = io.BytesIO()
    im.save(data, "JPEG", quality=quality)
    return np.asarray(Image.open(data))


def test_the_trace_of_a_jpeg_is_found_in_lossless_pixels_and_only_there() -> None:
    """Pixels decoded from a JPEG keep its quantisation on the 8x8 grid, whatever the quality up
    to 95; photos that never were a JPEG, drawn gradients and flat drawings carry none."""
    from mediadup.fingerprint.jpeg_trace import traced_quality

    for seed, quality in ((1, 40), (2, 60), (3, 75), (4, 85), (5, 92), (6, 95)):
        found = traced_quality(jpeg_pixels(photo(400 + seed, (800, 600)), quality))
        assert found is not None and abs(found - quality) <= 2, (quality, found)
    never = [photo(410 + n, (800, 600)) for n in range(3)]
    never += [wallpaper(n) for n in range(4)] + [drawing((20, 20, 20), (230, 40, 40))]
    never += [gradient_design((1600, 1200), (30 * n, 30 * n + 100), 0.3) for n in range(3)]
    assert [traced_quality(np.asarray(im)) for im in never] == [None] * len(never)
    assert traced_quality(np.asarray(photo(420, (800, 600)).convert("L"))) is None
    assert traced_quality(jpeg_pixels(photo(421, (800, 600)).convert("L"), 80)) == 80  # a gray JPEG too


def test_a_large_png_converted_from_a_jpeg_is_found_from_its_centre(tmp_path: Path) -> None:  # 2200 > 2048
    """Only the centre of a large picture is searched (bounded memory), on JPEG's grid."""
    from mediadup.fingerprint.decode import decode

    big = photo(422, (800, 600)).resize((2200, 1650))
    png = save(Image.fromarray(jpeg_pixels(big, 85)), tmp_path / "big.png")
    assert decode(str(png)).jpeg_quality == 85
    assert decode(str(save(big, tmp_path / "never.png"))).jpeg_quality is None


def test_a_lossless_file_converted_from_a_jpeg_is_no_better_than_the_jpeg(tmp_path: Path) -> None:
    """No EXIF anywhere, so the pixels tell: the JPEG a PNG was converted from is kept (before, the
    PNG was, as "lossless"); a PNG of the picture itself (never a JPEG) is kept over a JPEG of it;
    and a converted PNG still beats a JPEG worse than the one it came from."""
    lib = tmp_path / "lib"
    original = save(photo(430, (800, 600)), lib / "a" / "original.jpg", quality=90)
    save(Image.open(original), lib / "a" / "converted.png")
    save(photo(431, (800, 600)), lib / "b" / "master.png")
    save(photo(431, (800, 600)), lib / "b" / "export.jpg", quality=90)
    save(Image.fromarray(jpeg_pixels(photo(432, (800, 600)), 92)), lib / "c" / "from q92.png")
    save(Image.open(lib / "c" / "from q92.png"), lib / "c" / "worse.jpg", quality=70)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    kept = {Path(g.keeper.path).parent.name: (Path(g.keeper.path).name, g.reason) for g in result.groups}
    assert kept["a"] == ("original.jpg", "the JPEG, not a lossless file converted from it")
    assert kept["b"] == ("master.png", "lossless (PNG)")
    assert kept["c"] == ("from q92.png", "higher JPEG quality (q92, kept as PNG)")
    from mediadup import plan

    removed = {Path(a.path).name for a in plan(str(tmp_path / "c.sqlite"), keep="format").removals}
    assert "original.jpg" not in removed and "converted.png" in removed  # "format" ranks it as the JPEG it was


def sky(seed: int, size=(1200, 900)) -> Image.Image:
    """A smooth photo: a sky blending two colours over a darker ground, a few small silhouettes
    in it (birds, planes), sensor noise. Edges cover less than a tenth of it."""
    rng = np.random.default_rng(seed)
    w, h = size
    t = np.linspace(0, 1, h)[:, None, None]
    px = np.broadcast_to(rng.uniform(60, 200, 3) * (1 - t) + rng.uniform(150, 250, 3) * t, (h, w, 3)).copy()
    horizon = int(h * rng.uniform(0.6, 0.85))
    px[horizon:] = rng.uniform(20, 90, 3) + rng.normal(0, 3, (h - horizon, w, 3))
    im = Image.fromarray(px.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(rng.integers(1, 4)):
        cx, cy, r = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.55) * h, rng.uniform(0.02, 0.06) * w
        ink = tuple(int(v) for v in rng.uniform(0, 80, 3))
        draw.ellipse((cx - r, cy - r / 3, cx + r, cy + r / 3), fill=ink)
        draw.polygon([(cx - r / 3, cy), (cx, cy - r), (cx + r / 3, cy)], fill=ink)
    noisy = np.asarray(im, np.float32) + rng.normal(0, 2, (h, w, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


def test_smooth_photos_and_their_copies_are_sure_duplicates(tmp_path: Path) -> None:
    """Skies have little detail, and a rule against flat drawings must not take their copies (a
    brighter, a more contrasted, a cropped one) for look-alikes: they stay sure duplicates."""
    from PIL import ImageEnhance

    from mediadup.match.compare import LEVELS, compare

    copies = {
        "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.12),
        "contrast": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
        "crop": lambda im: im.crop((im.width // 20, im.height // 20, im.width * 19 // 20, im.height * 19 // 20)),
        "half": lambda im: im.resize((im.width // 2, im.height // 2)),
    }
    unsure = []
    for seed in range(4):
        original = sky(seed, (900, 675))
        a = fingerprinted(original, tmp_path / f"{seed}.png")
        for kind, make in copies.items():
            m = compare(a, fingerprinted(make(original), tmp_path / f"{seed} {kind}.jpg"), LEVELS["normal"])
            if m is None or not m.relation.removable:
                unsure.append((seed, kind, m))
    assert unsure == []


def cells_of_light(seed: int, hues: np.ndarray) -> Image.Image:
    """Colour cells, blended: the same light and dark for a seed, the colours from `hues` (8 x 8)."""
    light = np.random.default_rng(seed).integers(20, 236, (8, 8))
    hsv = np.stack([hues, np.full((8, 8), 170), light], axis=-1).astype(np.uint8)
    rgb = np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"), dtype=np.float32)
    gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    rgb = (rgb * (light / np.maximum(gray, 1))[..., None]).clip(0, 255)  # every cell at its light, whatever its hue
    return Image.fromarray(rgb.astype(np.uint8)).resize((64, 64), Image.Resampling.BICUBIC)


def test_pictures_alike_in_light_but_not_in_colour_place_by_place_are_different(tmp_path: Path) -> None:
    """Two colour fields with the same light and dark everywhere and the same palette, each
    colour in other places: the luminance cannot tell them apart, the colours place by place can.
    (Before, such pairs were sure duplicates: the library benchmark's smooth pictures had two.)
    A copy with a sticker over a tenth of it still is a copy."""
    from mediadup.match.compare import LEVELS, compare

    sure = []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        hues = rng.integers(0, 256, (8, 8))
        a = fingerprinted(cells_of_light(seed, hues), tmp_path / f"{seed}a.png")
        b = fingerprinted(cells_of_light(seed, rng.permutation(hues.ravel()).reshape(8, 8)), tmp_path / f"{seed}b.png")
        for level in LEVELS.values():
            if (m := compare(a, b, level)) and m.relation.removable:
                sure.append((seed, level.name, m.evidence))
    assert sure == []
    original = photo(440, (800, 600))
    stickered = original.copy()
    ImageDraw.Draw(stickered).ellipse((500, 80, 700, 280), fill=(250, 210, 40))
    o, s = fingerprinted(original, tmp_path / "o.jpg"), fingerprinted(stickered, tmp_path / "s.jpg")
    m = compare(o, s, LEVELS["normal"])
    assert m is not None and m.relation.removable


def test_a_frame_as_light_as_the_picture_but_of_another_colour_is_not_content(tmp_path: Path) -> None:
    """A frame whose colour has the grey level of the picture's edges shows no step in luminance,
    only in colour: it is peeled all the same, so the framed copy joins its original, which stays
    the keeper (before, the frame counted as picture and the original was "a crop" of it)."""
    from PIL import ImageOps

    lib = tmp_path / "lib"
    for n in range(3):
        original = photo(450 + n, (800, 600))
        edge = np.asarray(original.convert("L"))[:8].mean()  # the grey level along its top edge
        hue = ((0, 200, 255), (255, 0, 200), (0, 255, 80))[n]
        rgb = np.asarray(Image.new("HSV", (1, 1), (hue[0], hue[1], hue[2])).convert("RGB"), np.float32)[0, 0]
        rgb = (rgb * edge / max(float(rgb @ np.array([0.299, 0.587, 0.114])), 1)).clip(0, 255)
        save(original, lib / f"p{n}" / "original.jpg", quality=92)
        framed = ImageOps.expand(original, border=60, fill=tuple(int(v) for v in rgb))
        save(framed, lib / f"p{n}" / "framed.jpg", quality=90)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [["framed.jpg", "original.jpg"]] * 3, groups
    assert all(Path(g.keeper.path).name == "original.jpg" for g in result.groups), [g.reason for g in result.groups]


def in_a_viewer(im: Image.Image, scale: float, name: str) -> Image.Image:
    """A screenshot of a desktop photo viewer: a menu bar, the picture on a dark canvas, a side
    panel of details, a status line."""
    shown = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    out = Image.new("RGB", (shown.width + 300, shown.height + 120), (40, 42, 48))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, out.width, 36), fill=(225, 225, 228))
    for n, word in enumerate(("File", "Edit", "View", "Image", "Help")):
        draw.text((12 + 70 * n, 12), word, fill=(30, 30, 30))
    draw.rectangle((shown.width + 40, 60, out.width - 10, out.height - 30), fill=(55, 58, 66))
    for n in range(8):
        draw.text((shown.width + 52, 72 + 22 * n), f"Exposure {n}: 1/{125 * (n + 1)} s", fill=(200, 200, 200))
    out.paste(shown, (20, 60))
    draw.text((20, out.height - 24), f"{name}  {im.width} x {im.height}", fill=(180, 180, 180))
    return out


def in_a_phone_app(im: Image.Image, name: str) -> Image.Image:
    """A phone screenshot of a social app: status bar, title, the picture across the screen, a
    caption and a row of buttons under it."""
    width = 720
    shown = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    out = Image.new("RGB", (width, shown.height + 420), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, width, 48), fill=(0, 0, 0))
    draw.text((20, 16), "9:41", fill=(255, 255, 255))
    draw.text((24, 70), f"@friend shared {name}", fill=(20, 20, 20), font=ImageFont.load_default(28))
    out.paste(shown, (0, 130))
    y = 130 + shown.height + 20
    for n in range(4):
        draw.ellipse((24 + 80 * n, y, 64 + 80 * n, y + 40), outline=(40, 40, 40), width=4)
    draw.text((24, y + 70), "What a view! #holiday #nofilter", fill=(20, 20, 20), font=ImageFont.load_default(26))
    return out


def test_screenshots_of_a_photo_join_it_and_the_photo_is_kept(tmp_path: Path) -> None:
    """A photo shown in a viewer's window (whole and at 70 %) and in a phone app: the window
    chrome is not content, so each screenshot is a copy of the photo, which is kept; two
    screenshots of other photos in the same window are not copies of each other."""
    lib = tmp_path / "lib"
    for n in range(2):
        im = photo(900 + n, (1280, 960))
        save(im, lib / f"IMG_{n}.jpg", quality=92)
        small = im.resize((640, 480), Image.Resampling.LANCZOS)  # as a screen shows it
        save(in_a_viewer(small, 1.0, f"IMG_{n}.jpg"), lib / "screens" / f"Screenshot {n}.png")
        save(in_a_viewer(small, 0.7, f"IMG_{n}.jpg"), lib / "screens" / f"Screenshot {n} small.jpg", quality=85)
        save(in_a_phone_app(small, f"IMG_{n}"), lib / "screens" / f"phone {n}.png")
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(result.groups, key=lambda g: g.keeper.path)
    assert [Path(g.keeper.path).name for g in groups] == ["IMG_0.jpg", "IMG_1.jpg"], [
        [(Path(m.path).name, m.relation.value) for m in g.members] for g in result.groups
    ]
    for n, g in enumerate(groups):
        names = {Path(m.path).name: m for m in g.duplicates}
        assert names.keys() == {f"Screenshot {n}.png", f"Screenshot {n} small.jpg", f"phone {n}.png"}, names.keys()
        assert g.reason.startswith("highest resolution"), g.reason
        assert all(m.relation.removable for m in names.values())


def test_the_picture_inside_window_chrome_is_found_and_a_plain_background_is_no_chrome() -> None:
    from mediadup.fingerprint.inner import inner_box

    def gray(im: Image.Image) -> np.ndarray:
        im = im.convert("L")
        scale = 512 / max(im.size)  # the working copy fingerprints are made from
        return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BOX))

    shot = in_a_viewer(photo(910, (640, 480)), 1.0, "IMG.jpg")  # the picture at (20, 60)-(660, 540) of 940 x 600
    box = inner_box(gray(shot))
    assert box is not None and np.allclose(box, (20 / 940, 60 / 600, 660 / 940, 540 / 600), atol=0.015), box
    assert inner_box(gray(photo(911, (640, 480)))) is None
    clip_art = Image.new("RGB", (640, 480), (255, 255, 255))  # an object photographed on white
    subject = Image.new("L", (300, 260), 0)
    ImageDraw.Draw(subject).ellipse((0, 0, 300, 260), fill=255)
    clip_art.paste(photo(912, (300, 260)), (170, 110), mask=subject)
    shadow = Image.new("L", (640, 480), 0)
    ImageDraw.Draw(shadow).ellipse((150, 375, 490, 425), fill=60)
    clip_art.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(12)))  # its soft shadow
    assert inner_box(gray(clip_art)) is None
    ImageDraw.Draw(clip_art).text((20, 20), "ACME cameras", fill=(20, 20, 120), font=ImageFont.load_default(30))
    assert inner_box(gray(clip_art)) is None  # a logo beside the subject: marks, but no window around it
    sky = photo(913, (640, 480))
    sky.paste(Image.linear_gradient("L").resize((640, 240)).convert("RGB"), (0, 0))  # a smooth, cloudless sky
    assert inner_box(gray(sky)) is None


def test_the_camera_original_is_kept_over_graded_framed_and_captioned_copies(tmp_path: Path) -> None:
    """An original of one dominant hue (a sunset) has fewer hues than its teal-and-orange graded
    copy, and a thin frame or a caption band adds pixels around the picture: none of these makes
    a copy better than the camera's own file."""
    from PIL import ImageOps

    lib = tmp_path / "lib"
    for n in range(2):
        gray = photo(930 + n, (800, 600)).convert("L")
        sunset = ImageOps.colorize(gray, black=(40, 12, 0), white=(255, 214, 140))  # one warm hue
        save(sunset, lib / f"IMG_{n}.jpg", quality=92, exif=camera_exif(taken=f"2021:05:0{n + 1} 19:00:00"))
        px = np.asarray(sunset, dtype=np.float32)
        shadow = 1 - px.mean(axis=2, keepdims=True) / 255
        graded = px * (1 - 0.45 * shadow) + np.array([0, 140, 150], np.float32) * 0.45 * shadow
        save(Image.fromarray(graded.clip(0, 255).astype(np.uint8)), lib / "edits" / f"graded {n}.jpg", quality=90)
        framed = Image.new("RGB", (800 + 2 * 22, 600 + 2 * 22), (250, 250, 250))
        framed.paste(sunset, (22, 22))
        save(framed, lib / "edits" / f"framed {n}.jpg", quality=90)
        save(captioned(sunset, (255, 255, 255), "golden hour"), lib / "edits" / f"caption {n}.jpg", quality=90)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"))
    kept = sorted(Path(g.keeper.path).name for g in result.groups)
    assert kept == ["IMG_0.jpg", "IMG_1.jpg"], [(Path(g.keeper.path).name, g.reason) for g in result.groups]
    assert all(len(g.duplicates) == 3 for g in result.groups)
