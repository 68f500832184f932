"""``visionzoo pick``: the most accurate model within a budget on this machine, measured here."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ._args import ENGINE_CHOICES, add_common, one_line_errors
from ._errors import CLIError
from ._files import check_writable_file
from ._output import fmt_num, format_table, note, rows_to_csv

_PRECISIONS = ("fp32", "bf16", "int8")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pick",
        help="the most accurate model within a latency / throughput / memory budget, measured here",
        description="Measure each model the filter matches on this machine (random weights, no "
        "download; built on the meta device and materialised one at a time; optimised as "
        "optimize_for_inference serves it, at the model's own input size) and print the Pareto front "
        "of published ImageNet top-1 against measured cost, the models that fit the budget first. "
        "Measurements are cached (by model, size, precision, engine, batch, threads, library versions "
        "and CPU), so a wider filter later measures only what is new.",
    )
    one_line_errors(p)
    f = p.add_argument_group("which models")
    f.add_argument("patterns", nargs="*", metavar="PATTERN", help="wildcard filters, as `visionzoo list`")
    f.add_argument("--pretrained", action="store_true", help="candidates are the arch.tag weights")
    f.add_argument("--module", action="append", metavar="M", help="only this family module (e.g. resnet)")
    f.add_argument("--exclude", action="append", metavar="PATTERN", help="drop names matching PATTERN")
    f.add_argument(
        "--features-only", action="store_true", help="only models that build as a feature backbone"
    )
    b = p.add_argument_group("budget (any combination)")
    b.add_argument("--max-latency-ms", type=float, metavar="MS", help="median ms per image at batch 1")
    b.add_argument("--min-throughput", type=float, metavar="IMG/S", help="images/s at --batch-size")
    b.add_argument("--batch-size", "-b", type=int, default=1, help="batch for throughput (default 1)")
    b.add_argument("--max-params", type=float, metavar="M", help="millions of parameters")
    b.add_argument("--max-memory", type=float, metavar="MIB", help="peak resident MiB while serving")
    h = p.add_argument_group("how it runs")
    h.add_argument("--precision", choices=_PRECISIONS, default="fp32", help="bf16 only where the CPU runs it")
    h.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="torch",
        help="inference engine (default torch; auto: the fastest installed, as optimize_for_inference picks)",
    )
    h.add_argument("--threads", type=int, help="compute threads (default: torch's, i.e. the cores)")
    h.add_argument("--warmup", type=int, default=3, help="untimed calls per model (default 3)")
    h.add_argument("--repeats", type=int, default=5, help="fewest timed rounds (default 5)")
    h.add_argument(
        "--min-time",
        type=float,
        default=1.0,
        metavar="S",
        help="timed seconds per model at least (default 1)",
    )
    c = p.add_argument_group("results")
    c.add_argument("--cache", metavar="FILE", help="cache file (default $VISIONZOO_PICK_CACHE or ~/.cache)")
    c.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    c.add_argument("--refresh", action="store_true", help="measure again what the cache holds")
    c.add_argument("--all", action="store_true", help="print every candidate, not only the front")
    c.add_argument(
        "--output", "-o", metavar="FILE", help="all rows as CSV (timm's benchmark columns) or JSON"
    )
    c.add_argument(
        "--plot", metavar="FILE.png", help="top-1 vs latency and vs peak memory (needs matplotlib)"
    )
    c.add_argument("--json", action="store_true", help="print a JSON object instead of the table")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(p)
    p.set_defaults(func=run)


def _budget(args: argparse.Namespace) -> Any:
    from ..pick import Budget, PickError

    flags = {
        "max_latency_ms": "--max-latency-ms",
        "min_throughput": "--min-throughput",
        "max_params": "--max-params",
        "max_memory_mb": "--max-memory",
    }
    values = {
        "max_latency_ms": args.max_latency_ms,
        "min_throughput": args.min_throughput,
        "max_params": args.max_params,
        "max_memory_mb": args.max_memory,
    }
    for key, value in values.items():
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise CLIError(f"{flags[key]} must be a finite number > 0, got {value}")
    try:
        return Budget(**values)
    except PickError as e:  # pragma: no cover - checked above
        raise CLIError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    from ..pick import PickError, pick

    budget = _budget(args)
    for flag, value, least in (
        ("--batch-size", args.batch_size, 1),
        ("--threads", args.threads, 1),
        ("--repeats", args.repeats, 1),
        ("--warmup", args.warmup, 0),
    ):
        if value is not None and value < least:
            raise CLIError(f"{flag} must be >= {least}, got {value}")
    if not math.isfinite(args.min_time) or args.min_time < 0:
        raise CLIError(f"--min-time must be a finite number >= 0, got {args.min_time}")
    paths = {"--output": args.output, "--plot": args.plot, "--cache": args.cache}
    for flag, value in paths.items():
        if value:
            check_writable_file(Path(value).expanduser(), what=flag)
    try:
        result = pick(
            args.patterns,
            pretrained=args.pretrained,
            module=args.module or "",
            exclude=args.exclude or "",
            features_only=args.features_only,
            budget=budget,
            precision=args.precision,
            engine=args.engine,
            batch_size=args.batch_size,
            threads=args.threads,
            warmup=args.warmup,
            repeats=args.repeats,
            min_seconds=args.min_time,
            cache=args.cache,
            use_cache=not args.no_cache,
            refresh=args.refresh,
            progress=not args.no_progress and not args.json and sys.stderr.isatty(),
        )
    except PickError as e:
        raise CLIError(str(e)) from None
    if args.json:
        print(json.dumps(_summary(result) | {"rows": result.as_dicts()}, indent=2))
    else:
        print(_report(result, show_all=args.all))
    if args.output and result.rows:
        _write_rows(Path(args.output).expanduser(), result)
        note(f"wrote {args.output} ({len(result.rows)} rows)")
    if args.plot:
        n = plot(result, Path(args.plot).expanduser())
        note(f"wrote {args.plot} ({n} models)")
    if result.interrupted:
        note(
            f"interrupted after {len(result.rows)} of {result.candidates} models; "
            "what was measured is in the cache (run again to go on)"
        )
        return 130
    return 0


def _summary(result: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "cpu": result.cpu,
        "threads": result.threads,
        "cost": result.cost,
        "budget": asdict(result.budget),
        "candidates": result.candidates,
        "measured": result.measured,
        "interrupted": result.interrupted,
        "seconds": result.seconds,
        "best": result.best.model if result.best else None,
    }


def _write_rows(path: Path, result: Any) -> None:
    from ..fileio import atomic_write_text

    if path.suffix.lower() == ".csv":
        atomic_write_text(path, rows_to_csv([r.timm_dict() for r in result.rows]))
    else:
        atomic_write_text(path, json.dumps(_summary(result) | {"rows": result.as_dicts()}, indent=2) + "\n")


def _report(result: Any, *, show_all: bool) -> str:
    """The header (machine, settings), the table (the front, fitting models first; every row
    with --all) and the verdict."""
    rows = result.rows
    first = next((r for r in rows if r.error is None and r.skipped is None), rows[0] if rows else None)
    versions = " ".join(f"{k} {v}" for k, v in sorted(first.versions.items())) if first else ""
    settings = (
        f"{first.precision}, engine {first.engine}, batch {first.batch_size}" if first is not None else ""
    )
    threads = f"{result.threads} thread{'s' if result.threads != 1 else ''}"
    lines = [f"{result.cpu}, {threads}; {settings}; {versions}".rstrip("; ")]
    cached = sum(r.cached for r in rows)
    lines.append(
        f"{result.candidates} candidates: {result.measured} measured, {cached} from the cache, "
        f"{sum(r.skipped is not None for r in rows)} skipped, {sum(r.error is not None for r in rows)} "
        f"failed; {result.seconds:.0f} s"
    )
    shown = rows if show_all else result.front
    if show_all:
        shown = sorted(rows, key=lambda r: (not r.fits, r.top1 is None, -(r.top1 or 0.0)))
    per = "ms/img @b" + str(result.rows[0].batch_size) if result.cost == "throughput" and rows else ""
    headers = ["", "model", "top-1", "ms (b1)", "q1-q3", f"img/s (b{rows[0].batch_size if rows else 1})"]
    headers += ["params M", "peak MiB", "engine", "budget"]
    table = []
    for r in shown:
        mark = "*" if r.on_front else ""
        if r.error is not None:
            status = "failed"
        elif r.skipped is not None:
            status = r.skipped
        elif r.fits:
            status = "fits"
        else:
            status = "over: " + ",".join(r.violations)
        table.append(
            [
                mark,
                r.model,
                fmt_num(r.top1, 2) if r.top1 is not None else "n/a",
                fmt_num(r.latency_ms, 2),
                f"{fmt_num(r.latency_q1_ms, 2)}-{fmt_num(r.latency_q3_ms, 2)}" if r.latency_ms else "-",
                fmt_num(r.samples_per_sec, 1),
                fmt_num(r.params_m, 2),
                fmt_num(r.peak_memory_mb, 0),
                r.engine_used or r.engine,
                status,
            ]
        )
    lines.append("")
    if table:
        right = (False, False, True, True, True, True, True, True, False, False)
        lines.append(format_table(table, headers, right=right))
    else:
        lines.append("(no model with a published top-1 was measured: the front is empty)")
    if per:
        lines.append(f"front drawn against {per} (--min-throughput); * on the front")
    else:
        lines.append("* on the Pareto front of top-1 against latency at batch 1")
    no_top1 = [r.model for r in rows if r.top1 is None]
    if no_top1:
        lines.append(
            f"{len(no_top1)} without a published top-1 (left out of the front): {', '.join(no_top1[:5])}"
            + (" ..." if len(no_top1) > 5 else "")
        )
    failed = [r for r in rows if r.error is not None]
    for r in failed[:5]:
        lines.append(f"failed: {r.model}: {r.error.splitlines()[0] if r.error else ''}")
    best = result.best
    if best is not None:
        lines.append(
            f"best within the budget: {best.model} (top-1 {best.top1:.2f}, "
            f"{fmt_num(best.latency_ms)} ms at batch 1, "
            f"{fmt_num(best.samples_per_sec, 1)} img/s at batch {best.batch_size})"
        )
    elif not result.budget.is_free:
        lines.append("no model with a published top-1 fits the budget")
    return "\n".join(lines)


def plot(result: Any, path: Path) -> int:
    """Two panels: top-1 against the front's cost (log x) and against peak memory, each with
    its Pareto front (labelled), the families coloured, the budget as a line."""
    from ._plot import pyplot, save_figure

    points = [r for r in result.rows if r.top1 is not None and r.latency_ms is not None]
    if not points:
        raise CLIError("nothing to plot: no measured model has a published top-1")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), dpi=120)
    families = sorted({r.family for r in points})
    cmap = plt.get_cmap("tab20" if len(families) > 10 else "tab10")
    colour = {f: cmap(i % cmap.N) for i, f in enumerate(families)}
    cost_label = (
        f"ms per image at batch {points[0].batch_size} (log scale)"
        if result.cost == "throughput"
        else "latency at batch 1, ms (log scale)"
    )
    limit = result.budget.max_latency_ms
    if result.cost == "throughput" and result.budget.min_throughput:
        limit = 1000.0 / result.budget.min_throughput
    panels = (
        (axes[0], lambda r: r.cost(result.cost), "on_front", cost_label, limit),
        (axes[1], lambda r: r.peak_memory_mb, "on_memory_front", "peak memory, MiB (log scale)", None),
    )
    for ax, x_of, flag, xlabel, line in panels:
        if ax is axes[1]:
            line = result.budget.max_memory_mb
        for fam in families:
            mine = [r for r in points if r.family == fam and x_of(r) is not None]
            ax.scatter([x_of(r) for r in mine], [r.top1 for r in mine], s=16, color=colour[fam], label=fam)
        front = sorted((r for r in points if getattr(r, flag) and x_of(r) is not None), key=x_of)
        ax.step([x_of(r) for r in front], [r.top1 for r in front], where="post", color="black", lw=1)
        for r in front:
            ax.annotate(r.model, (x_of(r), r.top1), fontsize=6, xytext=(3, 2), textcoords="offset points")
        if line is not None:
            ax.axvline(line, color="red", ls="--", lw=1, label="budget")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("published ImageNet-1k top-1 (%)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=6, ncol=2 if len(families) > 12 else 1, loc="lower right")
    first = points[0]
    fig.suptitle(
        f"visionzoo pick: {len(points)} models on {result.cpu}, {result.threads} threads, "
        f"{first.precision}, engine {first.engine}"
    )
    fig.tight_layout()
    save_figure(fig, path)
    return len(points)
