"""Video fingerprints: container metadata, and hashes of frames sampled on a time grid.

Frames are picked so that few are decoded: a key frame near a grid time is decoded on its own
(nothing before it is needed); other grid times cost the frames from their key frame on, within
a budget that is a small fraction of the video. So the cost grows with the duration sampled,
not with the frame count. Every sampled frame is turned upright (rotation metadata), cut to the
video's content (black letterbox/pillarbox bars removed) and hashed like an image; near-uniform
frames (black, fades, plain title cards) are left out.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from ..records import VideoInfo
from . import phash
from .decode import DEFAULT_MAX_PIXELS, DecodeError
from .image import HUE_BINS, content_box, hue_histogram

VERSION = 7  # bump when anything below changes what is stored
FRAME_SIDE = 160  # frames are scaled so that their longer side has this many pixels
THUMB = 32  # luminance thumbnail per frame, compared when verifying
STEP = 0.5  # seconds between sampled frames...
MAX_SAMPLES = 40  # ...unless the video is long: then this many, evenly spread (relations need >= 30 % of it)
FORWARD_BUDGET = 0.05  # fraction of a video's frames that may be decoded to reach non-key frames...
MIN_FORWARD = 50e6  # ...or this many pixels' worth of frames, if more (short clips are decoded densely)
SHORT_CLIP = 15.0  # seconds: a clip this short may decode up to SHORT_FORWARD pixels' worth of frames...
SHORT_FORWARD = 600e6  # ...(a 10-s 1080p clip whole, 2.4 s of 4K) to reach its whole time grid
# codecs whose "non-reference" frames no other frame refers to (HEVC's sub-layer non-reference
# pictures may be referred to by higher temporal layers, as phones write them: not skipped)
NONREF_CODECS = frozenset({"h264", "mpeg4", "mpeg2video", "mpeg1video"})
POSTER_FRAMES = 300  # frames decoded at most to reach the middle of a video for its picture
MIN_FRAME_STD = 6.0  # luminance spread below which a frame is near-uniform (black, fade, plain card)
# hash columns per frame: the 8 dihedral pHashes of the content, then pHashes of these windows
# (fractions of the content), whose hash matches the whole frame of a cropped copy
WINDOWS = ((0.075, 0.075, 0.925, 0.925), (0.125, 0.125, 0.875, 0.875), (0, 0, 0.85, 0.85),
           (0.15, 0, 1, 0.85), (0, 0.15, 0.85, 1), (0.15, 0.15, 1, 1))  # fmt: skip
SHARED_WINDOWS = (1, 2, 3, 4, 5)  # compared window to window: each leaves out a border or a corner
N_DIHEDRAL = len(phash.DIHEDRAL)
# Bits H.264 needs for the quality one bit of each codec gives (the usual rule of thumb: HEVC and VP9
# save 40-50 % against H.264, AV1 a further 30 %; H.264 saves 40 % against MPEG-4 part 2 and half
# against MPEG-2). A bitrate is weighed by it before bitrates are compared; unknown codecs weigh 1.
CODEC_EFFICIENCY = {"av1": 2.5, "hevc": 1.8, "vp9": 1.7, "h264": 1.0, "vp8": 0.9, "mpeg4": 0.6, "msmpeg4v3": 0.6,
                    "wmv3": 0.7, "theora": 0.6, "mpeg2video": 0.5, "mpeg1video": 0.4, "mjpeg": 0.2}  # fmt: skip


@dataclass
class VideoFingerprint:
    times: np.ndarray  # (n,) float32 seconds of the sampled (non-uniform) frames
    hashes: np.ndarray  # (n, N_DIHEDRAL + len(WINDOWS)) uint64
    thumbs: np.ndarray | None  # (n, THUMB, THUMB) uint8 luminance of each frame's content; None when light
    histograms: np.ndarray | None  # (n, HUE_BINS) float32 hue histogram per frame
    info: VideoInfo
    step: float  # the sampling grid, seconds
    flat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # times of uniform frames

    @property
    def comparable(self) -> bool:
        return len(self.times) > 0

    def light(self) -> VideoFingerprint:
        """Without thumbnails and histograms: what matching needs (see ImageFingerprint.light)."""
        return VideoFingerprint(self.times, self.hashes, None, None, self.info, self.step, self.flat)

    def to_blob(self) -> tuple[bytes, bytes, bytes, bytes, str]:
        assert self.thumbs is not None and self.histograms is not None, "a light fingerprint cannot be stored"
        flat = [round(float(t), 3) for t in self.flat]
        meta = json.dumps({"info": asdict(self.info), "step": self.step, "flat": flat})
        return (
            self.times.astype(np.float32).tobytes(),
            self.hashes.astype(np.uint64).tobytes(),
            self.thumbs.astype(np.uint8).tobytes(),
            self.histograms.astype(np.float32).tobytes(),
            meta,
        )

    @classmethod
    def from_blob(
        cls, times: bytes, hashes: bytes, thumbs: bytes | None, histograms: bytes | None, meta: str
    ) -> VideoFingerprint:
        """A stored fingerprint; without thumbnails and histograms, a light one."""
        m = json.loads(meta)
        t = np.frombuffer(times, dtype=np.float32)
        return cls(
            t,
            np.frombuffer(hashes, dtype=np.uint64).reshape(len(t), -1),
            None if thumbs is None else np.frombuffer(thumbs, dtype=np.uint8).reshape(len(t), THUMB, THUMB),
            None if histograms is None else np.frombuffer(histograms, dtype=np.float32).reshape(len(t), -1),
            VideoInfo(**m["info"]),
            m["step"],
            np.array(m.get("flat", []), dtype=np.float32),
        )


def _av():
    import av  # imported here: image-only scans never load FFmpeg

    av.logging.set_level(av.logging.PANIC)  # the reason reaches the user once, as a skipped file
    return av


def fingerprint_video(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoFingerprint:
    """Probe and sample one video (raises DecodeError with the reason)."""
    av = _av()
    try:
        with av.open(path, metadata_errors="ignore") as container:
            fp = _fingerprint(container, max_pixels, path)
        fp.info.format = os.path.splitext(path)[1].lstrip(".").lower() or fp.info.format  # mp4, not "mov"
        return fp
    except DecodeError:
        raise
    except av.error.FFmpegError as e:
        raise DecodeError(f"corrupt or unsupported video ({e.strerror or type(e).__name__})") from None
    except (UnicodeDecodeError, ValueError, IndexError) as e:
        raise DecodeError(f"corrupt or unsupported video ({type(e).__name__}: {e})") from None
    except MemoryError:
        raise DecodeError("video too large to decode", lasting=False) from None


def _fingerprint(container, max_pixels: int, path: str) -> VideoFingerprint:
    if not container.streams.video:
        kind = "audio only" if container.streams.audio else "no streams"
        raise DecodeError(f"no video stream ({kind})")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or not getattr(ctx.codec, "name", None):
        raise DecodeError("unsupported video codec (FFmpeg has no decoder for it)")
    if ctx.width * ctx.height > max_pixels:
        raise DecodeError(f"too large ({ctx.width}x{ctx.height} frames)", lasting=False)
    if ctx.width <= 0 or ctx.height <= 0:
        raise DecodeError("video has no frame size")
    packets = _packet_index(container, stream)
    if not packets:
        raise DecodeError("video stream has no frames")
    tb = float(stream.time_base)
    times = np.array([p[0] for p in packets], dtype=np.float64) * tb
    start = float(times[0])
    duration = _duration(container, stream, times, start)
    fps = float(stream.average_rate) if stream.average_rate else (len(times) / duration if duration else 0.0)
    info = VideoInfo(
        width=ctx.width,
        height=ctx.height,
        duration=round(duration, 3),
        fps=round(fps, 3),
        codec=ctx.codec.name,
        bitrate=int(container.bit_rate or stream.bit_rate or 0),
        format=container.format.name.split(",")[0] if container.format.name else "",
        audio=bool(container.streams.audio),
    )
    step = max(STEP, duration / MAX_SAMPLES)
    with _av().open(path, metadata_errors="ignore") as again:  # read again from the start for decoding
        frames = _sample(again, again.streams.video[0], packets, tb, start, step, duration)
    if not frames:
        raise DecodeError("no frame could be decoded")
    rotation = frames[0][2]
    if rotation % 180:
        info.width, info.height = info.height, info.width
    info.rotation = rotation
    return _describe(frames, info, step)


def _packet_index(container, stream) -> list[tuple[int, bool, int]]:
    """(pts, key frame, position in decode order) of every frame packet, in presentation order,
    read without decoding anything."""
    out = []
    for n, packet in enumerate(container.demux(stream)):
        if packet.pts is not None and packet.size:
            out.append((packet.pts, packet.is_keyframe, n))
    out.sort()
    return out


def _duration(container, stream, times: np.ndarray, start: float) -> float:
    if stream.duration and stream.time_base:
        d = float(stream.duration * stream.time_base)
    elif container.duration:
        d = container.duration / 1_000_000
    else:
        d = 0.0
    last = float(times[-1] - start)
    frame = (last / (len(times) - 1)) if len(times) > 1 else 0.0
    return d if d > 0 and abs(d - (last + frame)) < max(1.0, 0.05 * d) else last + frame


def _plan(packets: list[tuple[int, bool, int]], tb: float, start: float, step: float, duration: float, budget: int):
    """Which frames to decode, as (frame pts, pts of the key frame to start from, key frame only),
    in time order. A grid time with an unused key frame up to half a step before it takes it (one
    frame decoded; not after it: encoders put key frames on scene cuts, so a later one may show
    the next scene); the others are reached by decoding forward from their key frame, round-robin over
    key frames so that the budget (in frames) covers the whole video evenly; when it runs out,
    the nearest unused key frame stands in."""
    pts = [p[0] for p in packets]
    keys = [p[0] for p in packets if p[1]] or pts[:1]
    n = max(1, round(duration / step))
    targets = [start + (k + 0.5) * duration / n for k in range(n)]
    used: set[int] = set()
    chosen: dict[int, tuple[int, int, bool]] = {}
    waiting: dict[int, list[int]] = {}  # key frame -> the frames after it still wanted, in order
    for t in targets:
        p = round(t / tb)
        k = bisect.bisect_left(keys, p)
        near = [q for q in keys[max(0, k - 1) : k + 1] if q not in used and 0 <= (p - q) * tb <= step / 2]
        if near:
            q = min(near, key=lambda q: abs(q - p))
            used.add(q)
            chosen[q] = (q, q, True)
            continue
        before = keys[max(0, bisect.bisect_right(keys, p) - 1)]
        frame = pts[min(bisect.bisect_left(pts, p), len(pts) - 1)]
        if frame not in chosen:
            waiting.setdefault(before, []).append(frame)
    reached = {key: bisect.bisect_left(pts, key) for key in waiting}  # decoded up to here, per key frame
    while waiting:
        for key in list(waiting):
            frame = waiting[key][0]
            cost = bisect.bisect_left(pts, frame) - reached[key] + 1
            if cost > budget:
                for frame in waiting.pop(key):  # out of budget: the nearest unused key frame stands in
                    k = bisect.bisect_left(keys, frame)
                    near = [q for q in keys[max(0, k - 1) : k + 1] if q not in used]
                    if near:
                        q = min(near, key=lambda q: abs(q - frame))
                        used.add(q)
                        chosen[q] = (q, q, True)
                continue
            budget -= cost
            reached[key] = bisect.bisect_left(pts, frame) + 1
            chosen.setdefault(frame, (frame, key, False))
            waiting[key].pop(0)
            if not waiting[key]:
                del waiting[key]
    return [chosen[p] for p in sorted(chosen)]


def _sample(container, stream, packets, tb: float, start: float, step: float, duration: float):
    """Decoded frames as (seconds, small RGB array, rotation), in one pass over the file without
    seeking: only the planned packets reach the decoder (a key frame alone, or the run from a key
    frame to a planned frame); every other packet is read and dropped undecoded."""
    ctx = stream.codec_context
    ctx.thread_type = "SLICE"
    ctx.options = {"skip_loop_filter": "all", "flags2": "+fast"}  # deblocking is invisible at 160 pixels
    w, h = ctx.width, ctx.height
    scale = FRAME_SIDE / max(w, h)
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    budget = max(int(FORWARD_BUDGET * len(packets)), int(MIN_FORWARD / (w * h)))
    if duration <= SHORT_CLIP:  # a phone clip has one key frame: its grid is reached only by decoding on
        budget = max(budget, min(len(packets), int(SHORT_FORWARD / (w * h))))
    order = {pts: n for pts, _, n in packets}  # pts -> position in decode order
    feed: set[int] = set()
    wanted: set[int] = set()
    for target, key, key_only in _plan(packets, tb, start, step, duration, budget):
        wanted.add(target)
        feed.update([order[key]] if key_only else range(order[key], order[target] + 1))
    out: list[tuple[float, np.ndarray, int]] = []

    def keep(frames) -> None:
        for frame in frames:
            if frame.pts in wanted:
                wanted.discard(frame.pts)  # a frame is kept once
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_ndarray()
                if rotation:
                    rgb = np.rot90(rgb, k=rotation // 90)  # counter-clockwise, as the display matrix says
                out.append((float(frame.pts * tb) - start, np.ascontiguousarray(rgb), rotation))

    last = max(feed)
    targets = {order[t] for t in wanted}
    skippable = ctx.name in NONREF_CODECS
    for n, packet in enumerate(container.demux(stream)):
        if n in feed:
            # on the way to a planned frame, frames that no other frame refers to are skipped (a
            # third to a half of H.264's): the planned frame decodes exactly as in a full decode
            ctx.skip_frame = "NONREF" if skippable and n not in targets else "DEFAULT"
            try:
                keep(ctx.decode(packet))
            except _av().error.InvalidDataError:
                continue  # a damaged packet costs its frame, not the video
        if n >= last:
            break
    keep(ctx.decode(None))
    out.sort(key=lambda f: f[0])
    return out


def _describe(frames: list[tuple[float, np.ndarray, int]], info: VideoInfo, step: float) -> VideoFingerprint:
    """Hashes, thumbnails and colours of the sampled frames, inside the video's content box."""
    lumas = [np.asarray(Image.fromarray(rgb).convert("L")) for _, rgb, _ in frames]
    h, w = lumas[0].shape
    boxes = np.array([content_box(y) for y in lumas if float(y.std()) >= MIN_FRAME_STD]).reshape(-1, 4)
    # the frames' typical content box: a dark scene that melts into the bars, or a frame in which
    # the bars are not found, must not decide for the whole video
    box = tuple(int(v) for v in np.median(boxes, axis=0)) if len(boxes) else (0, 0, w, h)
    info.content_width = round(info.width * (box[2] - box[0]) / w)
    info.content_height = round(info.height * (box[3] - box[1]) / h)
    times, hashes, thumbs, hists, chroma, flat = [], [], [], [], [], []
    for (t, rgb, _), luma in zip(frames, lumas):
        content = Image.fromarray(luma).crop(box)
        square = np.asarray(content.resize((64, 64), Image.Resampling.BOX))
        if float(square.std()) < MIN_FRAME_STD:
            flat.append(t)  # black, fade or plain card: it would match every video or none; only its time is kept
            continue
        luma32 = np.asarray(content.resize((phash.SAMPLE, phash.SAMPLE), Image.Resampling.LANCZOS))
        row = phash.dihedral_hashes(luma32) + phash.window_hashes(square, WINDOWS)
        small = Image.fromarray(rgb).crop(box).resize((THUMB, THUMB), Image.Resampling.BILINEAR)
        pixels = np.asarray(small).reshape(-1, 3).astype(np.int16)
        chroma.append(float((pixels.max(axis=1) - pixels.min(axis=1)).mean()))
        times.append(t)
        hashes.append(row)
        thumbs.append(np.asarray(small.convert("L")))
        hists.append(hue_histogram(np.asarray(small.convert("HSV")).reshape(-1, 3)))
    n_cols = N_DIHEDRAL + len(WINDOWS)
    info.chroma = round(float(np.median(chroma)), 2) if chroma else 0.0
    return VideoFingerprint(
        np.array(times, dtype=np.float32),
        np.array(hashes, dtype=np.uint64).reshape(-1, n_cols),
        np.array(thumbs, dtype=np.uint8).reshape(-1, THUMB, THUMB),
        np.array(hists, dtype=np.float32).reshape(len(times), HUE_BINS),  # (none for a blank video)
        info,
        step,
        np.array(flat, dtype=np.float32),
    )


def poster(path: str, at: float = 0.5) -> Image.Image:
    """The video's frame nearest `at` of its length (the middle), upright (raises DecodeError)."""
    av = _av()
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            middle = (container.duration or 0) * at / 1_000_000
            if middle:
                container.seek(int(middle * 1_000_000))  # to the key frame before that time
            frame = None
            for n, frame in enumerate(container.decode(stream)):
                if frame.time is None or frame.time >= middle or n >= POSTER_FRAMES:
                    break
            if frame is None:
                raise StopIteration
            image = frame.to_image()
            rotation = int(getattr(frame, "rotation", 0) or 0) % 360
            return image.rotate(rotation, expand=True) if rotation else image
    except (av.error.FFmpegError, IndexError, StopIteration, ValueError) as e:
        raise DecodeError(f"cannot show the video ({type(e).__name__})") from None


def timestamp(seconds: float) -> str:
    """mm:ss (or h:mm:ss) for showing a time range."""
    s = max(0, math.floor(seconds + 0.5))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"
