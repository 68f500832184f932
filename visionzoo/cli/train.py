"""``visionzoo train``: fine-tune or train a model on an image dataset, with checkpoints to resume.

One process trains on one device; ``torchrun --nproc_per_node=N -m visionzoo train ...`` trains N
DistributedDataParallel replicas (gloo on CPU, NCCL on GPUs), each on its shard of every epoch.

A run folder holds ``last/`` and ``best/`` (each ``model.safetensors`` + ``config.json``, loadable
with ``create_model("local-dir:RUN/best", pretrained=True)``), ``last/training_state.pt``
(optimizer, schedule, EMA and progress, for ``--resume``) and ``metrics.csv``. Folders are
written under a temporary name and renamed into place, so an interrupted save never leaves a
half-written checkpoint, and ``last/`` (which holds the training state) is written before
``best/`` and ``metrics.csv``: whatever a crash interrupts, ``--resume`` finds ``last/`` whole,
finishes or undoes the interrupted swap, and rebuilds ``best/`` and ``metrics.csv`` from it.
Each epoch reseeds the random generators from (seed, rank, epoch), so a resumed run continues
exactly as an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import filecmp
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ..pretrained import PretrainedCfg
from ._common import (
    CLIError,
    add_common,
    add_device,
    atomic_write_text,
    check_dir_creatable,
    check_free_space,
    check_writable_dir,
    format_bytes,
    fsync_path,
    note,
    rows_to_csv,
)
from ._distributed import Dist, init_distributed, state_digest

STATE_NAME = "training_state.pt"
_STATE_FORMAT = 1
_OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "nadam", "radam", "rmsprop")
_ADAPTIVE = ("adam", "adamw", "nadam", "radam")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train or fine-tune a model; checkpoints loadable with local-dir:",
        description="Train MODEL on DATA: an image folder (one sub-folder per class; train/ and "
        "val/ sub-folders are used as splits, else --val-split of the images is held out), "
        "hf:NAME[:SPLIT], or 'digits' (the default: scikit-learn's handwritten digits, no "
        "download). The classifier is sized to the dataset's classes and the first conv to its "
        "channels unless --num-classes / --in-chans say otherwise. Each epoch shows a progress "
        "bar and prints train and validation metrics; RUN/last and RUN/best hold checkpoints "
        "(model.safetensors + config.json) and RUN/metrics.csv the history. "
        "Multi-process: torchrun --nproc_per_node=N -m visionzoo train ...",
        epilog="example: visionzoo train digits --model resnet10t --img-size 32 --epochs 10 "
        "--hflip 0 --output runs/digits",
    )
    p.add_argument(
        "data", nargs="?", default="digits", metavar="DATA", help="image folder, hf:NAME[:SPLIT] or digits"
    )
    p.add_argument(
        "--model", "-m", help="registered model name, e.g. resnet50 (default with --resume: the run's)"
    )
    p.add_argument("--pretrained", action="store_true", help="start from the model's published weights")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default: the dataset's classes)")
    p.add_argument("--in-chans", type=int, help="input channels, 1 or 3 (default: 1 for grayscale data)")
    p.add_argument("--val-data", metavar="DATA", help="validation dataset (default: DATA's val split)")
    p.add_argument(
        "--val-split",
        type=float,
        default=0.1,
        help="fraction held out when DATA has no val split (default 0.1)",
    )
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=10, help="total epochs (default 10)")
    g.add_argument(
        "--batch-size", "-b", type=int, default=64, help="images per step per process (default 64)"
    )
    g.add_argument(
        "--lr",
        type=float,
        help="peak learning rate (default: 0.1 (SGD) or 1e-3 (Adam family) x global batch/256)",
    )
    g.add_argument("--opt", choices=_OPTIMIZERS, default="sgd", help="optimizer; sgd is Nesterov momentum")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD/RMSprop momentum (default 0.9)")
    g.add_argument("--weight-decay", "--wd", type=float, help="default 1e-4 (SGD, RMSprop), 0.05 (AdamW), 0")
    g.add_argument(
        "--sched", choices=("cosine", "step", "constant"), default="cosine", help="LR schedule per step"
    )
    g.add_argument("--warmup-epochs", type=float, default=0.0, help="linear warm-up length (default 0)")
    g.add_argument("--min-lr", type=float, default=0.0, help="cosine floor (default 0)")
    g.add_argument("--decay-epochs", type=float, default=30.0, help="step schedule: epochs between decays")
    g.add_argument("--decay-rate", type=float, default=0.1, help="step schedule: LR factor per decay")
    g.add_argument("--smoothing", type=float, default=0.1, help="label smoothing (default 0.1)")
    g.add_argument("--drop-rate", "--drop", type=float, help="dropout before the classifier")
    g.add_argument("--drop-path", type=float, help="stochastic depth rate")
    g.add_argument("--ema", action="store_true", help="keep an exponential moving average of the weights")
    g.add_argument("--ema-decay", type=float, default=0.9998, help="EMA decay (warmed up as (1+n)/(10+n))")
    a = p.add_argument_group("data and augmentation")
    a.add_argument("--img-size", type=int, help="training and eval size (default: the model's config)")
    a.add_argument("--interpolation", help="resize interpolation (default: the model's config)")
    a.add_argument("--crop-pct", type=float, help="eval centre-crop fraction (default: the model's config)")
    a.add_argument("--mean", type=float, nargs="+", help="normalisation mean per channel")
    a.add_argument("--std", type=float, nargs="+", help="normalisation std per channel")
    a.add_argument("--scale", type=float, nargs=2, default=(0.08, 1.0), help="random-resized-crop area range")
    a.add_argument(
        "--ratio", type=float, nargs=2, default=(3 / 4, 4 / 3), help="random-resized-crop aspect range"
    )
    a.add_argument("--hflip", type=float, default=0.5, help="horizontal flip probability (0 for digits/text)")
    a.add_argument("--vflip", type=float, default=0.0, help="vertical flip probability")
    a.add_argument("--color-jitter", type=float, default=0.4, help="colour jitter strength (without --aa)")
    a.add_argument("--aa", metavar="POLICY", help="rand-m9-n2 (RandAugment), autoaug, trivial or augmix")
    a.add_argument("--reprob", type=float, default=0.0, help="random erasing probability")
    a.add_argument("--remode", choices=("const", "pixel"), default="const", help="random erasing fill")
    a.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0: off)")
    a.add_argument("--cutmix", type=float, default=0.0, help="cutmix alpha (0: off)")
    a.add_argument("--no-aug", action="store_true", help="train on eval preprocessing (no augmentation)")
    r = p.add_argument_group("run")
    r.add_argument("--output", "-o", metavar="DIR", help="run folder (default: runs/MODEL-TIMESTAMP)")
    r.add_argument("--resume", metavar="PATH", help="continue a run: its folder or its last/ checkpoint")
    r.add_argument(
        "--stop-after",
        type=int,
        metavar="N",
        help="end this invocation after N epochs (time-limited job slots); continue with --resume",
    )
    r.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    r.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms only (torch.use_deterministic_algorithms): bit-identical reruns "
        "and resumes on GPUs too; an op without a deterministic version stops the run",
    )
    r.add_argument("--amp", action="store_true", help="mixed precision (autocast)")
    r.add_argument("--amp-dtype", choices=("bfloat16", "float16"), default="bfloat16", help="autocast dtype")
    r.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    r.add_argument("--grad-checkpointing", action="store_true", help="recompute activations to save memory")
    r.add_argument(
        "--compile",
        "--torchcompile",
        nargs="?",
        const="inductor",
        metavar="BACKEND",
        help="train through torch.compile (backend default: inductor); the first steps and any new "
        "batch shape compile, which takes a minute or more on a CPU",
    )
    r.add_argument("--workers", "-j", type=int, help="data loading processes per process (default: auto)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    add_common(p)
    p.set_defaults(func=run)


# --- checks ---------------------------------------------------------------------------------------
def _check_args(args: argparse.Namespace) -> None:
    def positive(name: str, value: float | None) -> None:
        if value is not None and value <= 0:
            raise CLIError(f"--{name} must be > 0, got {value}")

    for name in ("epochs", "batch_size", "lr", "img_size", "decay_epochs", "stop_after"):
        positive(name.replace("_", "-"), getattr(args, name))
    for name in ("warmup_epochs", "min_lr", "mixup", "cutmix", "momentum"):
        if getattr(args, name) < 0:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.weight_decay is not None and args.weight_decay < 0:
        raise CLIError(f"--weight-decay must be >= 0, got {args.weight_decay}")
    if not 0.0 <= args.smoothing < 1.0:
        raise CLIError(f"--smoothing must be in [0, 1), got {args.smoothing}")
    if not 0.0 < args.ema_decay < 1.0:
        raise CLIError(f"--ema-decay must be in (0, 1), got {args.ema_decay}")
    if not 0.0 < args.val_split < 1.0:
        raise CLIError(f"--val-split must be in (0, 1), got {args.val_split}")
    if args.in_chans is not None and args.in_chans not in (1, 3):
        raise CLIError(f"--in-chans must be 1 or 3 for image data, got {args.in_chans}")
    if args.num_classes is not None and args.num_classes < 1:
        raise CLIError(f"--num-classes must be >= 1, got {args.num_classes}")
    if args.compile is not None:
        from ..optimize import check_compile_backend

        try:
            check_compile_backend(args.compile, what="--compile ")
        except ValueError as e:
            raise CLIError(str(e)) from None


def _load_resume(path_arg: str) -> tuple[Path, dict[str, Any]]:
    path = Path(path_arg).expanduser()
    run_folder = path.parent if path.name == "last" else path
    if run_folder.is_dir() and int(os.environ.get("RANK", "0")) == 0:
        recover_run_folder(run_folder)  # may bring back a last/ a crash left moved aside
    if not path.exists():
        raise CLIError(f"--resume {path}: not found")
    folder = path / "last" if (path / "last" / STATE_NAME).is_file() else path
    state_file = folder / STATE_NAME
    if not state_file.is_file():
        raise CLIError(
            f"--resume {path}: no {STATE_NAME} there; pass a run folder or its last/ folder written by "
            "`visionzoo train`"
        )
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CLIError(f"--resume {state_file} could not be read ({str(e).splitlines()[0]})") from None
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise CLIError(f"--resume {state_file} is not a visionzoo training state (format {_STATE_FORMAT})")
    return folder, state


def _with_split(spec: str, split: str) -> str:
    if spec == "digits" or spec.startswith("digits:"):
        return f"digits:{split}"
    if spec.startswith("hf:"):
        return f"hf:{spec[3:].split(':')[0]}:{split}"
    return spec


def _open_data(args: argparse.Namespace) -> tuple[Any, list[int] | None, Any, list[int] | None]:
    """``(train source, train indices, val source, val indices)``; indices None = all."""
    from ..data import has_split, open_dataset, train_val_split
    from ..data.datasets import DatasetError

    train = open_dataset(_with_split(args.data, "train"), split="train")
    if args.val_data:
        return train, None, open_dataset(args.val_data, split="val", classes=train.classes), None
    if has_split(args.data, "val"):
        try:
            return (
                train,
                None,
                open_dataset(_with_split(args.data, "val"), split="val", classes=train.classes),
                None,
            )
        except DatasetError as e:
            if not args.data.startswith("hf:") or "split" not in str(e):
                raise
    train_idx, val_idx = train_val_split(len(train), args.val_split, seed=args.seed)
    return train, train_idx, train, val_idx


# --- optimisation ---------------------------------------------------------------------------------
def _default_lr(opt: str, global_batch: int) -> float:
    base = 1e-3 if opt in _ADAPTIVE else 0.1
    return base * global_batch / 256


def _default_wd(opt: str) -> float:
    return {"adamw": 0.05, "adam": 0.0, "nadam": 0.0, "radam": 0.0}.get(opt, 1e-4)


def create_optimizer(
    model: nn.Module, opt: str, *, lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    """Biases and norm parameters (1-D) are not decayed, as is standard for these CNNs."""
    skip: set[str] = set(getattr(model, "no_weight_decay", set)())
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 or name in skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if opt in ("sgd", "momentum"):
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=opt == "sgd" and momentum > 0)
    if opt == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=momentum, alpha=0.9, eps=1e-3)
    cls = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "nadam": torch.optim.NAdam,
        "radam": torch.optim.RAdam,
    }
    return cls[opt](groups, lr=lr)


def lr_factor(
    *,
    sched: str,
    total_steps: int,
    warmup_steps: int,
    steps_per_epoch: int,
    min_frac: float,
    decay_epochs: float,
    decay_rate: float,
) -> Callable[[int], float]:
    """Per-step LR multiplier: linear warm-up, then cosine to ``min_frac``, step decay or constant."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if sched == "cosine":
            t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
            return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
        if sched == "step":
            return decay_rate ** math.floor(step / steps_per_epoch / decay_epochs)
        return 1.0

    return factor


