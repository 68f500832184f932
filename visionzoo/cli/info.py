"""``visionzoo info MODEL``: size, compute, input expectations, feature pyramid and weights."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from ._args import add_common, check_positive
from ._errors import CLIError
from ._output import fmt_num, format_table


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "info",
        help="parameters, GMACs, input config, feature pyramid and weight tags of a model",
        description="Describe a model: parameter count, GMACs per image (counted by torch's flop "
        "counter on the meta device, so nothing is allocated), the input size, interpolation, "
        "crop and mean/std its weights expect, the feature pyramid (channels and stride of each "
        "stage, what features_only returns) and every weight tag with its published top-1. For "
        "local-dir:PATH and hf-hub:ID the saved checkpoint's own config comes first; the "
        "architecture's published weights follow, labelled as such.",
    )
    p.add_argument("model", metavar="MODEL", help="arch, arch.tag, hf-hub:org/repo or local-dir:PATH")
    p.add_argument("--img-size", type=int, help="count GMACs at this size (default: the config's)")
    p.add_argument("--num-classes", type=int, help="classifier size to count (default: the config's)")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    add_common(p)
    p.set_defaults(func=run)


def count_macs(model: torch.nn.Module, input_size: tuple[int, int, int]) -> float:
    """Multiply-accumulates of one forward pass of one image (FLOPs / 2, attention included)."""
    from .benchmark import count_flops

    device = next(model.parameters()).device
    x = torch.zeros(1, *input_size, device=device)
    model.eval()  # inference MACs; training-mode batch norm also refuses one image at 1x1
    return count_flops(model, x) / 2


def describe(name: str, *, img_size: int | None = None, num_classes: int | None = None) -> dict[str, Any]:
    from .. import create_model
    from ..data import resolve_model_data_config
    from ..factory import parse_model_name
    from ..hub import has_weights
    from ..pretrained import PretrainedCfg
    from ..registry import get_arch_pretrained_cfgs, is_model

    model = create_model(name, device="meta", num_classes=num_classes)
    cfg: PretrainedCfg = getattr(model, "pretrained_cfg")  # noqa: B009 (typed: nn.Module attrs are Any)
    data = resolve_model_data_config(model, {"img_size": img_size} if img_size else None)
    info: dict[str, Any] = {
        "model": name,
        "architecture": cfg.architecture,
        "class": type(model).__name__,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
        "gmacs": round(count_macs(model, data["input_size"]) / 1e9, 3),
        "num_classes": int(getattr(model, "num_classes", 0)),
        "num_features": int(getattr(model, "num_features", 0)),
        "input_size": list(data["input_size"]),
        "test_input_size": list(cfg.test_input_size) if cfg.test_input_size else None,
        "interpolation": data["interpolation"],
        "crop_pct": data["crop_pct"],
        "crop_mode": data["crop_mode"],
        "mean": list(data["mean"]),
        "std": list(data["std"]),
        "first_conv": cfg.first_conv,
        "classifier": cfg.classifier,
        "features": [
            {"index": i, "module": f["module"], "num_chs": f["num_chs"], "reduction": f["reduction"]}
            for i, f in enumerate(getattr(model, "feature_info", []) or [])
        ],
        "checkpoint": None,
        "weights": [],  # the architecture's published weights, whatever MODEL names
    }
    source, location = parse_model_name(name)
    if source is not None:  # a saved checkpoint: its own config, before anything published
        info["checkpoint"] = {
            "source": source,
            "location": location,
            "num_classes": cfg.num_classes,
            "label_names": list(cfg.label_names) if cfg.label_names else None,
            "input_size": list(cfg.input_size),
            "description": cfg.description,
            "top1": cfg.top1,
        }
    if cfg.architecture and is_model(cfg.architecture):
        for key, wcfg in get_arch_pretrained_cfgs(cfg.architecture).items():
            if not has_weights(wcfg):
                continue
            size = wcfg.test_input_size or wcfg.input_size
            info["weights"].append(
                {
                    "name": key,
                    "top1": wcfg.top1,
                    "top5": wcfg.top5,
                    "img_size": size[-1],
                    "num_classes": wcfg.num_classes,
                    "license": wcfg.license,
                }
            )
    return info


def run(args: argparse.Namespace) -> int:
    check_positive(img_size=args.img_size)
    if args.num_classes is not None and args.num_classes < 0:
        raise CLIError(f"--num-classes must be >= 0, got {args.num_classes}")
    info = describe(args.model, img_size=args.img_size, num_classes=args.num_classes)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    size = "x".join(map(str, info["input_size"]))
    lines = [f"{info['model']}  ({info['class']})"]
    ck = info["checkpoint"]
    if ck is not None:
        names = ck["label_names"] or []
        shown = ", ".join(names[:8]) + (f", ... ({len(names)})" if len(names) > 8 else "")
        lines += [
            f"  checkpoint     {ck['source']}:{ck['location']} (its own config.json)",
            f"  architecture   {info['architecture']}",
            f"  trained for    {ck['num_classes']} classes" + (f": {shown}" if names else ""),
            f"  trained at     {'x'.join(map(str, ck['input_size']))}"
            + (f"  top-1 {ck['top1']}" if ck["top1"] is not None else ""),
        ]
        if ck["description"]:
            lines.append(f"  description    {ck['description']}")
    lines += [
        f"  parameters     {info['params_m']:.2f} M",
        f"  GMACs          {info['gmacs']:.3f}  (one {size} image)",
        f"  classes        {info['num_classes']}   features {info['num_features']}",
        f"  input          {size}"
        + (f"  (test {'x'.join(map(str, info['test_input_size']))})" if info["test_input_size"] else ""),
        f"  preprocess     resize {info['interpolation']}, crop_pct {info['crop_pct']}, "
        f"crop_mode {info['crop_mode']}",
        f"  mean / std     {tuple(round(v, 4) for v in info['mean'])} / "
        f"{tuple(round(v, 4) for v in info['std'])}",
    ]
    print("\n".join(lines))
    if info["features"]:
        print("\nfeature pyramid (features_only=True returns these):")
        rows: list[tuple[Any, ...]] = [
            (f["index"], f["module"], f["num_chs"], f["reduction"]) for f in info["features"]
        ]
        print(format_table(rows, ("index", "module", "channels", "stride"), right=(True, False, True, True)))
    arch = info["architecture"]
    if info["weights"]:
        label = "weights:" if ck is None else f"published weights of {arch} (not this checkpoint):"
        print(f"\n{label}")
        rows = [
            (
                w["name"],
                fmt_num(w["top1"], 3),
                fmt_num(w["top5"], 3),
                w["img_size"],
                w["num_classes"],
                w["license"] or "-",
            )
            for w in info["weights"]
        ]
        print(
            format_table(
                rows,
                ("tag", "top-1", "top-5", "img size", "classes", "license"),
                right=(False, True, True, True, True, False),
            )
        )
    elif ck is None:
        print("\nweights: none published (train it with `visionzoo train`)")
    else:
        print(f"\npublished weights of {arch}: none")
    return 0
