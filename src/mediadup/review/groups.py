"""The review's view of the last scan: its groups with the user's choices, filtered, sorted and paged.

Files are known by their catalog id; a request never names a path. The groups are loaded once
(and again after an apply, an undo or a choice) and kept in memory: 10,000 groups are a few MB.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

from ..act.plan import Copy, choose_keeper, copy_of, with_choices
from ..fingerprint.video import timestamp
from ..records import Relation
from ..report.text import human_size
from ..store.catalog import Catalog

PAGE = 50  # groups per page
TABS = ("duplicates", "uncertain", "similar")  # duplicates; may be duplicates; similar shots


@dataclass
class Member:
    """One file of a group, as the page shows it."""

    id: int
    path: str
    size: int
    mtime_ns: int
    role: str  # "keep" (the scan's keeper) or "duplicate"
    relation: str
    score: float
    evidence: dict
    info: dict
    is_video: bool
    copy: Copy | None  # as a plan sees it (None when the file is gone)

    def as_json(self, keeper: bool, choice: str | None) -> dict:
        info = self.info
        dims = f"{info['width']}x{info['height']}" if info.get("width") else ""
        content = (info.get("content_width", 0), info.get("content_height", 0))
        return {
            "id": self.id, "path": self.path, "name": os.path.basename(self.path),
            "folder": os.path.dirname(self.path), "keeper": keeper, "scan_keeper": self.role == "keep",
            "relation": "keeper" if keeper else self.relation, "scanned_relation": self.relation,
            "score": round(self.score, 3), "evidence": self.evidence, "size": self.size,
            "size_text": human_size(self.size), "mtime": self.mtime_ns / 1e9, "dims": dims,
            "content": f"{content[0]}x{content[1]}" if all(content) and dims != f"{content[0]}x{content[1]}" else "",
            "format": info.get("format", ""), "camera": info.get("camera"), "captured": info.get("captured"),
            "jpeg_quality": info.get("jpeg_quality"), "is_video": self.is_video,
            "duration": timestamp(info["duration"]) if self.is_video and info.get("duration") else None,
            "fps": info.get("fps"), "codec": info.get("codec"), "choice": choice, "gone": self.copy is None,
        }  # fmt: skip


@dataclass
class ReviewGroup:
    number: int
    reason: str
    members: list[Member] = field(default_factory=list)

    @cached_property
    def tab(self) -> str:
        relations = {Relation(m.relation) for m in self.members if m.role != "keep"}
        if relations - {Relation.UNCERTAIN, Relation.SIMILAR}:
            return "duplicates"
        return "uncertain" if Relation.UNCERTAIN in relations else "similar"

    @cached_property
    def kind(self) -> str:
        return "video" if any(m.is_video for m in self.members) else "image"

    @cached_property
    def similarity(self) -> float:
        return min((m.score for m in self.members if m.role != "keep"), default=1.0)


class Review:
    """The last scan's groups and the user's choices, for the page."""

    def __init__(self, catalog_path: str):
        self.catalog_path = catalog_path
        self.groups: list[ReviewGroup] = []
        self.files: dict[int, Member] = {}
        self.choices: dict[str, tuple[int, int, str]] = {}
        self._keepers: dict[int, tuple[Member | None, int]] = {}  # group number -> keeper, bytes to free
        self.load()

    def catalog(self) -> Catalog:
        return Catalog(self.catalog_path, create=False)

    def load(self) -> None:
        """Read the last scan and the choices again (after an apply, an undo, a new scan)."""
        with self.catalog() as cat:
            scan_id = cat.last_scan_id()
            groups: dict[int, ReviewGroup] = {}
            files: dict[int, Member] = {}
            for f in cat.scan_files(scan_id) if scan_id is not None else ():
                if f.file_id is None:
                    continue  # left the catalog since the scan: nothing to show or do
                copy = copy_of(f, cat) if f.current is not None and _unchanged(f.path, f.current[:2]) else None
                member = Member(f.file_id, f.path, copy.size if copy else f.size, copy.mtime_ns if copy else 0,
                                f.role, f.relation, f.score, f.evidence, f.info, f.is_video, copy)  # fmt: skip
                group = groups.setdefault(f.group, ReviewGroup(f.group + 1, f.reason or ""))
                group.members.append(member)
                files[member.id] = member
            self.choices = cat.choices()
        self.groups = [g for g in groups.values() if len(g.members) > 1]
        self.files = files
        self._keepers = {}

    def load_choices(self) -> None:
        """Read the choices again (after the user made one)."""
        with self.catalog() as cat:
            self.choices = cat.choices()
        self._keepers = {}

    def choice(self, m: Member) -> str | None:
        known = self.choices.get(m.path)
        return known[2] if known and m.copy and known[:2] == (m.copy.size, m.copy.mtime_ns) else None

    def keeper(self, group: ReviewGroup) -> Member | None:
        """The member an apply would keep: the user's choice, else the scan's keeper; None when the
        group is left alone (its keeper left out or not a duplicate, or fewer than two files left)."""
        return self._decided(group)[0]

    def reclaimable(self, group: ReviewGroup) -> int:
        """Bytes an apply would free in the group (removable copies not left out)."""
        return self._decided(group)[1]

    def _decided(self, group: ReviewGroup) -> tuple[Member | None, int]:
        if group.number not in self._keepers:
            keeper = self._keeper(group)
            freed = 0 if keeper is None else sum(
                m.size for m in group.members if m is not keeper and m.copy and Relation(m.relation).removable
                and self.choice(m) not in ("leave", "differs"))  # fmt: skip
            self._keepers[group.number] = keeper, freed
        return self._keepers[group.number]

    def _keeper(self, group: ReviewGroup) -> Member | None:
        copies = [m.copy for m in group.members if m.copy]
        decided, _ = with_choices([copies], self.choices)
        if not decided:
            return None
        kept = choose_keeper(decided[0], "quality")
        return next(m for m in group.members if m.copy is not None and m.copy.path == kept.path)

    def as_json(self, group: ReviewGroup) -> dict:
        keeper = self.keeper(group)
        scan_keeper = next((m for m in group.members if m.role == "keep"), None)
        if keeper is None:
            out = scan_keeper is not None and self.choice(scan_keeper) in ("leave", "differs")
            reason = ("left alone: its keeper is left out or not a duplicate" if out
                      else "nothing to remove: the other files are left out, not duplicates or gone")  # fmt: skip
        else:
            reason = "chosen by you" if self.choice(keeper) == "keep" else group.reason
        return {
            "number": group.number, "tab": group.tab, "kind": group.kind, "reason": reason,
            "reclaimable": self.reclaimable(group), "similarity": round(group.similarity, 3),
            "files": [m.as_json(m is keeper, self.choice(m)) for m in group.members],
        }  # fmt: skip

    def page(self, tab: str = "duplicates", relation: str = "", folder: str = "", kind: str = "",
             min_size: int = 0, sort: str = "reclaimable", page: int = 0) -> dict:  # fmt: skip
        """One page of the groups of a tab that pass the filters, with the counts of every tab."""
        counts = dict.fromkeys(TABS, 0)
        for g in self.groups:
            counts[g.tab] += 1
        chosen = [
            g for g in self.groups
            if g.tab == tab and (not kind or g.kind == kind)
            and (not relation or any(m.relation == relation for m in g.members))
            and (not folder or any(folder in m.path for m in g.members))
            and (not min_size or max(m.size for m in g.members) >= min_size)
        ]  # fmt: skip
        keys = {
            "reclaimable": lambda g: -self.reclaimable(g),
            "similarity": lambda g: g.similarity,
            "-similarity": lambda g: -g.similarity,
            "files": lambda g: -len(g.members),
            "path": lambda g: g.members[0].path,
        }
        chosen.sort(key=lambda g: (keys.get(sort, keys["reclaimable"])(g), g.number))
        pages = max(1, -(-len(chosen) // PAGE))
        page = min(max(page, 0), pages - 1)
        return {
            "counts": counts, "matching": len(chosen), "page": page, "pages": pages,
            "groups": [self.as_json(g) for g in chosen[page * PAGE : (page + 1) * PAGE]],
        }  # fmt: skip

    def group(self, number: int) -> ReviewGroup | None:
        return next((g for g in self.groups if g.number == number), None)


def _unchanged(path: str, recorded: tuple[int, int]) -> bool:
    """Whether the file is still there as the catalog recorded it."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == recorded
