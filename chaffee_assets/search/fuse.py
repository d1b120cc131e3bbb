"""Reciprocal rank fusion: each list votes 1 / (RRF_K + rank) for its items; the sum orders the union."""

from __future__ import annotations

RRF_K = 60  # the constant of Cormack, Clarke and Buettcher (SIGIR 2009); damps the top ranks' lead


def reciprocal_rank(lists: dict[str, list[int]], k: int = RRF_K) -> list[tuple[int, float, dict[str, int]]]:
    """lists: {name: item ids, best first}. Returns (id, fused score, {name: 1-based rank}) best first;
    ties go to the item ranked better in any list, then the smaller id, so the order is stable for paging."""
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ids in lists.items():
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            ranks.setdefault(item, {})[name] = rank
    order = sorted(scores, key=lambda i: (-scores[i], min(ranks[i].values()), i))
    return [(i, scores[i], ranks[i]) for i in order]
