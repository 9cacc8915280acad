"""What the review page shows of a file: thumbnails, the picture at full resolution in a form any
browser shows, and a strip of a video's frames. Made on demand from the files, and cached."""

from __future__ import annotations

import io
import os
from functools import lru_cache

from PIL import Image

from ..fingerprint.decode import DecodeError, decode
from ..fingerprint.video import poster

THUMBNAIL = 256  # longest side, pixels
STRIP_FRAMES = 6
STRIP_HEIGHT = 90
BROWSER_FORMATS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
                   ".webp": "image/webp", ".bmp": "image/bmp", ".avif": "image/avif"}  # fmt: skip
VIDEO_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm",
               ".ogv": "video/ogg", ".mkv": "video/webm"}  # fmt: skip


def _jpeg(image: Image.Image, quality: int = 82) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _picture(path: str, is_video: bool) -> Image.Image:
    return poster(path) if is_video else decode(path).image


@lru_cache(maxsize=4096)  # ~15 KB each: at most ~60 MB
def thumbnail(path: str, size: int, mtime_ns: int, is_video: bool) -> bytes | None:
    """A JPEG thumbnail (a video's middle frame); None when the file cannot be shown now.
    (`size` and `mtime_ns` key the cache: a changed file gets a new thumbnail.)"""
    try:
        image = _picture(path, is_video)
    except (DecodeError, OSError):
        return None
    image.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
    return _jpeg(image, 78)


def browser_type(path: str) -> str | None:
    """The media type a browser shows as it is, or None when the picture must be converted (HEIC, TIFF, RAW)."""
    return BROWSER_FORMATS.get(os.path.splitext(path)[1].lower())


def video_type(path: str) -> str | None:
    return VIDEO_TYPES.get(os.path.splitext(path)[1].lower())


@lru_cache(maxsize=16)
def converted(path: str, size: int, mtime_ns: int) -> bytes | None:
    """A picture no browser shows as it is (HEIC, TIFF, RAW), upright, as a high-quality JPEG."""
    try:
        return _jpeg(decode(path).image, 92)
    except (DecodeError, OSError):
        return None


@lru_cache(maxsize=256)
def strip(path: str, size: int, mtime_ns: int) -> bytes | None:
    """A strip of a video's frames spread over its length, side by side, as a JPEG."""
    frames = []
    for n in range(STRIP_FRAMES):
        try:
            frame = poster(path, (n + 0.5) / STRIP_FRAMES)
        except DecodeError:
            continue
        frame.thumbnail((STRIP_HEIGHT * 4, STRIP_HEIGHT), Image.Resampling.LANCZOS)
        frames.append(frame)
    if not frames:
        return None
    out = Image.new("RGB", (sum(f.width for f in frames) + 4 * (len(frames) - 1), STRIP_HEIGHT), "white")
    x = 0
    for f in frames:
        out.paste(f, (x, (STRIP_HEIGHT - f.height) // 2))
        x += f.width + 4
    return _jpeg(out)
