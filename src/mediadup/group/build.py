"""Form groups from verified pairs without chaining: every duplicate is verified against its keeper."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping

from ..match.compare import Match
from ..match.components import UnionFind
from ..records import FileStat, Group, GroupMember, ImageInfo, Relation, VideoInfo, display_path
from .rank import rank

MAX_COMPARED = 400  # in larger clusters the keeper is only compared with its own candidates


def around_keepers(
    components: Iterable[list[str]],
    best: Callable[[list[str]], str],
    members_of: Callable[[list[tuple[str, list[str]]]], list[list[GroupMember]]],
    near: Callable[[str, set[str]], set[str]],
) -> Iterator[tuple[str, list[GroupMember]]]:
    """Keeper-centred groups, for duplicates and for similar shots alike: in each component of
    matched pairs, the `best` of the remaining items keeps a group of the others that it verifies
    itself (never through a third: no chains); what is left forms groups around the next best.
    `members_of([(keeper, others), ...])` gives each keeper's members among its others, for every
    component's next keeper at once (their pairs are verified together, on every core). In a
    component larger than MAX_COMPARED, a keeper is compared only with the items `near` it (its
    own candidates)."""
    pending = [(set(c), len(c) > MAX_COMPARED) for c in components if len(c) > 1]
    while pending:
        asked = []
        for remaining, large in pending:
            keeper = best(sorted(remaining))
            remaining.discard(keeper)
            asked.append((keeper, sorted(near(keeper, remaining) & remaining if large else remaining)))
        for (keeper, _), members, (remaining, _) in zip(asked, members_of(asked), pending):
            if members:
                yield keeper, members
                remaining -= {m.path for m in members}
        pending = [(remaining, large) for remaining, large in pending if len(remaining) > 1]


def build_groups(
    stats: dict[str, FileStat],
    content: dict[str, str],
    infos: Mapping[str, ImageInfo | VideoInfo],
    edges: Iterable[tuple[str, str]],
    verify: Callable[[list[tuple[str, str]]], list[Match | None]],
    apart: Callable[[str, str], bool] | None = None,
) -> list[Group]:
    """Groups of copies, each with the best file as keeper and only files verified against it.

    `content` maps paths to full-content hashes (byte-identical files share one); `edges` are
    verified near-duplicate pairs; `verify([(keeper, other), ...])` compares pairs on demand;
    `apart(a, b)`: the user said a and b are not duplicates, so no group holds both.
    """
    uf = UnionFind()
    by_content: dict[str, list[str]] = defaultdict(list)
    for path, digest in content.items():
        by_content[digest].append(path)
    for paths in by_content.values():
        for p in paths[1:]:
            uf.union(paths[0], p)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        uf.union(a, b)
        neighbours[a].add(b)
        neighbours[b].add(a)

    def best(paths: list[str]) -> str:
        return rank([GroupMember(stats[p], Relation.KEEPER, info=infos.get(p)) for p in paths])[0][0].path

    def same(p: str, q: str) -> bool:
        """The same file, or byte-identical files."""
        return p == q or (bool(content.get(p)) and content.get(p) == content.get(q))

    def near(keeper: str, remaining: set[str]) -> set[str]:
        """The keeper's own candidates: its matches and theirs (pairs are verified only where they
        join two clusters: a copy may be connected through another), up to MAX_COMPARED, with
        their byte-identical twins (edges join one file of each content)."""
        found: set[str] = set()
        hop = {p for p in remaining | {keeper} if same(p, keeper)}
        for _ in range(2):
            hop = {q for p in hop for q in neighbours[p]} - found - {keeper}
            found |= set(sorted(hop & remaining)[: MAX_COMPARED - len(found)])
        digests = {content[q] for q in found | {keeper} if q in content}
        return found | {p for p in remaining if content.get(p) in digests}

    parts: dict[str, list[GroupMember]] = defaultdict(list)  # longer video -> clips found inside it

    def copies_of(asked: list[tuple[str, list[str]]]) -> list[list[GroupMember]]:
        """Each keeper's copies among its others, their pairs verified together."""
        twins = [[p for p in others if same(p, keeper)] for keeper, others in asked]
        distinct: list[dict[str, str]] = []  # of each keeper's others, one per content: compared once
        for (_, others), found in zip(asked, twins):
            one: dict[str, str] = {}
            for p in others:
                if p not in found:
                    one.setdefault(content.get(p, p), p)
            distinct.append(one)
        pairs = [(keeper, p) for (keeper, _), ps in zip(asked, distinct) for p in ps.values()]
        verdicts = dict(zip(pairs, verify(pairs)))
        return [_copies(keeper, others, found, {c: verdicts[keeper, p] for c, p in ps.items()})
                for (keeper, others), found, ps in zip(asked, twins, distinct)]  # fmt: skip

    def _copies(
        keeper: str, others: list[str], twins: list[str], verdicts: dict[str, Match | None]
    ) -> list[GroupMember]:
        """The keeper's members: its byte-identical twins, and the others whose content it verified."""
        members = [GroupMember(stats[p], Relation.IDENTICAL, 1.0, {}, infos.get(p), content[p]) for p in twins]
        for p in others:
            if p in twins or (apart and any(apart(p, q) for q in [keeper, *(m.path for m in members)])):
                continue  # (apart: left for another group)
            if (m := verdicts[content.get(p, p)]) and m.relation is not Relation.OVERLAPS:  # (attach_overlaps)
                member = GroupMember(stats[p], m.relation, m.score, m.evidence, infos.get(p), content.get(p))
                # a part is not a copy: it may have copies of its own, and is shown apart from them
                (parts[keeper] if m.relation is Relation.CONTAINED else members).append(member)
        return members

    groups = []
    for keeper, members in around_keepers(uf.components(), best, copies_of, near):
        _ranked, reason = rank(
            [GroupMember(stats[keeper], Relation.KEEPER, info=infos.get(keeper))]
            + [GroupMember(m.stat, m.relation, info=m.info) for m in members]
        )
        keep = GroupMember(stats[keeper], Relation.KEEPER, 1.0, {}, infos.get(keeper), content.get(keeper))
        members.sort(key=lambda m: (m.relation != Relation.IDENTICAL, -m.score, m.path))
        groups.append(Group(keep, members, reason))
    _add_parts(groups, parts, stats, infos, content)
    groups.sort(key=lambda g: (-g.reclaimable, g.keeper.path))
    return groups


