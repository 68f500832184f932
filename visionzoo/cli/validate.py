"""``visionzoo validate``: top-1 / top-5 / loss / throughput of a model on a labelled dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._args import add_common, add_device, add_engine, add_model_source, check_positive, precision_dtype
from ._errors import CLIError, user_values
from ._files import check_writable_file
from ._model import load_model, maybe_optimize, model_in_chans
from ._output import note, write_results

if TYPE_CHECKING:
    from ..data.datasets import DatasetSpec


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="evaluate a model on a labelled dataset: top-1, top-5, loss, img/s",
        description="Evaluate a model on DATA: a folder with one sub-folder per class (if it has "
        "train/ and val/ sub-folders, --split picks one), hf:NAME[:SPLIT] or digits[:SPLIT]. "
        "Class folders are matched to the model's classes by name (a trained checkpoint's saved "
        "class names, or ImageNet synsets such as n01440764 for ImageNet models). Preprocessing "
        "follows the model's config unless overridden. Prints top-1, top-5, mean loss and "
        "images/s; --results writes them as JSON or CSV (by extension). Under torchrun each "
        "process evaluates a shard and the metrics are summed.",
    )
    p.add_argument("data", metavar="DATA", help="image folder, hf:NAME[:SPLIT] or digits[:SPLIT]")
    add_model_source(p)
    p.add_argument("--split", default="val", help="split of DATA to evaluate (default: val)")
    p.add_argument(
        "--batch-size", "-b", type=int, default=64, help="images per batch per process (default 64)"
    )
    p.add_argument("--img-size", type=int, help="input size (default: the model's config)")
    p.add_argument("--crop-pct", type=float, help="centre-crop fraction (default: the model's config)")
    p.add_argument("--crop-mode", choices=("center", "squash", "border"), help="resize/crop mode")
    p.add_argument("--interpolation", help="resize interpolation (default: the model's config)")
    p.add_argument(
        "--use-test-size", action="store_true", help="use the config's test_input_size/test_crop_pct"
    )
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16", "int8"),
        default="fp32",
        help="inference precision; int8 (quantised after training for --engine, with "
        "--calibration) also reports the accuracy change against fp32",
    )
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument(
        "--compile",
        action="store_true",
        help="also torch.compile the optimised model (inductor, frozen weights; compiling takes "
        "seconds to a minute first); see docs/performance.md for where it pays",
    )
    p.add_argument("--workers", "-j", type=int, help="data loading processes (default: auto)")
    p.add_argument("--results", metavar="FILE", help="write the metrics to FILE (.json or .csv)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--no-optimize", action="store_true", help="run the model as built (no BN folding etc.)")
    add_engine(p)
    add_device(p)
    add_common(p)
    p.set_defaults(func=run)


def open_for_model(spec: DatasetSpec, split: str, model: Any) -> Any:
    """Open ``spec`` with its classes indexed as the model's outputs."""
    from ..data import UnknownClassesError, model_label_names, open_dataset

    names = model_label_names(model, readable=False)
    num_classes = int(getattr(model, "num_classes", 0))
    if names is None:
        source = open_dataset(spec, split=split)
        if len(source.classes) > num_classes:
            raise CLIError(
                f"{source.name} has {len(source.classes)} classes but the model has {num_classes} outputs"
            )
        return source
    try:
        return open_dataset(spec, split=split, classes=names)
    except UnknownClassesError as e:
        raise CLIError(
            f"{e}; class folders must carry the model's class names "
            f"({', '.join(names[:3])}...: the names it was trained with, or ImageNet synsets)"
        ) from None


