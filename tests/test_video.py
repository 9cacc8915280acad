"""Videos made with PyAV in temporary folders: copies, trims, sub-clips, frames, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from conftest import photo
from mediadup import scan
from mediadup.fingerprint.video import _plan, fingerprint_video
from mediadup.measure.footage import frames, pan, render, transcode
from mediadup.records import Relation

SIZE = (256, 144)


def letterbox(im: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (im.width, int(im.height * 1.4)))
    canvas.paste(im, (0, (canvas.height - im.height) // 2))
    return canvas


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """An original video and its copies, a distinct video of the same pictures, and a frame."""
    root = tmp_path_factory.mktemp("videos")
    pictures = [photo(100 + n, (480, 360)) for n in range(4)]
    original = str(root / "original.mp4")
    render(original, pictures, size=SIZE, fps=15, seconds=2.0, seed=1)
    copies = root / "copies"
    copies.mkdir()
    transcode(original, str(copies / "half.mkv"), scale=0.5)
    transcode(original, str(copies / "slower.mp4"), fps=7.5, scale=0.75)
    transcode(original, str(copies / "trimmed.mp4"), start=0.125, end=0.875, scale=0.75)
    transcode(original, str(copies / "part.mp4"), start=0.25, end=0.625, scale=0.75)
    transcode(original, str(copies / "mirrored.webm"), frame_fn=ImageOps.mirror, scale=0.75)
    gray = lambda im: letterbox(ImageOps.grayscale(im).convert("RGB"))  # noqa: E731
    transcode(original, str(copies / "gray-letterboxed.mp4"), frame_fn=gray)
    transcode(original, str(copies / "phone.mov"), rotation=90, scale=0.75)
    render(str(root / "same-pictures-other-order.mp4"), pictures[::-1], size=SIZE, fps=15, seconds=2.0, seed=1)
    images, _ = frames(original)
    images[45].save(root / "frame.png")  # 3 s in: a frame someone exported
    photo(999).save(root / "unrelated.jpg")
    return root


@pytest.fixture(scope="module")
def result(library: Path, tmp_path_factory):
    return scan(library, catalog=tmp_path_factory.mktemp("cat") / "c.sqlite")


def test_copies_of_a_video_are_one_group_kept_by_the_original(library: Path, result) -> None:
    video_groups = [g for g in result.groups if g.keeper.path.endswith(".mp4")]
    assert len(video_groups) == 1, [[m.path for m in g.members] for g in result.groups]
    g = video_groups[0]
    assert g.keeper.path == str(library / "original.mp4")
    assert g.reason.startswith("longest") or g.reason.startswith("highest resolution")
    relations = {Path(m.path).name: m.relation for m in g.duplicates}
    assert relations == {
        "half.mkv": Relation.NEAR_DUPLICATE,
        "slower.mp4": Relation.NEAR_DUPLICATE,
        "gray-letterboxed.mp4": Relation.NEAR_DUPLICATE,
        "phone.mov": Relation.NEAR_DUPLICATE,
        "mirrored.webm": Relation.MIRRORED,
        "trimmed.mp4": Relation.TRIMMED,
        "part.mp4": Relation.CONTAINED,
        "frame.png": Relation.FRAME_OF,
    }
    part = next(m for m in g.duplicates if m.path.endswith("part.mp4"))
    assert part.evidence["range"] == "00:02-00:05"  # 25 %..62.5 % of 8 s
    frame = next(m for m in g.duplicates if m.path.endswith("frame.png"))
    assert frame.evidence["video"] == str(library / "original.mp4")
    assert abs(int(frame.evidence["at"][-2:]) - 3) <= 1


def test_distinct_video_of_the_same_pictures_is_not_a_duplicate(result) -> None:
    grouped = {Path(m.path).name for g in result.groups for m in g.members}
    assert "same-pictures-other-order.mp4" not in grouped
    assert "unrelated.jpg" not in grouped


def test_rotation_metadata_is_applied_and_borders_are_measured(library: Path) -> None:
    phone = fingerprint_video(str(library / "copies" / "phone.mov"))
    assert (phone.info.rotation, phone.info.width, phone.info.height) == (90, 192, 108)
    boxed = fingerprint_video(str(library / "copies" / "gray-letterboxed.mp4"))
    assert boxed.info.height == 200 and abs(boxed.info.content_height - 144) <= 4
    assert boxed.info.chroma < 2 < fingerprint_video(str(library / "original.mp4")).info.chroma


def test_subclips_are_removed_only_when_asked_and_frames_never(library: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "c.sqlite")
    scan(library, catalog=cat)

    def plan(*extra: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "mediadup", "apply", "--catalog", cat, *extra], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    default = plan()
    assert "half.mkv" in default and "trimmed.mp4" in default
    assert "part.mp4" not in default and "frame.png" not in default
    asked = plan("--include-subclips")
    assert "part.mp4" in asked and "frame.png" not in asked
    longest = plan("--keep", "longest")
    assert f"of {library / 'original.mp4'}" in longest


def test_rescan_of_unchanged_videos_decodes_nothing(library: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("original.mp4", "copies/half.mkv", "copies/part.mp4"):
        (lib / Path(name).name).write_bytes((library / name).read_bytes())
    cat = tmp_path / "c.sqlite"
    first = scan(lib, catalog=cat)
    for f in lib.iterdir():  # same size and mtime, unreadable content: a decoder would fail
        st = f.stat()
        f.write_bytes(b"\0" * st.st_size)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = scan(lib, catalog=cat)
    assert second.summary.fingerprinted == 0 and second.summary.from_cache == 3 and not second.skipped
    as_paths = lambda r: [(g.keeper.path, sorted((m.path, m.relation) for m in g.duplicates)) for g in r.groups]  # noqa: E731
    assert as_paths(first) == as_paths(second) and len(first.groups) == 1


def test_json_and_csv_carry_video_fields_and_kinds_can_be_chosen(library: Path, tmp_path: Path) -> None:
    cat, out = str(tmp_path / "c.sqlite"), tmp_path / "r.json"
    run = subprocess.run(
        [sys.executable, "-m", "mediadup", "scan", str(library), "--catalog", cat, "--json", str(out), "--videos"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    files = [f for g in data["groups"] for f in g["files"]]
    assert files and all(f["path"].endswith((".mp4", ".mkv", ".webm", ".mov")) for f in files)  # --videos: no frame.png
    part = next(f for f in files if f["path"].endswith("part.mp4"))
    assert part["relation"] == "contained" and part["range"] == "00:02-00:05"
    keeper = next(f for f in files if f["role"] == "keep")
    assert keeper["duration"] == pytest.approx(8.0, abs=0.1) and keeper["fps"] == 15
    assert keeper["codec"] == "h264" and keeper["bitrate"] > 0
    images_only = scan(library, catalog=cat, images=True, videos=False)
    assert images_only.summary.videos == 0 and not images_only.groups


def test_bad_videos_are_skipped_with_a_reason(library: Path, tmp_path: Path) -> None:
    lib = tmp_path / "bad"
    lib.mkdir()
    good = (library / "original.mp4").read_bytes()
    (lib / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (lib / "garbage.mkv").write_bytes(os.urandom(5000))
    (lib / "empty.mov").write_bytes(b"")
    (lib / "text.avi").write_text("not a video at all\n" * 50)
    with av.open(str(lib / "sound.m4a"), "w", format="mp4") as c:  # audio only
        s = c.add_stream("aac", rate=8000)
        for n in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, n * 1024
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    (lib / "sound.mp4").write_bytes((lib / "sound.m4a").read_bytes())
    (lib / "ok.mp4").write_bytes(good)
    before = {p.name: p.read_bytes() for p in lib.iterdir()}
    result = scan(lib, catalog=tmp_path / "c.sqlite")
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["empty.mov"] == "empty file (0 bytes)"
    assert reasons["sound.mp4"] == "no video stream (audio only)"
    for name in ("truncated.mp4", "garbage.mkv", "text.avi"):
        assert "video" in reasons[name] or "frame" in reasons[name], reasons[name]
    assert "ok.mp4" not in reasons
    assert {p.name: p.read_bytes() for p in lib.iterdir() if p.name in before} == before


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 3000),
    gop=st.integers(1, 400),
    step_frames=st.integers(5, 120),
    budget=st.integers(0, 500),
)
def test_sampling_plan_decodes_within_budget(n: int, gop: int, step_frames: int, budget: int) -> None:
    """Frames decoded forward never exceed the budget, key-only samples are key frames, and the
    plan is in time order: the cost per video is bounded whatever its frame count."""
    packets = [(k, k % gop == 0, k) for k in range(n)]
    plan = _plan(packets, 1.0, 0.0, float(step_frames), float(n), budget)
    keys = {k for k, key, _ in packets if key}
    targets = [p for p, _, _ in plan]
    assert targets == sorted(set(targets)) and plan
    forward = {}
    for target, key, key_only in plan:
        assert key in keys and key <= target
        if key_only:
            assert target == key
        else:
            forward[key] = max(forward.get(key, key), target)
    assert sum(last - key + 1 for key, last in forward.items()) <= budget


def _variable_rate_video(path: Path, pictures: list[Image.Image]) -> None:
    """Irregular frame times (20-100 ms apart) and a single key frame: a worst case for sampling."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 256, 144, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        s.codec_context.gop_size = 10000
        s.codec_context.options = {"sc_threshold": "0", "preset": "veryfast"}
        t = 0
        for im in (f for p in pictures for f in pan(p, (256, 144), 60, seed=1)):
            frame = av.VideoFrame.from_image(im)
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            t += int(rng.choice([20, 33, 50, 100]))
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