def _add_parts(
    groups: list[Group],
    parts: dict[str, list[GroupMember]],
    stats: dict[str, FileStat],
    infos: Mapping[str, ImageInfo | VideoInfo],
    content: dict[str, str],
) -> None:
    """Clips found inside a longer video join its group as `contained` (a new group when it has
    none). A clip may also be a copy, or the keeper, in its own group: it is shown in both, and a
    plan acts on it once (a keeper anywhere is never removed)."""
    duplicates = {m.path for g in groups for m in g.duplicates}
    by_keeper = {g.keeper.path: g for g in groups}
    for longer, clips in sorted(parts.items()):
        if longer in duplicates:
            continue  # it is a copy of a better video, whose own parts are listed
        reason = "longest: the other videos are parts of it"
        _group_of(longer, by_keeper, groups, stats, infos, content, reason).duplicates.extend(clips)


def attach_frames(
    groups: list[Group],
    frames: dict[str, tuple[str, Match]],
    stats: dict[str, FileStat],
    infos: Mapping[str, ImageInfo | VideoInfo],
) -> list[Group]:
    """Add images that are frames of a video (`frames`: image -> (video, match)) to the video's
    group, or to a new group kept by the video, as `frame-of` members (never removed by default)."""
    by_path = {m.path: g for g in groups for m in g.members}
    for image, (video, m) in sorted(frames.items()):
        group = _group_of(video, by_path, groups, stats, infos, {}, "the video whose frames the images are")
        evidence = {**m.evidence, "video": display_path(video)}
        group.duplicates.append(GroupMember(stats[image], Relation.FRAME_OF, m.score, evidence, infos.get(image)))
    return groups


def attach_overlaps(
    groups: list[Group],
    overlaps: Iterable[tuple[str, str, Match]],
    stats: dict[str, FileStat],
    infos: Mapping[str, ImageInfo | VideoInfo],
) -> list[Group]:
    """Videos that share a part with a longer one (an intro, a filler: `overlaps` gives (a, b, b
    against a)) join its group as `overlaps` members, never removed, each video once, with where
    the shared part lies in both. Copies of a better video are passed over: their keeper stands
    for them (and is compared too)."""
    copies = {m.path for g in groups for m in g.duplicates}
    by_keeper = {g.keeper.path: g for g in groups}
    attached: set[str] = set()
    for a, b, m in overlaps:
        swap = _duration(infos.get(b)) > _duration(infos.get(a))
        host, guest = (b, a) if swap else (a, b)
        if host in copies or guest in copies or guest in attached:
            continue  # copies are represented by their keepers
        evidence = dict(m.evidence)
        if swap:
            evidence["range"], evidence["other_range"] = m.evidence["other_range"], m.evidence["range"]
        group = _group_of(host, by_keeper, groups, stats, infos, {}, "longest: the other videos share parts with it")
        if all(x.path != guest for x in group.members):
            group.duplicates.append(GroupMember(stats[guest], Relation.OVERLAPS, m.score, evidence, infos.get(guest)))
            attached.add(guest)
    return groups


def _duration(info: ImageInfo | VideoInfo | None) -> float:
    return info.duration if isinstance(info, VideoInfo) else 0.0


def _group_of(
    path: str,
    index: dict[str, Group],
    groups: list[Group],
    stats: dict[str, FileStat],
    infos: Mapping[str, ImageInfo | VideoInfo],
    content: dict[str, str],
    reason: str,
) -> Group:
    """The group `index` gives for `path`, or a new one it keeps (added to `groups` and `index`)."""
    if path not in index:
        keeper = GroupMember(stats[path], Relation.KEEPER, 1.0, {}, infos.get(path), content.get(path))
        index[path] = Group(keeper, [], reason)
        groups.append(index[path])
    return index[path]
