"""Show a scan's result: text for people, JSON and CSV for programs."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from .records import Group, GroupMember, Relation, ScanResult, display_path
from .video import VideoInfo, timestamp

JSON_VERSION = 1
SHOW_SKIPPED = 20
CSV_FIELDS = (
    "group", "path", "role", "relation", "score", "width", "height", "format",
    "duration", "fps", "codec", "bitrate", "range", "size", "companion", "reason", "evidence",
)  # fmt: skip


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _member(m: GroupMember, role: str, reason: str | None) -> dict[str, Any]:
    info = m.info
    return {
        "path": display_path(m.path),
        "role": role,
        "relation": m.relation.value,
        "score": round(m.score, 4),
        "width": info.width if info else None,
        "height": info.height if info else None,
        "format": info.format if info else None,
        "duration": info.duration if isinstance(info, VideoInfo) else None,
        "fps": info.fps if isinstance(info, VideoInfo) else None,
        "codec": info.codec if isinstance(info, VideoInfo) else None,
        "bitrate": info.bitrate if isinstance(info, VideoInfo) else None,
        "range": m.evidence.get("range"),
        "size": m.stat.size,
        "companion": display_path(m.companion.path) if m.companion else None,
        "reason": reason,
        "evidence": m.evidence,
    }


def group_records(g: Group) -> list[dict[str, Any]]:
    others = [_member(d, "similar" if d.relation is Relation.SIMILAR else "duplicate", None) for d in g.duplicates]
    return [_member(g.keeper, "keep", g.reason), *others]


def _group_dict(g: Group) -> dict[str, Any]:
    return {"reclaimable": g.reclaimable, "reason": g.reason, "files": group_records(g)}


def to_dict(result: ScanResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "roots": [display_path(r) for r in result.roots],
        "groups": [_group_dict(g) for g in result.groups],
        "similar": [_group_dict(g) for g in result.similar],
        "skipped": [{"path": display_path(s.path), "reason": s.reason} for s in result.skipped],
        "summary": {**vars(result.summary), "groups": len(result.groups), "reclaimable": result.reclaimable},
    }


def write_json(result: ScanResult, out: IO[str]) -> None:
    json.dump(to_dict(result), out, indent=1)
    out.write("\n")


def write_csv(result: ScanResult, out: IO[str]) -> None:
    w = csv.DictWriter(out, CSV_FIELDS)
    w.writeheader()
    for n, g in enumerate(result.groups + result.similar, 1):
        for row in group_records(g):
            w.writerow({**row, "group": n, "evidence": json.dumps(row["evidence"]) if row["evidence"] else ""})


def _describe(m: GroupMember) -> str:
    info = m.info
    dims = f"{info.width}x{info.height} {info.format}  " if info else ""
    if isinstance(info, VideoInfo):
        dims += f"{timestamp(info.duration)} {info.fps:g} fps {info.codec} {info.bitrate // 1000} kb/s  "
    return f"{dims}{human_size(m.stat.size)}"


def print_groups(result: ScanResult, console: Console) -> None:
    for n, g in enumerate(result.groups, 1):
        head = Text(f"Group {n}", style="bold")
        head.append(f"  {len(g.members)} files, {human_size(g.reclaimable)} reclaimable", style="dim")
        _print_group(g, head, console)
    for n, g in enumerate(result.similar, 1):
        head = Text(f"Similar shots {n}", style="bold")
        head.append(f"  {len(g.members)} distinct pictures (kept unless apply --include-similar)", style="dim")
        _print_group(g, head, console)


def _print_group(g: Group, head: Text, console: Console) -> None:
    console.print(head)
    shots = any(d.relation is Relation.SIMILAR for d in g.duplicates)
    line = Text("  best  " if shots else "  keep  ", style="bold green")
    line.append(display_path(g.keeper.path))
    line.append(f"  {_describe(g.keeper)}  ({g.reason})", style="dim")
    console.print(line)
    _print_companion(g.keeper, console)
    for d in g.duplicates:
        line = Text("  shot  " if d.relation is Relation.SIMILAR else "  dup   ", style="yellow")
        line.append(display_path(d.path))
        ev = d.evidence
        detail = d.relation.value
        if "transform" in ev:
            detail += f" {ev['transform']}"
        if "crop" in ev:
            detail += f" ({ev['crop']})"
        if "range" in ev:
            detail += f" {ev['range']} of the keeper" if d.relation is Relation.CONTAINED else ""
            detail += f", frames {ev['frames']}"
        if "at" in ev:
            detail += f" at {ev['at']} of {ev['video']}"
        if "similarity" in ev:
            detail += f", similarity {ev['similarity']:.3f}"
        if "phash_distance" in ev:
            detail += f", pHash distance {ev['phash_distance']}"
        line.append(f"  {_describe(d)}  [{detail}]", style="dim")
        console.print(line)
        _print_companion(d, console)
    console.print()


def _print_companion(m: GroupMember, console: Console) -> None:
    if m.companion:
        console.print(f"        + motion {display_path(m.companion.path)}  (stays and goes with it)", style="dim")


def print_summary(result: ScanResult, console: Console) -> None:
    s = result.summary
    console.print(
        f"[bold]{s.files_seen}[/] files seen ({s.images} images, {s.videos} videos, {s.other} other"
        + (f", {s.hardlinks} hard links counted once" if s.hardlinks else "")
        + f"); {s.fingerprinted} fingerprinted, {s.from_cache} from the catalog"
        + (f"; {s.forgotten} files gone from disk forgotten" if s.forgotten else "")
        + (f"; {s.companions} Live Photos (photo + motion clip, one item each)" if s.companions else "")
    )
    dups = sum(len(g.duplicates) for g in result.groups)
    console.print(
        f"[bold]{len(result.groups)}[/] groups, {dups} duplicates, "
        f"[bold]{human_size(result.reclaimable)}[/] reclaimable"
        + (f"; {len(result.similar)} groups of similar shots" if result.similar else "")
        + f"; {s.seconds:.1f} s"
    )
    if result.skipped:
        reasons = Counter(sk.reason.split(" (")[0].split(":")[0] for sk in result.skipped)
        n = len(result.skipped)
        console.print(f"[yellow]{n} {'file' if n == 1 else 'files'} skipped:[/]")
        for reason, count in reasons.most_common():
            console.print(f"  {count:>6}  {reason}", markup=False)
        for sk in result.skipped[:SHOW_SKIPPED]:
            console.print(f"  {display_path(sk.path)}: {sk.reason}", markup=False, style="dim")
        if len(result.skipped) > SHOW_SKIPPED:
            console.print(f"  ... and {len(result.skipped) - SHOW_SKIPPED} more (all of them in --json/--csv output)")
