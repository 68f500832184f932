"""What a command prints and writes: status lines on stderr, aligned tables, result files."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_text

__all__ = ["fmt_num", "format_bytes", "format_table", "note", "rows_to_csv", "write_results"]


def note(message: str) -> None:
    """A status line on stderr (stdout stays clean for results and ``--json``)."""
    print(f"visionzoo: {message}", file=sys.stderr, flush=True)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_results(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``.csv`` -> one row per record; anything else -> JSON (one record, or a list)."""
    if path.suffix.lower() == ".csv":
        atomic_write_text(path, rows_to_csv(rows))
    else:
        atomic_write_text(path, json.dumps(rows[0] if len(rows) == 1 else list(rows), indent=2) + "\n")


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, right: Sequence[bool] = ()) -> str:
    """Plain aligned columns; ``right[i]`` right-aligns column i (numbers)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [
            c.rjust(w) if i < len(right) and right[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"