_Tensors = list[torch.Tensor] | tuple[torch.Tensor, ...]


def _ema_avg(decay: float) -> Callable[[_Tensors, _Tensors, torch.Tensor | int], None]:
    def update(ema: _Tensors, current: _Tensors, n: torch.Tensor | int) -> None:
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        if ema and (ema[0].is_floating_point() or ema[0].is_complex()):
            torch._foreach_lerp_(ema, current, 1.0 - d)
        else:  # integer buffers (BatchNorm's step counter) are copied
            for e, c in zip(ema, current):
                e.copy_(c)

    return update


def _seed(seed: int, rank: int, epoch: int) -> None:
    s = (seed * 1_000_003 + rank * 10_007 + epoch) % (2**31)
    random.seed(s)
    torch.manual_seed(s)
    try:
        import numpy as np

        np.random.seed(s)
    except ImportError:  # pragma: no cover
        pass


# --- checkpoints ----------------------------------------------------------------------------------
def save_checkpoint(folder: Path, model: nn.Module, state: dict[str, Any] | None = None) -> None:
    """Write ``folder`` (model.safetensors + config.json [+ training state]) atomically."""
    from .. import save_pretrained

    def write(tmp: Path) -> None:
        save_pretrained(model, tmp)
        if state is not None:
            torch.save(state, tmp / STATE_NAME)

    write_folder_atomically(folder, write)


