"""``visionzoo list``: registered models (or their weights) with parameters, top-1 and input size."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._args import add_common
from ._errors import CLIError
from ._files import check_writable_file
from ._output import fmt_num, format_table, note
from ._plot import pyplot, save_figure

_SORTS = ("name", "top1", "params")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "list",
        help="list models and weights (name, params, top-1, input size)",
        description="List registered models, or with --pretrained every arch.tag weight, as an aligned "
        "table: parameters (millions), published ImageNet top-1 and the input size the weights "
        "expect. Patterns are shell-style wildcards ('resnet*', '*in22k*').",
    )
    p.add_argument("patterns", nargs="*", metavar="PATTERN", help="wildcard filters (any may match)")
    p.add_argument(
        "--pretrained", action="store_true", help="list weights (arch.tag), only those with weights"
    )
    p.add_argument("--module", action="append", metavar="M", help="only this family module (e.g. resnet)")
    p.add_argument("--exclude", action="append", metavar="PATTERN", help="drop names matching PATTERN")
    p.add_argument("--sort", choices=_SORTS, default="name", help="order: name, top1 (best first), params")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of the table")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw top-1 against parameters for the listed weights (needs matplotlib)",
    )
    add_common(p)
    p.set_defaults(func=run)


def _param_count(name: str) -> float:
    """Millions of parameters, counted on a model built on the meta device (no memory, no init)."""
    from .. import create_model

    model = create_model(name.partition(".")[0], device="meta")
    return sum(p.numel() for p in model.parameters()) / 1e6


def collect(
    patterns: list[str], *, pretrained: bool, modules: list[str] | None, exclude: list[str] | None
) -> list[dict[str, Any]]:
    from ..hub import has_weights as cfg_has_weights
    from ..registry import get_pretrained_cfg, list_models

    names = list_models(
        patterns or "", module=modules or "", pretrained=pretrained, exclude_filters=exclude or ""
    )
    rows = []
    for name in names:
        cfg = get_pretrained_cfg(name)
        has_weights = cfg is not None and cfg_has_weights(cfg)
        size = None
        if cfg is not None:
            size = (cfg.test_input_size or cfg.input_size)[-1] if has_weights else cfg.input_size[-1]
        params = cfg.param_count if cfg is not None and cfg.param_count else None
        rows.append(
            {
                "name": name,
                "params_m": params if params is not None else round(_param_count(name), 2),
                "top1": cfg.top1 if cfg is not None and has_weights else None,
                "top5": cfg.top5 if cfg is not None and has_weights else None,
                "img_size": size,
                "pretrained": has_weights,
            }
        )
    return rows


def sort_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key == "top1":
        return sorted(rows, key=lambda r: (r["top1"] is None, -(r["top1"] or 0.0)))
    if key == "params":
        return sorted(rows, key=lambda r: r["params_m"])
    return rows  # already in natural name order


def plot(rows: list[dict[str, Any]], path: Path) -> int:
    points = [r for r in rows if r["top1"] is not None]
    if not points:
        raise CLIError("nothing to plot: none of the listed models has a published top-1")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6), dpi=120)
    ax.scatter([r["params_m"] for r in points], [r["top1"] for r in points], s=14)
    if len(points) <= 40:
        for r in points:
            ax.annotate(
                r["name"], (r["params_m"], r["top1"]), fontsize=6, xytext=(3, 2), textcoords="offset points"
            )
    ax.set_xscale("log")
    ax.set_xlabel("parameters (millions, log scale)")
    ax.set_ylabel("ImageNet-1k top-1 (%)")
    ax.set_title(f"visionzoo: {len(points)} weights")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return len(points)


def run(args: argparse.Namespace) -> int:
    plot_path = Path(args.plot) if args.plot else None
    if plot_path is not None:
        check_writable_file(plot_path, what="--plot")
    rows = sort_rows(
        collect(args.patterns, pretrained=args.pretrained, modules=args.module, exclude=args.exclude),
        args.sort,
    )
    if not rows:
        note(f"no model matches {' '.join(args.patterns) or '(all)'}; `visionzoo list` shows every name")
        return 1
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        table = [
            (r["name"], fmt_num(r["params_m"]), fmt_num(r["top1"], 3), r["img_size"] or "-") for r in rows
        ]
        print(
            format_table(
                table, ("model", "params (M)", "top-1 (%)", "img size"), right=(False, True, True, True)
            )
        )
    if plot_path is not None:
        n = plot(rows, plot_path)
        note(f"wrote {plot_path} ({n} weights)")
    return 0
