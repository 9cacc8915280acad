"""Connected components of pairs: a union-find over any hashable items."""

from __future__ import annotations

from collections import defaultdict


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)

    def components(self) -> list[list]:
        out: dict = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return [sorted(c) for c in out.values()]
