"""Interleaved timing: each round measures every contender once, in alternating order."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from visionzoo._timing import round_order

__all__ = ["Ratio", "interleaved", "ratio", "time_calls"]


def time_calls(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(contenders: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run each contender once per round and collect what it returns (e.g. seconds).

    The order reverses every round, so no contender always runs first (warm caches) or last.
    """
    names = list(contenders)
    results: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in round_order(names, r):
            results[name].append(contenders[name]())
    return results


@dataclass(frozen=True)
class Ratio:
    """Median of the per-round ratios, with their spread (a measure of the noise)."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.2f}"

    @property
    def spread(self) -> str:
        return f"{self.low:.2f}-{self.high:.2f}"


def ratio(num: list[float], den: list[float], *, invert: bool = False) -> Ratio:
    """Per-round ``num / den`` (``den / num`` with ``invert``, for times), summarised."""
    per_round = [(d / n if invert else n / d) for n, d in zip(num, den)]
    return Ratio(statistics.median(per_round), min(per_round), max(per_round))
