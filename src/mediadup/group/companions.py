"""Live Photos and similar companions: a still photo and the short motion clip taken with it.

A photo (HEIC/HEIF/JPEG) and a short clip (MOV/MP4) are one item when they share their folder and
base name (IMG_0001.HEIC + IMG_0001.MOV), or when the clip's QuickTime content identifier appears
in the photo's Apple maker note (a renamed pair). The clip then follows its photo: it is not matched
on its own, it stays with a kept photo and goes with a removed one.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable

import av
from PIL import Image

from ..fingerprint.decode import register_plugins
from ..records import FileStat

PHOTO_EXTENSIONS = frozenset({".heic", ".heif", ".jpg", ".jpeg"})
MOTION_EXTENSIONS = frozenset({".mov", ".mp4"})
MAX_MOTION_SECONDS = 6.0  # a Live Photo's clip is ~3 s; a longer one with the same name is a video of its own
CONTENT_ID_KEY = "com.apple.quicktime.content.identifier"
MAKER_NOTE = 0x927C
EXIF_IFD = 0x8769
_UUID = re.compile(rb"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def find_companions(files: Iterable[FileStat], durations: dict[str, float]) -> dict[str, str]:
    """photo path -> its motion clip's path. `durations` holds the clips' lengths when known
    (a clip of unknown length is not paired: it could not be fingerprinted as a video)."""
    by_folder: dict[str, list[FileStat]] = defaultdict(list)
    for f in files:
        by_folder[os.path.dirname(f.path)].append(f)
    pairs: dict[str, str] = {}
    for members in by_folder.values():
        clips = [
            f.path
            for f in members
            if durations.get(f.path, 1e9) <= MAX_MOTION_SECONDS and _ext(f.path) in MOTION_EXTENSIONS
        ]
        photos = [f.path for f in members if _ext(f.path) in PHOTO_EXTENSIONS] if clips else []
        if not photos:
            continue
        by_stem = defaultdict(list)
        for p in photos:
            by_stem[_stem(p)].append(p)
        unpaired = []
        for clip in sorted(clips):
            named = sorted(p for p in by_stem.get(_stem(clip), []) if p not in pairs)
            if named:
                pairs[named[0]] = clip
            else:
                unpaired.append(clip)
        for clip in unpaired:  # renamed: the identifier both halves carry
            ident = clip_identifier(clip)
            if ident:
                match = next((p for p in sorted(photos) if p not in pairs and ident in photo_identifiers(p)), None)
                if match:
                    pairs[match] = clip
    return pairs


def clip_identifier(path: str) -> str | None:
    """The QuickTime content identifier of a clip, upper case, or None."""
    try:
        with av.open(path) as container:
            value = container.metadata.get(CONTENT_ID_KEY)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None
    return value.strip().upper() if value else None


def photo_identifiers(path: str) -> set[str]:
    """Identifiers (UUIDs) in a photo's maker note, upper case: Apple's holds the content identifier."""
    register_plugins()  # HEIC
    try:
        with Image.open(path) as im:
            note = im.getexif().get_ifd(EXIF_IFD).get(MAKER_NOTE)
    except (OSError, ValueError, SyntaxError):
        return set()
    if isinstance(note, str):
        note = note.encode("latin-1", "replace")
    return {m.decode().upper() for m in _UUID.findall(note)} if isinstance(note, bytes) else set()


def _ext(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0].lower()
