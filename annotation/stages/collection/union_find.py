"""Disjoint sets, the one union-find of collection: near-duplicate groups and the components
that must stay in one split."""

from __future__ import annotations

from collections.abc import Iterable


class UnionFind:
    """Disjoint sets of ids (used for near-duplicate groups and split components). Joining
    two sets makes the smaller root id the root of both, so a set's root is its lowest id."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {i: i for i in ids}

    def root(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def join(self, first: int, second: int) -> None:
        a, b = self.root(first), self.root(second)
        self.parent[max(a, b)] = min(a, b)