def test_variable_frame_rate_without_key_frames_is_sampled_and_matched(tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mp4"
    _variable_rate_video(vfr, [photo(5, (480, 360)), photo(6, (480, 360))])
    transcode(str(vfr), str(tmp_path / "copy.mkv"), scale=0.5)
    fp = fingerprint_video(str(vfr))
    assert len(fp.times) >= 8 and np.all(np.diff(fp.times) > 0)
    result = scan(tmp_path, catalog=tmp_path / "c.sqlite")
    assert [sorted(Path(m.path).name for m in g.members) for g in result.groups] == [["copy.mkv", "vfr.mp4"]]


def test_huge_videos_are_skipped_and_a_cut_off_one_is_used_as_far_as_it_goes(library: Path, tmp_path: Path) -> None:
    (tmp_path / "big.mp4").write_bytes((library / "original.mp4").read_bytes())
    half = (library / "copies" / "half.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(half[: len(half) // 2])  # Matroska keeps its header in front
    result = scan(tmp_path, catalog=tmp_path / "c.sqlite", max_pixels=10_000)
    assert {Path(s.path).name: s.reason for s in result.skipped} == {"big.mp4": "too large (256x144 frames)"}
    cut = fingerprint_video(str(tmp_path / "cut.mkv"))
    assert 1 < cut.info.duration < 8 and len(cut.times) >= 2


def test_review_page_shows_a_picture_of_each_video(library: Path, tmp_path: Path) -> None:
    from mediadup.report.review import last_scan_groups
    from mediadup.store.catalog import Catalog

    cat = tmp_path / "c.sqlite"
    scan(library, catalog=cat)
    with Catalog(str(cat)) as c:
        files = [f for g in last_scan_groups(c) for f in g["files"]]
    original = next(f for f in files if f["path"].endswith("original.mp4"))
    assert original["thumb"].startswith("data:image/jpeg;base64,") and "00:08 15 fps h264" in original["dims"]
    assert all(f["thumb"] for f in files)


def test_a_blank_video_is_a_video_not_a_corrupt_file(tmp_path: Path) -> None:
    """All black, or one plain card: a valid file with nothing to compare. Its byte-identical copy
    is grouped as usual; another blank video is not."""
    import shutil

    lib = tmp_path / "lib"
    lib.mkdir()
    render(str(lib / "black.mp4"), [Image.new("RGB", (320, 180), (0, 0, 0))], seconds=2.0)
    shutil.copy(lib / "black.mp4", lib / "black copy.mp4")
    render(str(lib / "card.mp4"), [Image.new("RGB", (320, 180), (40, 90, 200))], seconds=3.0)
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"), videos=True)
    assert [(s.path, s.reason) for s in result.skipped] == []
    groups = [sorted(Path(m.path).name for m in g.members) for g in result.groups]
    assert groups == [["black copy.mp4", "black.mp4"]]


def test_a_phone_clip_and_the_copy_a_messenger_sent_are_one_group(tmp_path: Path) -> None:
    """A short 1080p clip with one key frame (x264's default) and its copy at half size and
    450 kb/s: the clip is decoded on to reach its whole time grid, so both are sampled alike."""
    lib = tmp_path / "lib"
    lib.mkdir()
    render(str(lib / "IMG_0.mp4"), [photo(520, (2400, 1350))], size=(1920, 1080), fps=30, seconds=5.0, gop=250)
    transcode(str(lib / "IMG_0.mp4"), str(lib / "sent_0.mp4"), scale=0.5, bitrate=450_000)
    assert len(fingerprint_video(str(lib / "IMG_0.mp4")).times) >= 8  # was 2: the budget ran out at 0.8 s
    result = scan(lib, catalog=str(tmp_path / "c.sqlite"), videos=True)
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [["IMG_0.mp4", "sent_0.mp4"]], groups


def test_frames_compared_in_bulk_may_be_none() -> None:
    from mediadup.match.compare import similarities

    empty = np.zeros((0, 64, 64), dtype=np.uint8)
    assert similarities(empty, empty).shape == (0,)


@pytest.fixture(scope="module")
def shared_parts(tmp_path_factory) -> Path:
    """Compilations sharing two filler clips, episodes sharing an intro, and a trimmed copy."""
    root = tmp_path_factory.mktemp("shared")
    clips = root / "clips"
    clips.mkdir()
    for name, seed, seconds in (("a", 710, 2.5), ("b", 711, 2.5), ("c", 712, 2.5), ("f1", 713, 4.0),
                                ("f2", 714, 4.0), ("intro", 715, 3.0), ("x", 716, 7.0), ("y", 717, 7.0)):  # fmt: skip
        render(str(clips / f"{name}.mp4"), [photo(seed, (480, 360))], size=SIZE, fps=15, seconds=seconds, seed=seed)
    lib = root / "lib"
    lib.mkdir()
    for out, parts in (("compilation 1", "a f1 f2"), ("compilation 2", "b f1 f2"), ("compilation 3", "f1 f2 c"),
                       ("episode 1", "intro x"), ("episode 2", "intro y")):  # fmt: skip
        transcode([str(clips / f"{p}.mp4") for p in parts.split()], str(lib / f"{out}.mp4"))
    transcode(str(lib / "episode 1.mp4"), str(lib / "episode 1 trimmed.mp4"), start=0.1, scale=0.75)
    return lib


def test_videos_sharing_a_part_only_overlap(shared_parts: Path, tmp_path: Path) -> None:
    """A shared filler or intro is a relation of its own, with the shared range in both videos'
    times, never a copy and never removed; a trimmed copy is still trimmed."""
    result = scan(shared_parts, catalog=tmp_path / "c.sqlite")
    relations = {}
    for g in result.groups:
        for m in g.duplicates:
            relations[(os.path.basename(g.keeper.path), os.path.basename(m.path))] = m
    trimmed = relations.get(("episode 1.mp4", "episode 1 trimmed.mp4"))
    assert trimmed is not None and trimmed.relation is Relation.TRIMMED
    shared = {k: m for k, m in relations.items() if "trimmed" not in k[1]}
    assert shared, "the shared parts are shown"
    for (keeper, other), m in shared.items():
        assert m.relation is Relation.OVERLAPS, (keeper, other, m.relation)
        assert not m.relation.removable
        assert m.evidence["range"] and m.evidence["other_range"]  # the shared part in both videos' times
    compilations = {k for k in shared if k[0].startswith("compilation") and k[1].startswith("compilation")}
    assert len(compilations) >= 2
    f1 = shared[next(iter(compilations))].evidence
    assert f1["seconds"] >= 6  # both fillers (8 s) found, not only a bit of them


def test_sped_up_and_slowed_copies_are_found_with_their_speed(tmp_path: Path) -> None:
    """A copy played 1.25x as fast (or 0.8x) is the same video: found, and the speed said."""
    pictures = [photo(720 + n, (480, 360)) for n in range(3)]
    original = str(tmp_path / "original.mp4")
    render(original, pictures, size=SIZE, fps=15, seconds=[3.0, 3.5, 3.0], seed=3)
    transcode(original, str(tmp_path / "fast.mp4"), speed=1.25, scale=0.75)
    transcode(original, str(tmp_path / "slow.mp4"), speed=0.8, scale=0.75)
    render(str(tmp_path / "other.mp4"), pictures[::-1], size=SIZE, fps=15, seconds=[3.0, 3.5, 3.0], seed=3)
    result = scan(tmp_path, catalog=tmp_path / "c.sqlite")
    assert len(result.groups) == 1
    group = result.groups[0]
    found = {os.path.basename(m.path): m for m in group.members}
    assert found.keys() == {"original.mp4", "fast.mp4", "slow.mp4", "other.mp4"}
    assert found["other.mp4"].relation is Relation.OVERLAPS  # the same middle scene, the others in another order
    # the longest is kept: duration comes first (a speed change is not told from a trim)
    assert os.path.basename(group.keeper.path) == "slow.mp4"
    for name, speed in (("original.mp4", 1.25), ("fast.mp4", 1.5625)):
        assert found[name].relation is Relation.NEAR_DUPLICATE
        assert abs(float(found[name].evidence["speed"].rstrip("x")) / speed - 1) < 0.05, found[name].evidence


def test_a_blank_stretch_is_no_wildcard(tmp_path: Path) -> None:
    """Where one video is blank (a plain card, black) and the other shows a picture, they differ:
    an intro then a plain card is no copy of the intro then a scene, and a plain card then a scene
    is no part of that scene then another."""
    clips = tmp_path / "clips"
    clips.mkdir()
    card = Image.new("RGB", (480, 360), (20, 110, 100))
    for name, picture, seconds in (("intro", photo(730, (480, 360)), 3.0), ("scene", photo(731, (480, 360)), 3.0),
                                   ("card", card, 3.0), ("other", photo(732, (480, 360)), 6.0)):  # fmt: skip
        render(str(clips / f"{name}.mp4"), [picture], size=SIZE, fps=15, seconds=seconds, seed=5)
    lib = tmp_path / "lib"
    lib.mkdir()
    for out, parts in (("a", "intro scene"), ("b", "intro card"), ("c", "card scene"), ("d", "scene other")):
        transcode([str(clips / f"{p}.mp4") for p in parts.split()], str(lib / f"{out}.mp4"))
    result = scan(lib, catalog=tmp_path / "c.sqlite")
    claimed = [(os.path.basename(g.keeper.path), os.path.basename(m.path), m.relation) for g in result.groups
               for m in g.duplicates if m.relation is not Relation.OVERLAPS]  # fmt: skip
    assert claimed == []


def test_the_first_half_of_still_footage_stays_a_part(tmp_path: Path) -> None:
    """On still footage (a screen recording, a camera on a wall) every playback speed fits: the
    first half of a recording stays `contained` (kept unless asked), never a 2x near-duplicate."""
    still = photo(740, (480, 360)).resize(SIZE)
    render(str(tmp_path / "moving.mp4"), [photo(741, (480, 360))], size=SIZE, fps=15, seconds=12.0)
    transcode(str(tmp_path / "moving.mp4"), str(tmp_path / "recording.mp4"), frame_fn=lambda im: still)
    transcode(str(tmp_path / "recording.mp4"), str(tmp_path / "first half.mp4"), end=0.5)
    (tmp_path / "moving.mp4").unlink()
    result = scan(tmp_path, catalog=tmp_path / "c.sqlite")
    members = {os.path.basename(m.path): m for g in result.groups for m in g.members}
    assert members["first half.mp4"].relation is Relation.CONTAINED, members["first half.mp4"].evidence


def test_a_watermarked_copy_an_old_codec_copy_and_a_compilation_holding_the_clip(tmp_path: Path) -> None:
    """A logo burnt in and an MPEG-4 part 2 re-encode are the same video; a compilation that
    holds the clip between other footage contains it (never the other way round)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name, seed in (("before", 760), ("after", 761)):
        render(str(clips / f"{name}.mp4"), [photo(seed, (480, 360))], size=SIZE, fps=15, seconds=3.0, seed=seed)
    lib = tmp_path / "lib"
    lib.mkdir()
    clip = str(lib / "clip.mp4")
    render(clip, [photo(750, (480, 360)), photo(751, (480, 360))], size=SIZE, fps=15, seconds=[2.5, 2.5], seed=7)

    def logo(im: Image.Image) -> Image.Image:
        im = im.copy()
        im.paste((255, 255, 255), (im.width - 60, im.height - 24, im.width - 8, im.height - 8))
        return im

    transcode(clip, str(lib / "watermarked.mp4"), frame_fn=logo)
    transcode(clip, str(lib / "old camera.avi"), codec="mpeg4")
    transcode([str(clips / "before.mp4"), clip, str(clips / "after.mp4")], str(lib / "compilation.mp4"))
    result = scan(lib, catalog=tmp_path / "c.sqlite")
    name = os.path.basename
    groups = {name(g.keeper.path): {name(m.path): m for m in g.duplicates} for g in result.groups}
    whole = groups.pop("compilation.mp4")  # the longest holds the others
    for copy in ("clip.mp4", "watermarked.mp4", "old camera.avi"):
        assert whole[copy].relation is Relation.CONTAINED
        assert whole[copy].evidence["range"] == "00:03-00:08"
    # the copies among themselves: the MPEG-4 part 2 re-encode has the higher bitrate (38 against
    # 29 kb/s) but not for its codec, so an H.264 copy is kept over it
    ((keeper, copies),) = groups.items()
    assert keeper in ("clip.mp4", "watermarked.mp4"), (keeper, groups)
    assert copies["old camera.avi"].relation is Relation.NEAR_DUPLICATE
