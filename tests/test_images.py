"""Pictures the way users' libraries hold them: which copy is the original, and what is content."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
    from PIL import ImageDraw, ImageFont

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