def write_folder_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Fill a temporary sibling folder, fsync it, and swap it in by rename.

    The previous ``folder`` is moved aside (``.NAME.old-PID``) only once the new one
    (``.NAME.tmp-PID``) is complete on disk, so after a crash at any point either ``folder`` is
    whole or :func:`recover_run_folder` can finish the swap. A failure restores the previous one.
    """
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        write(tmp)
        for f in tmp.iterdir():
            fsync_path(f)
        fsync_path(tmp)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        fsync_path(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def recover_run_folder(run: Path) -> None:
    """Repair what a killed ``visionzoo train`` may leave in a run folder, and remove its temporaries.

    A ``.NAME.old-PID`` without ``NAME`` means the crash came between moving the previous
    checkpoint aside and renaming the new one in; the new one (``.NAME.tmp-PID``) was complete,
    so it takes its place. Every other ``.tmp``/``.old`` entry is a leftover and is removed.
    """
    for name in ("last", "best"):
        folder = run / name
        if not folder.exists():
            for old in sorted(run.glob(f".{name}.old-*")):
                new = old.with_name(f".{name}.tmp-{old.name.rsplit('-', 1)[-1]}")
                os.replace(new if new.is_dir() else old, folder)
                fsync_path(run)
                break
        for stale in [*run.glob(f".{name}.tmp-*"), *run.glob(f".{name}.old-*")]:
            if not _writer_alive(stale):
                shutil.rmtree(stale, ignore_errors=True)
    for stale in run.glob(".metrics.csv.tmp-*"):
        if not _writer_alive(stale):
            stale.unlink(missing_ok=True)


def _writer_alive(temporary: Path) -> bool:
    """Whether the process named by a ``...-PID`` temporary still runs here (then it is not stale)."""
    pid = temporary.name.rsplit("-", 1)[-1]
    if os.name != "posix" or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync_derived_files(output: Path, state: dict[str, Any]) -> None:
    """``best/`` and ``metrics.csv`` are written after ``last/``; a crash in between leaves them one
    epoch behind. Rebuild them from ``last/``, the commit point."""
    last, best = output / "last", output / "best"
    if state["best"]["epoch"] == state["epoch"] and (last / "model.safetensors").is_file():
        names = ("model.safetensors", "config.json")
        same = (best / "model.safetensors").is_file() and all(
            (best / n).is_file() and filecmp.cmp(last / n, best / n, shallow=False) for n in names
        )
        if not same:

            def copy(tmp: Path) -> None:
                for n in names:
                    shutil.copyfile(last / n, tmp / n)

            note(f"best/ is behind last/ (interrupted save); copying epoch {state['epoch']} into {best}")
            write_folder_atomically(best, copy)
    atomic_write_text(output / "metrics.csv", rows_to_csv(state["history"]))


def checkpoint_bytes(model: nn.Module, *, opt: str, ema: bool) -> dict[str, int]:
    """Estimated sizes on disk: ``last`` (weights + training state), ``best`` (weights) and
    ``peak`` (during a save a new ``last/`` is written beside the old one and ``best/``)."""
    tensors = model.state_dict().values()
    weights = sum(t.numel() * t.element_size() for t in tensors) + 512 * len(tensors)  # + headers
    params = sum(p.numel() * p.element_size() + 512 for p in model.parameters() if p.requires_grad)
    moments = 2 if opt in _ADAPTIVE or opt == "rmsprop" else 1  # optimizer buffers per parameter
    state = weights * (2 if ema else 1) + moments * params
    last, best = weights + state, weights
    margin = (1 << 20) + (last + best) // 20  # configs, metrics.csv, file system blocks
    return {"last": last, "best": best, "peak": 2 * last + best + margin}


def _used_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _fit_cfg(
    model: nn.Module, *, classes: list[str], num_classes: int, data_cfg: dict[str, Any], data: str
) -> None:
    """The config saved with the checkpoints describes the trained model: its classes and the
    input it was trained on, not the ImageNet weights it may have started from."""
    cfg: PretrainedCfg = getattr(model, "pretrained_cfg")  # noqa: B009
    model.pretrained_cfg = cfg.replace(  # type: ignore[assignment]
        tag=None,
        num_classes=num_classes,
        label_names=tuple(classes) if len(classes) == num_classes else None,
        label_descriptions=None,
        label_offset=None,
        input_size=tuple(data_cfg["input_size"]),
        test_input_size=None,
        test_crop_pct=None,
        pool_size=None,
        test_pool_size=None,
        crop_pct=data_cfg["crop_pct"],
        crop_mode=data_cfg["crop_mode"],
        interpolation=data_cfg["interpolation"],
        mean=tuple(data_cfg["mean"]),
        std=tuple(data_cfg["std"]),
        top1=None,
        top5=None,
        param_count=None,
        description=f"trained with `visionzoo train` on {data}",
    )


# --- the run --------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from ..data.datasets import check_dataset_spec

    _check_args(args)
    check_dataset_spec(args.data)
    if args.val_data:
        check_dataset_spec(args.val_data)
    resume_folder, state = _load_resume(args.resume) if args.resume else (None, None)
    if state is not None:
        saved = state["args"]
        if args.model is None:
            args.model = saved["model"]
        from ..registry import resolve_model_name

        if resolve_model_name(args.model)[0] != resolve_model_name(saved["model"])[0]:
            raise CLIError(
                f"--resume {args.resume} is a checkpoint of {saved['model']!r}, not {args.model!r} "
                "(a checkpoint for another architecture)"
            )
        if state["epoch"] >= args.epochs:
            raise CLIError(
                f"--resume {args.resume} already trained {state['epoch']} epoch(s); "
                "pass --epochs larger than that"
            )
    if args.model is None:
        raise CLIError("pass --model NAME (see `visionzoo list`)")
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it, before CUDA starts
        torch.use_deterministic_algorithms(True)
    dist = init_distributed(args.device)
    try:
        return _train(args, dist, resume_folder, state)
    finally:
        dist.shutdown()
        torch.use_deterministic_algorithms(was_deterministic)


def _train(
    args: argparse.Namespace, dist: Dist, resume_folder: Path | None, state: dict[str, Any] | None
) -> int:
    from torch.utils.data import DataLoader, DistributedSampler

    from .. import create_model
    from ..data import (
        TransformDataset,
        collate_skipping,
        create_mixup,
        create_transform,
        resolve_model_data_config,
    )
    from ._engine import autocast, eval_loader, evaluate, num_workers

    main = dist.is_main
    device = dist.device
    output = _output_folder(args, dist, resume_folder)
    check_dir_creatable(output)  # before any work; nothing is created yet
    _seed(args.seed, 0, -1)  # the same initial weights on every rank
    train_src, train_idx, val_src, val_idx = _open_data(args)
    classes = train_src.classes
    num_classes = args.num_classes or len(classes)
    if num_classes < len(classes):
        raise CLIError(
            f"--num-classes {num_classes} is fewer than the {len(classes)} classes of {train_src.name}"
        )
    in_chans = args.in_chans or (1 if train_src.native_channels == 1 else 3)
    mode = "L" if in_chans == 1 else "RGB"
    if state is not None:
        saved = state["args"]
        for key, value in (("num_classes", num_classes), ("in_chans", in_chans)):
            if saved[key] != value:
                raise CLIError(f"--resume: the run was trained with {key}={saved[key]}, not {value}")

    model = create_model(
        args.model,
        pretrained=args.pretrained and state is None,
        num_classes=num_classes,
        in_chans=in_chans,
        drop_rate=args.drop_rate,
        drop_path_rate=args.drop_path,
    )
    data_cfg = resolve_model_data_config(
        model,
        {
            "img_size": args.img_size,
            "interpolation": args.interpolation,
            "crop_pct": args.crop_pct,
            "mean": args.mean,
            "std": args.std,
            "in_chans": in_chans,
        },
    )
    eval_tf = create_transform(**data_cfg)
    if args.no_aug:
        train_tf = eval_tf
    else:
        aug = {k: v for k, v in data_cfg.items() if k not in ("crop_pct", "crop_mode")}
        train_tf = create_transform(
            **aug,
            is_training=True,
            scale=tuple(args.scale),
            ratio=tuple(args.ratio),
            hflip=args.hflip,
            vflip=args.vflip,
            color_jitter=args.color_jitter,
            auto_augment=args.aa,
            re_prob=args.reprob,
            re_mode=args.remode,
        )
    mixup = create_mixup(num_classes, mixup_alpha=args.mixup, cutmix_alpha=args.cutmix)
    _fit_cfg(model, classes=classes, num_classes=num_classes, data_cfg=data_cfg, data=args.data)
    if state is not None:
        from ..builder import load_state_dict_into

        try:
            load_state_dict_into(model, state["model"], source=f"--resume {resume_folder}")
        except RuntimeError as e:
            raise CLIError(str(e).splitlines()[0]) from None

    # data loaders: every rank gets the same number of equal-sized batches
    train_ds = TransformDataset(train_src, train_tf, indices=train_idx, mode=mode, replace_failed=True)
    workers = num_workers(args.workers, train_src, dist)
    per_rank = math.ceil(len(train_ds) / dist.world_size)
    if per_rank < 2:
        raise CLIError(
            f"{len(train_ds)} training image(s) for {dist.world_size} process(es): batch norm needs at "
            "least 2 per process and step"
        )
    batch_size = min(args.batch_size, per_rank)
    sampler: DistributedSampler | None = (
        DistributedSampler(
            train_ds, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=args.seed
        )
        if dist.enabled
        else None
    )
    train_loader = DataLoader(
        train_ds,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_skipping,
        drop_last=True,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    val_loader = eval_loader(
        val_src,
        eval_tf,
        indices=val_idx,
        mode=mode,
        batch_size=max(batch_size, 64),
        workers=workers,
        dist=dist,
    )

    global_batch = batch_size * dist.world_size
    lr = args.lr or _default_lr(args.opt, global_batch)
    wd = _default_wd(args.opt) if args.weight_decay is None else args.weight_decay
    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    if args.grad_checkpointing:
        getattr(model, "set_grad_checkpointing")(True)  # noqa: B009
    optimizer = create_optimizer(model, args.opt, lr=lr, weight_decay=wd, momentum=args.momentum)
    steps_per_epoch = len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lr_factor(
            sched=args.sched,
            total_steps=args.epochs * steps_per_epoch,
            warmup_steps=round(args.warmup_epochs * steps_per_epoch),
            steps_per_epoch=steps_per_epoch,
            min_frac=min(args.min_lr / lr, 1.0),
            decay_epochs=args.decay_epochs,
            decay_rate=args.decay_rate,
        ),
    )
    amp_dtype = getattr(torch, args.amp_dtype) if args.amp else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    net: nn.Module = model
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    if args.compile is not None:
        # only the training forward/backward; checkpoints and evaluation use the eager model,
        # so saved keys carry no "_orig_mod." prefix
        net = cast(nn.Module, torch.compile(net, backend=args.compile))
    ema = None
    if args.ema:
        ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=_ema_avg(args.ema_decay), use_buffers=True
        )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.smoothing)
    sizes = checkpoint_bytes(model, opt=args.opt, ema=ema is not None)
    check_free_space(
        output,
        sizes["peak"] - _used_bytes(output / "last") - _used_bytes(output / "best"),
        detail=f" for last/ {format_bytes(sizes['last'])}, best/ {format_bytes(sizes['best'])} and a "
        "new last/ written beside the old one",
    )

    start_epoch, best, history = 0, {"top1": -1.0, "epoch": 0}, []
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None:
            if state.get("ema") is None:
                raise CLIError("--ema: the resumed run kept no EMA weights; resume without --ema")
            ema.load_state_dict(state["ema"])
        start_epoch, best, history = int(state["epoch"]), dict(state["best"]), list(state["history"])

    created_output = not output.exists()
    check_writable_dir(output)
    if (
        main
        and state is not None
        and resume_folder is not None
        and resume_folder.resolve() == (output / "last").resolve()
    ):
        _sync_derived_files(output, state)
    if main:
        params = sum(p.numel() for p in model.parameters()) / 1e6
        held_out = "" if val_idx is None else f" (held out: {len(val_idx)} images)"
        note(f"train {train_src.describe()}{held_out}")
        note(f"val   {val_src.name}: {len(val_src) if val_idx is None else len(val_idx)} images")
        note(
            f"model {args.model}: {params:.2f}M params, {num_classes} classes, {in_chans} channel(s), "
            f"input {'x'.join(map(str, data_cfg['input_size']))}"
        )
        note(
            f"{args.opt} lr {lr:.4g} wd {wd:g}, {args.sched} schedule, batch {batch_size} x "
            f"{dist.world_size} process(es) on {device}, {steps_per_epoch} steps/epoch -> {output}"
        )
        if args.compile is not None:
            note(f"torch.compile (backend {args.compile}): the first step and new batch shapes compile first")
    train_args = {
        "model": args.model,
        "data": args.data,
        "num_classes": num_classes,
        "in_chans": in_chans,
        "opt": args.opt,
        "lr": lr,
        "epochs": args.epochs,
        "batch_size": batch_size,
        "world_size": dist.world_size,
        "img_size": int(data_cfg["input_size"][-1]),
        "seed": args.seed,
    }

    show_bar = main and not args.no_progress and sys.stderr.isatty()
    end_epoch = args.epochs if args.stop_after is None else min(args.epochs, start_epoch + args.stop_after)
    try:
        for epoch in range(start_epoch, end_epoch):
            _seed(args.seed, dist.rank, epoch)
            if sampler is not None:
                sampler.set_epoch(epoch)
            net.train()
            t0 = time.perf_counter()
            sums = torch.zeros(4, dtype=torch.float64)  # loss, correct, count, replaced
            bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{args.epochs}", show_bar)
            for step, (images, labels, replaced) in enumerate(train_loader):
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
                if args.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                targets = labels
                if mixup is not None:
                    images, targets = mixup(images, labels)
                with autocast(device, amp_dtype):
                    logits = net(images)
                    loss = loss_fn(logits.float(), targets)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                if ema is not None:
                    ema.update_parameters(model)
                n = labels.numel()
                sums += torch.tensor(
                    [loss.item() * n, (logits.argmax(-1) == labels).sum().item(), n, replaced],
                    dtype=torch.float64,
                )
                if bar is not None:
                    bar.update(1)
                    if step % 5 == 0 or step == steps_per_epoch - 1:
                        bar.set_postfix(
                            loss=f"{sums[0].item() / max(sums[2].item(), 1):.4f}",
                            lr=f"{scheduler.get_last_lr()[0]:.3g}",
                        )
            if bar is not None:
                bar.close()
            sums = dist.all_sum(sums)
            train_loss = sums[0].item() / max(sums[2].item(), 1)
            finite_weights = all(bool(torch.isfinite(t).all()) for t in model.state_dict().values())
            if not math.isfinite(train_loss) or not finite_weights:
                raise RuntimeError(
                    f"training diverged in epoch {epoch + 1} (loss {train_loss:.4g}, "
                    f"{'finite' if finite_weights else 'non-finite'} weights); "
                    f"lower --lr (now {lr:.4g}) or add --warmup-epochs"
                )
            dist.broadcast_buffers(model)
            val = evaluate(
                model,
                val_loader,
                device=device,
                dist=dist,
                amp_dtype=amp_dtype,
                channels_last=args.channels_last,
            )
            if not math.isfinite(val["loss"]):
                raise RuntimeError(
                    f"training diverged in epoch {epoch + 1} (validation loss {val['loss']}); "
                    f"lower --lr (now {lr:.4g}) or add --warmup-epochs"
                )
            val_ema = None
            if ema is not None:
                dist.broadcast_buffers(ema.module)
                val_ema = evaluate(
                    ema.module,
                    val_loader,
                    device=device,
                    dist=dist,
                    amp_dtype=amp_dtype,
                    channels_last=args.channels_last,
                )
            score = (val_ema or val)["top1"]
            is_best = score > best["top1"]
            if is_best:
                best = {"top1": score, "epoch": epoch + 1}
            row = {
                "epoch": epoch + 1,
                "train_loss": round(train_loss, 5),
                "train_top1": None if mixup else round(100 * sums[1].item() / max(sums[2].item(), 1), 3),
                "val_loss": round(val["loss"], 5),
                "val_top1": round(val["top1"], 3),
                "val_top5": round(val["top5"], 3),
                **({"ema_val_top1": round(val_ema["top1"], 3)} if val_ema else {}),
                "lr": scheduler.get_last_lr()[0],
                "seconds": round(time.perf_counter() - t0, 2),
                "replaced_images": int(sums[3].item()),
            }
            history.append(row)
            if main:
                deploy = ema.module if ema is not None else model
                train_state = {
                    "format": _STATE_FORMAT,
                    "epoch": epoch + 1,
                    "model": _cpu_state(model),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None,
                    "best": best,
                    "history": history,
                    "args": train_args,
                }
                save_checkpoint(output / "last", deploy, train_state)
                if is_best:
                    save_checkpoint(output / "best", deploy)
                atomic_write_text(output / "metrics.csv", rows_to_csv(history))
                print(_epoch_line(row, args.epochs, is_best), flush=True)  # after the save: it is durable
            dist.barrier()
    except BaseException:
        if main and created_output and output.is_dir() and not any(output.iterdir()):
            output.rmdir()  # failed before the first checkpoint: leave nothing behind
        raise

    if dist.enabled:
        # every rank hashes its own replica; rank 0 reports all of them (one writer, no interleaving)
        digests = dist.gather_strings(state_digest(model))
        if main:
            for rank, digest in enumerate(digests):
                print(f"rank {rank}/{dist.world_size}: final weights sha256 {digest}", flush=True)
        if len(set(digests)) != 1:
            raise RuntimeError(f"processes ended with different weights: {digests}")
    if main and end_epoch < args.epochs:
        print(
            f"stopped after epoch {end_epoch} of {args.epochs}; continue with --resume {output}", flush=True
        )
    if main:
        print(
            f"best val top-1 {best['top1']:.2f}% (epoch {best['epoch']}) -> {output / 'best'}\n"
            f"use it: visionzoo predict IMAGES --checkpoint {output / 'best'}   "
            f"or create_model('local-dir:{output / 'best'}', pretrained=True)",
            flush=True,
        )
    return 0


def _output_folder(args: argparse.Namespace, dist: Dist, resume_folder: Path | None) -> Path:
    if args.output:
        output = Path(args.output).expanduser()
    elif resume_folder is not None:
        output = resume_folder.parent
    else:
        output = Path("runs") / f"{args.model.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    output = Path(dist.gather_strings(str(output))[0])  # rank 0's choice (timestamps may differ)
    if dist.is_main and output.is_dir():
        recover_run_folder(output)  # a run killed mid-save: finish the swap, drop temporaries
    dist.barrier()
    if resume_folder is None and (output / "last").exists():
        raise CLIError(
            f"--output {output} already holds a training run (last/); continue it with --resume {output}, "
            "or choose another folder"
        )
    return output


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True, unit="step")


def _epoch_line(row: dict[str, Any], epochs: int, is_best: bool) -> str:
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}", f"train loss {row['train_loss']:.4f}"]
    if row["train_top1"] is not None:
        parts[-1] += f" top-1 {row['train_top1']:6.2f}%"
    parts.append(
        f"val loss {row['val_loss']:.4f} top-1 {row['val_top1']:6.2f}% top-5 {row['val_top5']:6.2f}%"
    )
    if "ema_val_top1" in row:
        parts.append(f"ema top-1 {row['ema_val_top1']:6.2f}%")
    parts.append(f"lr {row['lr']:.3g}  {row['seconds']:.1f}s")
    return " | ".join(parts) + ("  *best" if is_best else "")
