"""Open an image for fingerprinting: decode only as much as needed, upright, as 8-bit RGB."""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ..find.discover import RAW_EXTENSIONS
from .jpeg_trace import STANDARD_LUMA, traced_quality

WORK_SIZE = 512  # longest side of the working copy every fingerprint is computed from
DRAFT_SIZE = 256  # JPEGs are DCT-downscaled on load to no less than this on the short side
DEFAULT_MAX_PIXELS = 300_000_000
TRACE_SIDE = 2048  # pixels per side of the centre of a lossless picture searched for a JPEG's trace
LOSSLESS = frozenset({"PNG", "TIFF", "BMP", "DIB", "PPM", "TGA", "QOI", "RAW"})  # formats that lose nothing


def converted_from_jpeg(fmt: str, jpeg_quality: int | None) -> bool:
    """A file of a lossless format whose pixels were decoded from a JPEG (its trace found, so it
    carries that JPEG's quality): no better than the JPEG."""
    return fmt.upper() in LOSSLESS and bool(jpeg_quality)


Image.MAX_IMAGE_PIXELS = None  # mediadup checks the header size itself, with its own message
ImageFile.LOAD_TRUNCATED_IMAGES = False

_STD_LUMA_Q50 = float(STANDARD_LUMA.sum())
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_RESIZABLE = frozenset({"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr"})  # modes Pillow resamples directly
_heif_registered = False


def register_plugins() -> None:
    """Make HEIC/HEIF readable through pillow-heif (AVIF is native in Pillow)."""
    global _heif_registered
    if not _heif_registered:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a dependency
            pass
        _heif_registered = True


class DecodeError(Exception):
    """An image that cannot be used; the message is the reason shown to the user. `lasting`:
    the content itself is bad, so the verdict holds until the file changes (else: try again)."""

    def __init__(self, reason: str, lasting: bool = True):
        super().__init__(reason)
        self.lasting = lasting


@dataclass
class Decoded:
    image: Image.Image  # upright 8-bit RGB, longest side at most WORK_SIZE
    width: int  # upright size of the full image
    height: int
    format: str
    mode: str
    bit_depth: int
    jpeg_quality: int | None  # of a JPEG; of a lossless file, the JPEG it was decoded from (else None)
    exif_date: str | None
    camera: str | None
    captured: str | None = None  # EXIF DateTimeOriginal only: the moment of the shot


def jpeg_quality(im: Image.Image) -> int | None:
    """Estimate the libjpeg quality setting from the luminance quantization table."""
    tables = getattr(im, "quantization", None)
    if not tables or 0 not in tables:
        return None
    scale = 100.0 * sum(tables[0]) / _STD_LUMA_Q50
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return round(min(100, max(1, quality)))


def _exif(im: Image.Image) -> tuple[int, str | None, str | None, str | None]:
    """Orientation, a date (of the shot, else of the file), the camera, and the date of the shot."""
    try:
        exif = im.getexif()
        sub = exif.get_ifd(0x8769)
    except Exception:  # malformed EXIF is common and never fatal
        return 1, None, None, None
    date = sub.get(36867) or exif.get(306)
    make, model = exif.get(271), exif.get(272)
    camera = " ".join(str(x).strip("\x00 ") for x in (make, model) if x) or None
    orientation = exif.get(274, 1)
    original = sub.get(36867)
    return (
        orientation if isinstance(orientation, int) else 1,
        str(date).strip("\x00 ") if date else None,
        camera,
        str(original).strip("\x00 ") if original else None,
    )


def _to_rgb(im: Image.Image) -> Image.Image:
    """Flatten alpha onto white and bring any mode (16-bit, float, CMYK, palette) to 8-bit RGB."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float32)
        top = float(a.max()) or 1.0
        scale = 255.0 / (65535.0 if im.mode.startswith("I;16") or top > 255 else max(top, 255.0))
        im = Image.fromarray((a * scale).clip(0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def _open_raw(path: str) -> Image.Image:
    try:
        import rawpy
    except ImportError as e:
        raise DecodeError("camera RAW file: install mediadup[raw] to read it", lasting=False) from e
    try:
        with rawpy.imread(path) as raw:
            try:
                thumb = raw.extract_thumb()
            except Exception:
                return Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True))
            if thumb.format == rawpy.ThumbFormat.JPEG:
                return Image.open(io.BytesIO(thumb.data))
            return Image.fromarray(thumb.data)
    except DecodeError:
        raise
    except Exception as e:
        raise DecodeError(f"unreadable RAW file ({e})") from e


def decode(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Decode an image as little as needed; raise DecodeError with a user-facing reason."""
    register_plugins()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _decode(path, max_pixels)
    except DecodeError:
        raise
    except UnidentifiedImageError as e:
        raise DecodeError("not a readable image (unknown format or wrong extension)") from e
    except FileNotFoundError as e:
        raise DecodeError("file vanished during the scan", lasting=False) from e
    except PermissionError as e:
        raise DecodeError("permission denied", lasting=False) from e
    except MemoryError as e:
        raise DecodeError("image too large to decode in memory", lasting=False) from e
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, RuntimeError) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg or isinstance(e, EOFError):
            raise DecodeError("truncated image data") from e
        raise DecodeError(f"corrupt image data ({msg})") from e


def too_large(width: int, height: int, max_pixels: int) -> str | None:
    return (
        f"too large: {width}x{height} pixels is over the limit of {max_pixels:,}"
        if width * height > max_pixels
        else None
    )


def _decode(path: str, max_pixels: int) -> Decoded:
    ext = os.path.splitext(path)[1][1:].lower()
    im = _open_raw(path) if ext in RAW_EXTENSIONS else Image.open(path)
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise DecodeError("image has no pixels")
        if reason := too_large(width, height, max_pixels):
            raise DecodeError(reason, lasting=False)
        fmt, mode = im.format or "RAW", im.mode
        quality = jpeg_quality(im) if fmt in ("JPEG", "MPO") else None
        orientation, date, camera, captured = _exif(im)
        if fmt in ("JPEG", "MPO"):
            im.draft("RGB" if mode == "YCbCr" or mode == "RGB" else None, (DRAFT_SIZE, DRAFT_SIZE))
        im.load()  # the first frame of an animation
        if fmt in LOSSLESS and mode in ("RGB", "L"):  # a JPEG once? (full pixels on JPEG's grid, at the centre)
            x0, y0 = (max(0, (side - TRACE_SIDE) // 2) // 8 * 8 for side in im.size)
            centre = (x0, y0, min(width, x0 + TRACE_SIDE), min(height, y0 + TRACE_SIDE))
            quality = traced_quality(np.asarray(im if centre == (0, 0, *im.size) else im.crop(centre)))
        work = im
        if max(work.size) > WORK_SIZE and work.mode in _RESIZABLE:  # shrink first: convert fewer pixels
            work = work.copy()
            work.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        work = _to_rgb(work)
        if max(work.size) > WORK_SIZE:
            work = work.copy() if work is im else work
            work.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        if orientation in _TRANSPOSE:
            work = work.transpose(_TRANSPOSE[orientation])
            if orientation >= 5:
                width, height = height, width
        bit_depth = 16 if mode.startswith("I;16") or mode in ("I", "RGB;16", "RGBA;16") else 8
        return Decoded(work, width, height, fmt, mode, bit_depth, quality, date, camera, captured)
