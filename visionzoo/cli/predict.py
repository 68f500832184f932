"""``visionzoo predict``: top-k classes with label names for image files and folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from ._args import add_common, add_device, add_engine, add_model_source, check_positive, resolve_device
from ._errors import CLIError, user_values
from ._model import load_model, maybe_optimize
from ._output import note


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "predict",
        help="classify images: top-k labels with probabilities",
        description="Classify image files (folders are searched recursively) and print the top-k "
        "classes with their probabilities. Labels come from the checkpoint's saved class names, or "
        "the ImageNet label set the model's class count identifies. Files that are not images or "
        "fail to decode are skipped and counted. Images are preprocessed as the model's config "
        "says (resize, centre crop, normalise); the model is optimised for inference "
        "(visionzoo.optimize) unless --no-optimize.",
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE|DIR", help="image files and/or folders")
    add_model_source(p)
    p.add_argument("--topk", "-k", type=int, default=5, help="classes to show per image (default 5)")
    p.add_argument("--batch-size", "-b", type=int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--img-size", type=int, help="input size (default: the model's config)")
    p.add_argument("--crop-pct", type=float, help="centre-crop fraction (default: the model's config)")
    p.add_argument("--json", action="store_true", help="print JSON: one record per image, plus skipped files")
    p.add_argument("--no-optimize", action="store_true", help="run the model as built (no BN folding etc.)")
    add_engine(p)
    add_device(p)
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import create_transform, find_images, load_image, model_label_names, resolve_model_data_config
    from ..data.datasets import DatasetError

    if args.topk < 1:
        raise CLIError(f"--topk must be >= 1, got {args.topk}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    check_positive(img_size=args.img_size, crop_pct=args.crop_pct)
    try:
        images, not_images = find_images(args.inputs)
    except DatasetError as e:
        raise CLIError(str(e)) from None
    device = resolve_device(args.device)
    model = load_model(
        args.model,
        pretrained=args.pretrained,
        checkpoint=args.checkpoint,
        require_weights="predict",
        refuse_non_finite=True,
    )
    model.eval()
    labels = model_label_names(model)
    with user_values():
        data_cfg = resolve_model_data_config(model, {"img_size": args.img_size, "crop_pct": args.crop_pct})
        transform = create_transform(**data_cfg)
    mode = "L" if data_cfg["input_size"][0] == 1 else "RGB"
    if data_cfg["input_size"][0] not in (1, 3):
        raise CLIError(f"the model takes {data_cfg['input_size'][0]} input channels; images give 1 or 3")
    if not images:
        raise CLIError(
            f"no images found in {' '.join(args.inputs)}"
            + (f" ({len(not_images)} file(s) are not images)" if not_images else "")
        )
    num_classes = int(getattr(model, "num_classes", 0))
    if num_classes < 1:
        raise CLIError("the model has no classifier (num_classes=0); nothing to predict")
    k = min(args.topk, num_classes)
    model = maybe_optimize(
        model.to(device),
        enabled=not args.no_optimize,
        engine=args.engine,
        calibration=args.calibration,
        batch_size=min(args.batch_size, len(images)),
    )
    dtype = next((p.dtype for p in model.parameters()), torch.float32)

    results: list[dict[str, Any]] = []
    failed: list[tuple[Path, str]] = []
    for start in range(0, len(images), args.batch_size):
        batch, paths = [], []
        for path in images[start : start + args.batch_size]:
            try:
                batch.append(transform(load_image(path, mode)))
                paths.append(path)
            except (OSError, ValueError, SyntaxError) as e:
                failed.append((path, str(e).splitlines()[0] if str(e) else type(e).__name__))
        if not batch:
            continue
        with torch.inference_mode():
            logits = model(torch.stack(batch).to(device, dtype)).float()
        probs, idx = logits.softmax(dim=-1).topk(k, dim=-1)
        for path, p_row, i_row in zip(paths, probs.tolist(), idx.tolist()):
            top = [
                {"index": i, "label": labels[i] if labels else f"class {i}", "prob": round(p, 6)}
                for p, i in zip(p_row, i_row)
            ]
            results.append({"file": str(path), "topk": top})
            if not args.json:
                _print_one(str(path), top)
    skipped = [{"file": str(p), "reason": "not an image"} for p in not_images]
    skipped += [{"file": str(p), "reason": why} for p, why in failed]
    if not results:
        raise CLIError(f"none of the {len(images)} image file(s) could be decoded")
    if args.json:
        print(json.dumps({"predictions": results, "skipped": skipped}, indent=2))
    if skipped:
        note(
            f"skipped {len(skipped)} file(s): "
            + ", ".join(f"{s['file']} ({s['reason']})" for s in skipped[:5])
            + (" ..." if len(skipped) > 5 else "")
        )
    return 0


def _print_one(path: str, top: list[dict[str, Any]]) -> None:
    if len(top) == 1:
        print(f"{path}  {top[0]['label']}  {100 * top[0]['prob']:.1f}%")
        return
    print(path)
    for t in top:
        print(f"  {100 * t['prob']:6.2f}%  {t['label']}")
