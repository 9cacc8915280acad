"""Make videos: footage panning over pictures, and transformed copies of a video.

Used to test and measure video matching on media that is made on the spot (tests, benchmarks,
calibration on the user's own pictures). Everything goes through PyAV; no ffmpeg program is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
from PIL import Image

from ..fingerprint.video import _av

FrameFn = Callable[[Image.Image], Image.Image]
CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4"}


def _writer(path: str, size: tuple[int, int], fps: float, codec: str | None, bitrate: int | None, gop: int | None,
            rotation: int = 0):  # fmt: skip
    av = _av()
    container = av.open(path, "w")
    ext = path[path.rfind(".") :].lower()
    stream = container.add_stream(codec or CODECS.get(ext, "libx264"), rate=Fraction(fps).limit_denominator(1001))
    stream.width, stream.height = size[0] - size[0] % 2, size[1] - size[1] % 2
    stream.pix_fmt = "yuv420p"
    if bitrate:
        stream.bit_rate = bitrate
    if gop:
        stream.codec_context.gop_size = gop
    if rotation:
        stream.set_display_rotation(rotation)
    if stream.codec_context.name == "libx264":
        stream.codec_context.options = {"preset": "veryfast"}
    elif "vpx" in stream.codec_context.name:
        stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
    return av, container, stream


class _Sink:
    """Frames in, an encoded file out."""

    def __init__(self, path, size, fps, codec=None, bitrate=None, gop=None, rotation=0):
        self.av, self.container, self.stream = _writer(path, size, fps, codec, bitrate, gop, rotation)
        self.size = (self.stream.width, self.stream.height)

    def add(self, image: Image.Image) -> None:
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.BILINEAR)
        frame = self.av.VideoFrame.from_image(image.convert("RGB"))
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def pan(
    picture: Image.Image, size: tuple[int, int], frames: int, zoom: float = 1.25, motion: float = 0.4, seed: int = 0
):
    """Frames of a camera slowly panning and zooming across a picture (Ken Burns); `motion` is
    how far it travels, as a fraction of the room it has."""
    rng = np.random.default_rng(seed)
    w, h = picture.size
    aspect = size[0] / size[1]
    cw = min(w, h * aspect) / zoom
    ch = cw / aspect
    x0, y0 = rng.uniform(0, 1, 2)
    x1, y1 = np.clip(np.array([x0, y0]) + rng.uniform(-motion, motion, 2), 0, 1)
    z0, z1 = rng.uniform(1.0, 1.15, 2)
    for n in range(frames):
        f = n / max(1, frames - 1)
        z = z0 + (z1 - z0) * f
        bw, bh = cw / z, ch / z
        left = (x0 + (x1 - x0) * f) * (w - bw)
        top = (y0 + (y1 - y0) * f) * (h - bh)
        yield picture.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + bw, top + bh))


def render(
    path: str,
    pictures: Sequence[Image.Image],
    size: tuple[int, int] = (320, 180),
    fps: float = 25,
    seconds: float | Sequence[float] = 2.0,
    codec: str | None = None,
    bitrate: int | None = None,
    gop: int | None = None,
    seed: int = 0,
) -> None:
    """A video of scenes, one per picture, each a pan over it lasting `seconds`."""
    sink = _Sink(path, size, fps, codec, bitrate, gop)
    lengths = [seconds] * len(pictures) if isinstance(seconds, (int, float)) else list(seconds)
    for n, (picture, s) in enumerate(zip(pictures, lengths)):
        for frame in pan(picture, sink.size, max(1, round(s * fps)), seed=seed * 1000 + n):
            sink.add(frame)
    sink.close()


def frames(path: str) -> tuple[list[Image.Image], float]:
    """Every frame of a video as a picture, and its frame rate."""
    av = _av()
    with av.open(path) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        return [f.to_image() for f in container.decode(stream)], rate


def transcode(
    source: str | Sequence[str],
    path: str,
    *,
    scale: float = 1.0,
    fps: float | None = None,
    start: float = 0.0,
    end: float = 1.0,
    frame_fn: FrameFn | None = None,
    codec: str | None = None,
    bitrate: int | None = None,
    gop: int | None = None,
    rotation: int = 0,
    speed: float = 1.0,
) -> None:
    """A copy of one video (or of several, one after the other): re-encoded, rescaled, at
    another frame rate, played `speed` times as fast, keeping only the part from `start` to
    `end` (fractions of each source's length), each frame passed through `frame_fn`. `rotation`
    (degrees counter-clockwise) stores the frames turned the other way with rotation metadata,
    as phones do: it plays upright."""
    if rotation:
        turn = frame_fn or (lambda im: im)
        frame_fn = lambda im: turn(im).rotate(-rotation, expand=True)  # noqa: E731
    sources = [source] if isinstance(source, str) else list(source)
    sink = None
    for src in sources:
        images, rate = frames(src)
        images = images[int(start * len(images)) : round(end * len(images))]
        out_fps = fps or rate
        if sink is None:
            w, h = (frame_fn(images[0]) if frame_fn else images[0]).size
            size = (max(16, round(w * scale)), max(16, round(h * scale)))
            sink = _Sink(path, size, out_fps, codec, bitrate, gop, rotation)
        for k in range(int(len(images) * out_fps / rate / speed)):
            image = images[min(len(images) - 1, int(k * speed * rate / out_fps))]
            sink.add(frame_fn(image) if frame_fn else image)
    if sink is not None:
        sink.close()


def reencode(
    source: str,
    path: str,
    *,
    scale: float = 1.0,
    start: float = 0.0,
    end: float = 1.0,
    frame_fn: FrameFn | None = None,
    bitrate: int | None = None,
) -> None:
    """A copy of one video made frame by frame, so a long one is never held in memory: rescaled,
    keeping the part from `start` to `end` (fractions of its duration), each frame passed through
    `frame_fn`, with the source's rotation metadata."""
    av = _av()
    with av.open(source) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
        first = float(stream.start_time * stream.time_base) if stream.start_time else 0.0  # MPEG-TS starts late
        sink = None
        for frame in container.decode(stream):
            t = (frame.time if frame.time is not None else first) - first
            if t < start * duration:
                continue
            if duration and t > end * duration:
                break
            image = frame_fn(frame.to_image()) if frame_fn else frame.to_image()
            if sink is None:
                size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                sink = _Sink(path, size, rate, None, bitrate, None, rotation)
            sink.add(image)
    if sink is not None:
        sink.close()