def run(args: argparse.Namespace) -> int:
    from ..data import create_transform, resolve_model_data_config
    from ..data.datasets import check_dataset_spec
    from ._distributed import init_distributed
    from ._engine import eval_loader, evaluate, num_workers

    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    check_positive(img_size=args.img_size, crop_pct=args.crop_pct)
    data = check_dataset_spec(args.data)
    results_path = Path(args.results) if args.results else None
    if results_path is not None:
        check_writable_file(results_path, what="--results")
    dist = init_distributed(args.device)
    try:
        model = load_model(
            args.model,
            pretrained=args.pretrained,
            checkpoint=args.checkpoint,
            require_weights="validate",
            refuse_non_finite=True,
        )
        source = open_for_model(data, args.split, model)
        with user_values():
            data_cfg = resolve_model_data_config(
                model,
                {
                    "img_size": args.img_size,
                    "crop_pct": args.crop_pct,
                    "crop_mode": args.crop_mode,
                    "interpolation": args.interpolation,
                },
                use_test_size=args.use_test_size,
            )
        in_chans = model_in_chans(model)
        if in_chans not in (1, 3):
            raise CLIError(f"the model takes {in_chans} input channels; image data gives 1 or 3")
        with user_values():
            transform = create_transform(**data_cfg)
        model.eval()
        cfg = getattr(model, "pretrained_cfg", None)
        name = cfg.name if cfg is not None else args.model
        reference = model.to(dist.device) if args.precision == "int8" else None
        model = maybe_optimize(
            model.to(dist.device),
            enabled=not args.no_optimize,
            precision=args.precision,
            channels_last=args.channels_last or None,
            compile=args.compile,
            engine=args.engine,
            calibration=args.calibration,
            batch_size=args.batch_size,
        )
        loader = eval_loader(
            source,
            transform,
            indices=None,
            mode="L" if in_chans == 1 else "RGB",
            batch_size=args.batch_size,
            workers=num_workers(args.workers, source, dist),
            dist=dist,
        )
        if dist.is_main:
            note(source.describe())
        metrics = evaluate(
            model,
            loader,
            device=dist.device,
            dist=dist,
            input_dtype=next((p.dtype for p in model.parameters()), precision_dtype(args.precision)),
            channels_last=args.channels_last,
        )
        if reference is not None:  # int8: the accuracy change against the fp32 model
            fp32 = evaluate(
                reference,
                loader,
                device=dist.device,
                dist=dist,
                input_dtype=precision_dtype("fp32"),
                channels_last=False,
            )
    finally:
        dist.shutdown()
    if metrics["images"] == 0:
        raise CLIError(f"no image of {source.name} could be decoded ({metrics['skipped']} skipped)")
    record = {
        "model": name,
        "checkpoint": args.checkpoint,
        "data": source.name,
        "top1": round(metrics["top1"], 3),
        "top1_err": round(100 - metrics["top1"], 3),
        "top5": round(metrics["top5"], 3),
        "top5_err": round(100 - metrics["top5"], 3),
        "loss": round(metrics["loss"], 5),
        "images": metrics["images"],
        "skipped": metrics["skipped"] + sum(source.skipped.values()),
        "img_per_sec": round(metrics["img_per_sec"], 2),
        "img_size": data_cfg["input_size"][-1],
        "crop_pct": data_cfg["crop_pct"],
        "interpolation": data_cfg["interpolation"],
        "precision": args.precision,
        "engine": getattr(getattr(model, "engine_report", None), "engine", args.engine or "torch"),
        "processes": dist.world_size,
    }
    if reference is not None:
        record["fp32_top1"] = round(fp32["top1"], 3)
        record["top1_change"] = round(metrics["top1"] - fp32["top1"], 3)
    if not dist.is_main:
        return 0
    if results_path is not None:
        write_results(results_path, [record])
        note(f"wrote {results_path}")
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(
            f"{record['model']} on {record['data']}: top-1 {record['top1']:.2f}%  "
            f"top-5 {record['top5']:.2f}%  loss {record['loss']:.4f}  "
            f"({record['images']} images, {record['img_per_sec']:.1f} img/s)"
            + (
                f"; fp32 top-1 {record['fp32_top1']:.2f}% (change {record['top1_change']:+.2f})"
                if reference is not None
                else ""
            )
        )
    return 0
