"""Show a scan's result: text for people, CSV for programs (the JSON plan file: `planfile`)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import IO

from rich.console import Console
from rich.text import Text

from ..act.planfile import group_records
from ..fingerprint.video import timestamp
from ..records import Group, GroupMember, Relation, ScanResult, VideoInfo, display_path, plural

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


def write_csv(result: ScanResult, out: IO[str]) -> None:
    w = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
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
        label = {Relation.SIMILAR: "  shot  ", Relation.UNCERTAIN: "  maybe ", Relation.OVERLAPS: "  part  "}.get(
            d.relation, "  dup   "
        )
        line = Text(label, style="yellow")
        line.append(display_path(d.path))
        ev = d.evidence
        detail = d.relation.value
        if "transform" in ev:
            detail += f" {ev['transform']}"
        if "crop" in ev:
            detail += f" ({ev['crop']})"
        if "speed" in ev:
            detail += f" played at {ev['speed']}"
        if d.relation is Relation.OVERLAPS:
            detail = f"overlaps: shares {ev['range']} of the keeper ({ev['other_range']} of this one), not a copy"
        elif "range" in ev:
            detail += f" {ev['range']} of the keeper" if d.relation is Relation.CONTAINED else ""
        if "frames" in ev:
            detail += f", frames {ev['frames']}"
        if "at" in ev:
            detail += f" at {ev['at']} of {ev['video']}"
        if d.relation is Relation.UNCERTAIN:
            detail = "may be a duplicate: " + ev.get("uncertain", "too little detail to be sure")
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


def _stages(seconds: dict[str, float]) -> str:
    """Where a scan's time went: its stages in their order, those that round to 0.1 s or more."""
    shown = [f"{name} {t:.1f}" for name, t in seconds.items() if t >= 0.05]
    return f" ({', '.join(shown)})" if shown else ""


def print_summary(result: ScanResult, console: Console) -> None:
    s = result.summary
    console.print(
        f"{plural(s.files_seen, 'file')} seen ({plural(s.images, 'image')}, {plural(s.videos, 'video')}, "
        f"{s.other} other"
        + (f", {plural(s.hardlinks, 'hard link')} counted once" if s.hardlinks else "")
        + f"); {s.fingerprinted} fingerprinted, {s.from_cache} from the catalog"
        + (f"; {plural(s.forgotten, 'file')} gone from disk forgotten" if s.forgotten else "")
        + (f"; {plural(s.companions, 'Live Photo')} (photo + motion clip, one item each)" if s.companions else ""),
        markup=False,
    )
    shared = sum(d.relation is Relation.OVERLAPS for g in result.groups for d in g.duplicates)
    dups = sum(len(g.duplicates) for g in result.groups) - shared
    console.print(
        f"{plural(len(result.groups), 'group')}, {plural(dups, 'duplicate')}, "
        f"{human_size(result.reclaimable)} reclaimable"
        + (f"; {plural(shared, 'video')} sharing a part with another (never removed)" if shared else "")
        + (f"; {plural(len(result.similar), 'group')} of similar shots" if result.similar else "")
        + f"; {s.seconds:.1f} s"
        + _stages(s.stages),
        markup=False,
    )
    if s.crowded:
        console.print(
            f"{plural(s.crowded, 'picture')} had more look-alikes than the candidate limit: only the "
            f"nearest were compared ({plural(s.left_out, 'farther candidate pair')} left out)",
            markup=False,
            style="dim",
        )
    if s.turned_away:
        console.print(
            f"{plural(s.turned_away, 'candidate pair')} of featureless pictures turned away at a first look "
            "(their sketches not alike in the views their hashes matched)",
            markup=False,
            style="dim",
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
