"""Interleaved wall-clock timing, shared by ``engine='auto'``, ``visionzoo pick`` and the
benchmarks: each round runs every contender once, the order reversed every other round, so a
burst of load elsewhere or a warm cache favours none of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = ["round_order", "time_interleaved"]


def round_order(names: Sequence[str], round_index: int) -> Iterable[str]:
    """The contenders in the order round ``round_index`` runs them."""
    return names if round_index % 2 == 0 else reversed(names)


def time_interleaved(
    calls: Mapping[str, Callable[[], object]],
    *,
    rounds: int,
    warmup: int = 1,
    min_seconds: float = 0.0,
    max_rounds: int = 500,
) -> dict[str, list[float]]:
    """Seconds of each call, per round, after ``warmup`` untimed calls each.

    Runs at least ``rounds`` rounds and, up to ``max_rounds``, until every call has spent
    ``min_seconds`` (a call of a few milliseconds is mostly noise, so fast ones get more rounds).
    """
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    names = list(calls)
    times: dict[str, list[float]] = {n: [] for n in names}
    r = 0
    while r < max(rounds, 1) or (r < max_rounds and min(sum(t) for t in times.values()) < min_seconds):
        for name in round_order(names, r):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
        r += 1
    return times
