"""``visionzoo train``: fine-tune or train a model on an image dataset, with checkpoints to resume.

One process trains on one device; ``torchrun --nproc_per_node=N -m visionzoo train ...`` trains N
DistributedDataParallel replicas (gloo on CPU, NCCL on GPUs), each on its shard of every epoch.

A run folder holds ``last/`` and ``best/`` (each ``model.safetensors`` + ``config.json``, loadable
with ``create_model("local-dir:RUN/best", pretrained=True)``), ``last/training_state.pt``
(optimizer, schedule, EMA, progress and every setting of the run, for ``--resume``) and
``metrics.csv``; see :mod:`._runfolder` for how saves survive a crash and how the run lock keeps
a second run out. The work is a chain of named steps: :func:`resolve_settings` (the command line,
merged with a resumed run's settings), :func:`open_data`, :func:`build_model`,
:func:`make_loaders`, :func:`make_optimisation`, then :func:`train_epochs`, which runs
:func:`train_one_epoch` and :func:`write_checkpoints` per epoch.

Each epoch reseeds the random generators from (seed, rank, epoch), and each training sample's
order and augmentation come from (seed, epoch) alone (:class:`~visionzoo.data.EpochSampler`),
so a resumed run continues exactly as an uninterrupted one would, whatever ``--workers``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ..data.datasets import DatasetSpec, ImageSource
from ..fileio import atomic_write_text
from ..pretrained import PretrainedCfg
from ._args import add_common, add_device
from ._distributed import Dist, init_distributed, state_digest
from ._engine import autocast
from ._errors import CLIError, RunFailed, user_values
from ._files import check_dir_creatable, check_free_space
from ._model import check_model_name
from ._output import format_bytes, note, rows_to_csv
from ._runfolder import (
    ADAPTIVE,
    STATE_NAME,
    checkpoint_bytes,
    lock_run_folder,
    recover_run_folder,
    save_checkpoint,
    sync_derived_files,
    used_bytes,
)

__all__ = ["SETTINGS", "checkpoint_bytes", "create_optimizer", "lr_factor", "register", "run"]

_STATE_FORMAT = 1
_OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "nadam", "radam", "rmsprop")

# Every setting of a run and its default. The command line leaves them None when not given; the
# run's training state saves the resolved values and --resume restores them. A setting given
# again on --resume must agree with the run's, except --epochs (more epochs continue the run).
SETTINGS: dict[str, Any] = {
    "data": "digits",
    "model": None,
    "pretrained": False,
    "num_classes": None,
    "in_chans": None,
    "val_data": None,
    "val_split": 0.1,
    "epochs": 10,
    "batch_size": 64,
    "lr": None,
    "opt": "sgd",
    "momentum": 0.9,
    "weight_decay": None,
    "sched": "cosine",
    "warmup_epochs": 0.0,
    "min_lr": 0.0,
    "decay_epochs": 30.0,
    "decay_rate": 0.1,
    "smoothing": 0.1,
    "drop_rate": None,
    "drop_path": None,
    "ema": False,
    "ema_decay": 0.9998,
    "img_size": None,
    "interpolation": None,
    "crop_pct": None,
    "mean": None,
    "std": None,
    "scale": (0.08, 1.0),
    "ratio": (3 / 4, 4 / 3),
    "hflip": 0.5,
    "vflip": 0.0,
    "color_jitter": 0.4,
    "aa": None,
    "reprob": 0.0,
    "remode": "const",
    "mixup": 0.0,
    "cutmix": 0.0,
    "no_aug": False,
    "seed": 42,
    "amp": False,
    "amp_dtype": "bfloat16",
    "channels_last": False,
    "compile": None,
}
# How this invocation runs, not what it computes: free to differ on --resume (not saved):
# --output, --stop-after, --workers, --device, --no-progress, --deterministic, --grad-checkpointing.


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
        "(model.safetensors + config.json) and RUN/metrics.csv the history. --resume RUN restores "
        "every setting of the run (DATA included); a setting given again must agree, except "
        "--epochs. Multi-process: torchrun --nproc_per_node=N -m visionzoo train ...",
        epilog="example: visionzoo train digits --model resnet10t --img-size 32 --epochs 10 "
        "--hflip 0 --output runs/digits",
    )
    p.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="image folder, hf:NAME[:SPLIT] or digits (default: digits; with --resume: the run's)",
    )
    p.add_argument(
        "--model", "-m", help="registered model name, e.g. resnet50 (default with --resume: the run's)"
    )
    flag = {"action": "store_true", "default": None}
    p.add_argument("--pretrained", **flag, help="start from the model's published weights")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default: the dataset's classes)")
    p.add_argument("--in-chans", type=int, help="input channels, 1 or 3 (default: 1 for grayscale data)")
    p.add_argument("--val-data", metavar="DATA", help="validation dataset (default: DATA's val split)")
    p.add_argument(
        "--val-split", type=float, help="fraction held out when DATA has no val split (default 0.1)"
    )
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, help="total epochs (default 10; more than the run's with --resume)")
    g.add_argument("--batch-size", "-b", type=int, help="images per step per process (default 64)")
    g.add_argument(
        "--lr",
        type=float,
        help="peak learning rate (default: 0.1 (SGD) or 1e-3 (Adam family) x global batch/256)",
    )
    g.add_argument("--opt", choices=_OPTIMIZERS, help="optimizer (default sgd: Nesterov momentum)")
    g.add_argument("--momentum", type=float, help="SGD/RMSprop momentum (default 0.9)")
    g.add_argument("--weight-decay", "--wd", type=float, help="default 1e-4 (SGD, RMSprop), 0.05 (AdamW), 0")
    g.add_argument(
        "--sched", choices=("cosine", "step", "constant"), help="LR schedule per step (default cosine)"
    )
    g.add_argument("--warmup-epochs", type=float, help="linear warm-up length (default 0)")
    g.add_argument("--min-lr", type=float, help="cosine floor (default 0)")
    g.add_argument("--decay-epochs", type=float, help="step schedule: epochs between decays (default 30)")
    g.add_argument("--decay-rate", type=float, help="step schedule: LR factor per decay (default 0.1)")
    g.add_argument("--smoothing", type=float, help="label smoothing (default 0.1)")
    g.add_argument("--drop-rate", "--drop", type=float, help="dropout before the classifier")
    g.add_argument("--drop-path", type=float, help="stochastic depth rate")
    g.add_argument("--ema", **flag, help="keep an exponential moving average of the weights")
    g.add_argument("--ema-decay", type=float, help="EMA decay (default 0.9998, warmed up as (1+n)/(10+n))")
    a = p.add_argument_group("data and augmentation")
    a.add_argument("--img-size", type=int, help="training and eval size (default: the model's config)")
    a.add_argument("--interpolation", help="resize interpolation (default: the model's config)")
    a.add_argument("--crop-pct", type=float, help="eval centre-crop fraction (default: the model's config)")
    a.add_argument("--mean", type=float, nargs="+", help="normalisation mean per channel")
    a.add_argument("--std", type=float, nargs="+", help="normalisation std per channel")
    a.add_argument("--scale", type=float, nargs=2, help="random-resized-crop area range (default 0.08 1)")
    a.add_argument("--ratio", type=float, nargs=2, help="random-resized-crop aspect range (default 3/4 4/3)")
    a.add_argument("--hflip", type=float, help="horizontal flip probability (default 0.5; 0 for digits/text)")
    a.add_argument("--vflip", type=float, help="vertical flip probability (default 0)")
    a.add_argument("--color-jitter", type=float, help="colour jitter strength without --aa (default 0.4)")
    a.add_argument("--aa", metavar="POLICY", help="rand-m9-n2 (RandAugment), autoaug, trivial or augmix")
    a.add_argument("--reprob", type=float, help="random erasing probability (default 0)")
    a.add_argument("--remode", choices=("const", "pixel"), help="random erasing fill (default const)")
    a.add_argument("--mixup", type=float, help="mixup alpha (default 0: off)")
    a.add_argument("--cutmix", type=float, help="cutmix alpha (default 0: off)")
    a.add_argument("--no-aug", **flag, help="train on eval preprocessing (no augmentation)")
    r = p.add_argument_group("run")
    r.add_argument("--output", "-o", metavar="DIR", help="run folder (default: runs/MODEL-TIMESTAMP)")
    r.add_argument(
        "--resume",
        metavar="PATH",
        help="continue a run that is not running (its folder or its last/ checkpoint) with its settings",
    )
    r.add_argument(
        "--stop-after",
        type=int,
        metavar="N",
        help="end this invocation after N epochs (time-limited job slots); continue with --resume",
    )
    r.add_argument("--seed", type=int, help="random seed (default 42)")
    r.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms only (torch.use_deterministic_algorithms): bit-identical reruns "
        "and resumes on GPUs too; an op without a deterministic version stops the run",
    )
    r.add_argument("--amp", **flag, help="mixed precision (autocast)")
    r.add_argument("--amp-dtype", choices=("bfloat16", "float16"), help="autocast dtype (default bfloat16)")
    r.add_argument("--channels-last", **flag, help="channels-last memory format")
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


# --- settings -------------------------------------------------------------------------------------
def _flag(key: str) -> str:
    return "DATA" if key == "data" else f"--{key.replace('_', '-')}"


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def resolve_settings(args: argparse.Namespace, saved: dict[str, Any] | None) -> argparse.Namespace:
    """The run's settings: the command line, over a resumed run's saved settings, over defaults.

    Raises:
        CLIError: a setting given on the command line that conflicts with the resumed run's.
    """
    cfg = argparse.Namespace(**vars(args))
    for key, default in SETTINGS.items():
        given = getattr(args, key)
        if saved is not None and key in saved:
            # --epochs may grow; --model may name the same architecture differently (checked apart)
            free = key in ("epochs", "model")
            if given is not None and not free and _comparable(given) != _comparable(saved[key]):
                raise CLIError(
                    f"--resume {args.resume}: {_flag(key)} {_show(given)} conflicts with the run's "
                    f"{_show(saved[key])}; leave it out (a resumed run keeps its settings) or start a new run"
                )
            value = saved[key] if given is None else given
        else:
            value = default if given is None else given
        setattr(cfg, key, tuple(value) if isinstance(value, list) else value)
    return cfg


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return "(not set)" if value is None else str(value)


def _saved_settings(state: dict[str, Any]) -> dict[str, Any]:
    """Settings saved by this version; a run saved before it restores its model only."""
    settings = state.get("settings")
    if isinstance(settings, dict):
        return settings
    return {"model": state["args"]["model"]}


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
    if args.workers is not None and args.workers < 0:
        raise CLIError(f"--workers must be >= 0, got {args.workers}")
    if args.compile is not None:
        from ..optimize import check_compile_backend

        with user_values():
            check_compile_backend(args.compile, what="--compile ")


def _resume_folder(path_arg: str) -> Path:
    """The run folder ``--resume`` names (the folder itself, or the parent of its ``last/``)."""
    path = Path(path_arg).expanduser()
    if not path.exists():
        raise CLIError(f"--resume {path}: not found")
    return path.parent if path.name == "last" else path


def _load_state(run_folder: Path, path_arg: str) -> tuple[Path, dict[str, Any]]:
    """``(last/ folder, training state)`` of a run; called under the run lock, after recovery."""
    folder = run_folder / "last"
    state_file = folder / STATE_NAME
    if not state_file.is_file():
        raise CLIError(
            f"--resume {path_arg}: no {STATE_NAME} there; pass a run folder or its last/ folder written by "
            "`visionzoo train`"
        )
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure: the file is not ours or is damaged
        raise CLIError(f"--resume {state_file} could not be read ({str(e).splitlines()[0]})") from None
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise CLIError(f"--resume {state_file} is not a visionzoo training state (format {_STATE_FORMAT})")
    return folder, state


# --- data -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunData:
    """The opened datasets: training and validation sources, with hold-out indices (None: all)."""

    train: ImageSource
    train_idx: list[int] | None
    val: ImageSource
    val_idx: list[int] | None
    num_classes: int
    in_chans: int

    @property
    def mode(self) -> str:
        return "L" if self.in_chans == 1 else "RGB"


def open_data(
    data: DatasetSpec,
    val_data: DatasetSpec | None,
    *,
    val_split: float,
    seed: int,
    num_classes: int | None,
    in_chans: int | None,
) -> RunData:
    """Open the training data and its validation data: ``val_data``, else DATA's own val split,
    else a seeded hold-out of ``val_split`` of the training images."""
    from ..data import has_split, open_dataset, train_val_split
    from ..data.datasets import MissingSplitError

    train = open_dataset(data.with_split("train"), split="train")
    val: ImageSource | None = None
    if val_data is not None:
        val = open_dataset(val_data, split="val", classes=train.classes)
    elif has_split(data, "val"):
        try:
            val = open_dataset(data.with_split("val"), split="val", classes=train.classes)
        except MissingSplitError:
            if data.kind != "hf":  # a Hugging Face dataset without one gets a hold-out
                raise
    train_idx: list[int] | None = None
    val_idx: list[int] | None = None
    if val is None:
        train_idx, val_idx = train_val_split(len(train), val_split, seed=seed)
        val = train
    classes = train.classes
    n = num_classes or len(classes)
    if n < len(classes):
        raise CLIError(f"--num-classes {n} is fewer than the {len(classes)} classes of {train.name}")
    chans = in_chans or (1 if train.native_channels == 1 else 3)
    return RunData(train, train_idx, val, val_idx, n, chans)


# --- model ----------------------------------------------------------------------------------------
def build_model(
    cfg: argparse.Namespace, data: RunData, state: dict[str, Any] | None, resume_folder: Path | None
) -> tuple[nn.Module, dict[str, Any]]:
    """The model sized to the data, with its saved weights on resume, and its data config."""
    from .. import create_model
    from ..builder import load_state_dict_into
    from ..data import resolve_model_data_config

    if state is not None:
        saved = state["args"]
        for key, value in (("num_classes", data.num_classes), ("in_chans", data.in_chans)):
            if saved[key] != value:
                raise CLIError(f"--resume: the run was trained with {key}={saved[key]}, not {value}")
    model = create_model(
        cfg.model,
        pretrained=cfg.pretrained and state is None,
        num_classes=data.num_classes,
        in_chans=data.in_chans,
        drop_rate=cfg.drop_rate,
        drop_path_rate=cfg.drop_path,
    )
    with user_values():
        data_cfg = resolve_model_data_config(
            model,
            {
                "img_size": cfg.img_size,
                "interpolation": cfg.interpolation,
                "crop_pct": cfg.crop_pct,
                "mean": cfg.mean,
                "std": cfg.std,
                "in_chans": data.in_chans,
            },
        )
    _fit_cfg(
        model, classes=data.train.classes, num_classes=data.num_classes, data_cfg=data_cfg, data=cfg.data
    )
    if state is not None:
        load_state_dict_into(model, state["model"], source=f"--resume {resume_folder}")
    return model, data_cfg


def make_transforms(cfg: argparse.Namespace, data_cfg: dict[str, Any]) -> tuple[Any, Any]:
    """``(train transform, eval transform)``."""
    from ..data import create_transform

    with user_values():
        eval_tf = create_transform(**data_cfg)
    if cfg.no_aug:
        return eval_tf, eval_tf
    aug = {k: v for k, v in data_cfg.items() if k not in ("crop_pct", "crop_mode")}
    with user_values():
        train_tf = create_transform(
            **aug,
            is_training=True,
            scale=tuple(cfg.scale),
            ratio=tuple(cfg.ratio),
            hflip=cfg.hflip,
            vflip=cfg.vflip,
            color_jitter=cfg.color_jitter,
            auto_augment=cfg.aa,
            re_prob=cfg.reprob,
            re_mode=cfg.remode,
        )
    return train_tf, eval_tf


@dataclasses.dataclass
class Loaders:
    train: Any
    sampler: Any
    val: Any
    batch_size: int


def make_loaders(
    cfg: argparse.Namespace, data: RunData, transforms: tuple[Any, Any], dist: Dist, device: torch.device
) -> Loaders:
    """Data loaders: every rank gets the same number of equal-sized batches, in an order and
    with augmentations fixed by (seed, epoch) (:class:`~visionzoo.data.EpochSampler`)."""
    from torch.utils.data import DataLoader

    from ..data import EpochSampler, TransformDataset, collate_skipping
    from ._engine import eval_loader, num_workers

    train_tf, eval_tf = transforms
    train_ds = TransformDataset(
        data.train, train_tf, indices=data.train_idx, mode=data.mode, replace_failed=True
    )
    workers = num_workers(cfg.workers, data.train, dist)
    per_rank = math.ceil(len(train_ds) / dist.world_size)
    if per_rank < 2:
        raise CLIError(
            f"{len(train_ds)} training image(s) for {dist.world_size} process(es): batch norm needs at "
            "least 2 per process and step"
        )
    batch_size = min(cfg.batch_size, per_rank)
    sampler = EpochSampler(len(train_ds), seed=cfg.seed, rank=dist.rank, world_size=dist.world_size)
    train_loader = DataLoader(
        train_ds,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_skipping,
        drop_last=True,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        # the loader's own seed draw must not consume the global generator (dropout, mixup)
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    val_loader = eval_loader(
        data.val,
        eval_tf,
        indices=data.val_idx,
        mode=data.mode,
        batch_size=max(batch_size, 64),
        workers=workers,
        dist=dist,
    )
    return Loaders(train_loader, sampler, val_loader, batch_size)


# --- optimisation ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Optimisation:
    """What updates the weights: optimizer, LR schedule, AMP scaler, EMA, and the (DDP / compiled)
    network the training step runs."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    ema: torch.optim.swa_utils.AveragedModel | None
    net: nn.Module
    loss_fn: nn.Module
    amp_dtype: torch.dtype | None
    lr: float
    weight_decay: float

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise CLIError("--ema: the resumed run kept no EMA weights; resume without --ema")
            self.ema.load_state_dict(state["ema"])


def make_optimisation(
    cfg: argparse.Namespace, model: nn.Module, *, steps_per_epoch: int, global_batch: int, dist: Dist
) -> Optimisation:
    device = dist.device
    lr = cfg.lr or _default_lr(cfg.opt, global_batch)
    wd = _default_wd(cfg.opt) if cfg.weight_decay is None else cfg.weight_decay
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    if cfg.grad_checkpointing:
        getattr(model, "set_grad_checkpointing")(True)  # noqa: B009
    optimizer = create_optimizer(model, cfg.opt, lr=lr, weight_decay=wd, momentum=cfg.momentum)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lr_factor(
            sched=cfg.sched,
            total_steps=cfg.epochs * steps_per_epoch,
            warmup_steps=round(cfg.warmup_epochs * steps_per_epoch),
            steps_per_epoch=steps_per_epoch,
            min_frac=min(cfg.min_lr / lr, 1.0),
            decay_epochs=cfg.decay_epochs,
            decay_rate=cfg.decay_rate,
        ),
    )
    amp_dtype = getattr(torch, cfg.amp_dtype) if cfg.amp else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    net: nn.Module = model
    if dist.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    if cfg.compile is not None:
        # only the training forward/backward; checkpoints and evaluation use the eager model,
        # so saved keys carry no "_orig_mod." prefix
        net = cast(nn.Module, torch.compile(net, backend=cfg.compile))
    ema = None
    if cfg.ema:
        ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=_ema_avg(cfg.ema_decay), use_buffers=True
        )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.smoothing)
    return Optimisation(optimizer, scheduler, scaler, ema, net, loss_fn, amp_dtype, lr, wd)


def _default_lr(opt: str, global_batch: int) -> float:
    base = 1e-3 if opt in ADAPTIVE else 0.1
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


# --- the epoch loop -------------------------------------------------------------------------------
@dataclasses.dataclass
class Progress:
    """Where the run stands: epochs done, the best validation top-1 so far, the metrics history."""

    epoch: int = 0
    best: dict[str, Any] = dataclasses.field(default_factory=lambda: {"top1": -1.0, "epoch": 0})
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def train_one_epoch(
    model: nn.Module,
    opt: Optimisation,
    loader: Any,
    *,
    mixup: Any,
    device: torch.device,
    channels_last: bool,
    bar: Any,
) -> torch.Tensor:
    """One pass over the training data. Returns this rank's sums: loss, correct, count, replaced."""
    opt.net.train()
    sums = torch.zeros(4, dtype=torch.float64)
    steps = len(loader)
    for step, (images, labels, replaced) in enumerate(loader):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = labels
        if mixup is not None:
            images, targets = mixup(images, labels)
        with autocast(device, opt.amp_dtype):
            logits = opt.net(images)
            loss = opt.loss_fn(logits.float(), targets)
        opt.optimizer.zero_grad(set_to_none=True)
        opt.scaler.scale(loss).backward()
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
        opt.scheduler.step()
        if opt.ema is not None:
            opt.ema.update_parameters(model)
        n = labels.numel()
        sums += torch.tensor(
            [loss.item() * n, (logits.argmax(-1) == labels).sum().item(), n, replaced], dtype=torch.float64
        )
        if bar is not None:
            bar.update(1)
            if step % 5 == 0 or step == steps - 1:
                bar.set_postfix(
                    loss=f"{sums[0].item() / max(sums[2].item(), 1):.4f}",
                    lr=f"{opt.scheduler.get_last_lr()[0]:.3g}",
                )
    return sums


def write_checkpoints(
    output: Path,
    model: nn.Module,
    opt: Optimisation,
    progress: Progress,
    *,
    is_best: bool,
    settings: dict[str, Any],
    train_args: dict[str, Any],
) -> None:
    """``last/`` (with the training state) first, then ``best/`` and ``metrics.csv``: whatever a
    crash interrupts, ``last/`` is whole and the rest is rebuilt from it on resume."""
    deploy = opt.ema.module if opt.ema is not None else model
    train_state = {
        "format": _STATE_FORMAT,
        "epoch": progress.epoch,
        "model": _cpu_state(model),
        **opt.state_dict(),
        "best": progress.best,
        "history": progress.history,
        "args": train_args,
        "settings": settings,
    }
    save_checkpoint(output / "last", deploy, train_state)
    if is_best:
        save_checkpoint(output / "best", deploy)
    atomic_write_text(output / "metrics.csv", rows_to_csv(progress.history))


def train_epochs(
    cfg: argparse.Namespace,
    model: nn.Module,
    opt: Optimisation,
    loaders: Loaders,
    progress: Progress,
    *,
    mixup: Any,
    dist: Dist,
    output: Path,
    end_epoch: int,
    settings: dict[str, Any],
    train_args: dict[str, Any],
) -> None:
    """Epochs ``progress.epoch`` .. ``end_epoch``: train, validate, checkpoint (rank 0), report."""
    from ._engine import evaluate

    device = dist.device
    show_bar = dist.is_main and not cfg.no_progress and sys.stderr.isatty()
    for epoch in range(progress.epoch, end_epoch):
        _seed(cfg.seed, dist.rank, epoch)
        loaders.sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        bar = _progress(len(loaders.train), f"epoch {epoch + 1}/{cfg.epochs}", show_bar)
        sums = train_one_epoch(
            model, opt, loaders.train, mixup=mixup, device=device, channels_last=cfg.channels_last, bar=bar
        )
        if bar is not None:
            bar.close()
        sums = dist.all_sum(sums)
        train_loss = sums[0].item() / max(sums[2].item(), 1)
        finite_weights = all(bool(torch.isfinite(t).all()) for t in model.state_dict().values())
        if not math.isfinite(train_loss) or not finite_weights:
            raise RunFailed(
                f"training diverged in epoch {epoch + 1} (loss {train_loss:.4g}, "
                f"{'finite' if finite_weights else 'non-finite'} weights); "
                f"lower --lr (now {opt.lr:.4g}) or add --warmup-epochs"
            )
        dist.broadcast_buffers(model)
        common = {
            "device": device,
            "dist": dist,
            "amp_dtype": opt.amp_dtype,
            "channels_last": cfg.channels_last,
        }
        val = evaluate(model, loaders.val, **common)
        if not math.isfinite(val["loss"]):
            raise RunFailed(
                f"training diverged in epoch {epoch + 1} (validation loss {val['loss']}); "
                f"lower --lr (now {opt.lr:.4g}) or add --warmup-epochs"
            )
        val_ema = None
        if opt.ema is not None:
            dist.broadcast_buffers(opt.ema.module)
            val_ema = evaluate(opt.ema.module, loaders.val, **common)
        score = (val_ema or val)["top1"]
        is_best = score > progress.best["top1"]
        if is_best:
            progress.best = {"top1": score, "epoch": epoch + 1}
        row = {
            "epoch": epoch + 1,
            "train_loss": round(train_loss, 5),
            "train_top1": None if mixup else round(100 * sums[1].item() / max(sums[2].item(), 1), 3),
            "val_loss": round(val["loss"], 5),
            "val_top1": round(val["top1"], 3),
            "val_top5": round(val["top5"], 3),
            **({"ema_val_top1": round(val_ema["top1"], 3)} if val_ema else {}),
            "lr": opt.scheduler.get_last_lr()[0],
            "seconds": round(time.perf_counter() - t0, 2),
            "replaced_images": int(sums[3].item()),
        }
        progress.history.append(row)
        progress.epoch = epoch + 1
        if dist.is_main:
            write_checkpoints(
                output, model, opt, progress, is_best=is_best, settings=settings, train_args=train_args
            )
            print(_epoch_line(row, cfg.epochs, is_best), flush=True)  # after the save: it is durable
        dist.barrier()


# --- the run --------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from ..data.datasets import check_dataset_spec

    # what the user typed first: data paths, model name, the run to resume
    if args.data is not None:
        args.data = str(check_dataset_spec(args.data).absolute())
    if args.val_data is not None:
        args.val_data = str(check_dataset_spec(args.val_data).absolute())
    if args.model is not None:
        check_model_name(args.model)
    resume_run = _resume_folder(args.resume) if args.resume else None
    if resume_run is None:
        _check_args(resolve_settings(args, None))  # a fresh run: refuse bad values before any work
        if args.model is None:
            raise CLIError("pass --model NAME (see `visionzoo list`)")
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it, before CUDA starts
        torch.use_deterministic_algorithms(True)
    dist = init_distributed(args.device)
    try:
        output = _output_folder(args, dist, resume_run)
        with _RunLock(output, dist):
            return _run_locked(args, dist, output, resume_run)
    finally:
        dist.shutdown()
        torch.use_deterministic_algorithms(was_deterministic)


def _run_locked(args: argparse.Namespace, dist: Dist, output: Path, resume_run: Path | None) -> int:
    """Everything that reads or writes the run folder, under its lock."""
    from ..data import create_mixup
    from ..data.datasets import parse_dataset_spec

    if dist.is_main and output.is_dir():
        recover_run_folder(output)  # a run killed mid-save: finish the swap, drop temporaries
    dist.barrier()
    state: dict[str, Any] | None = None
    resume_folder: Path | None = None
    if resume_run is not None:
        if dist.is_main and resume_run.resolve() != output.resolve():
            with lock_run_folder(resume_run):  # continued elsewhere: it must not be running either
                recover_run_folder(resume_run)
        resume_folder, state = _load_state(resume_run, args.resume)
        cfg = resolve_settings(args, _saved_settings(state))
        _check_args(cfg)
        from ..registry import resolve_model_name

        saved_model = state["args"]["model"]
        if resolve_model_name(cfg.model)[0] != resolve_model_name(saved_model)[0]:
            raise CLIError(
                f"--resume {args.resume} is a checkpoint of {saved_model!r}, not {cfg.model!r} "
                "(a checkpoint for another architecture)"
            )
        if state["epoch"] >= cfg.epochs:
            raise CLIError(
                f"--resume {args.resume} already trained {state['epoch']} epoch(s); "
                "pass --epochs larger than that"
            )
    else:
        if (output / "last").exists():
            raise CLIError(
                f"--output {output} already holds a training run (last/); continue it with "
                f"--resume {output}, or choose another folder"
            )
        cfg = resolve_settings(args, None)
    settings = {k: getattr(cfg, k) for k in SETTINGS}

    _seed(cfg.seed, 0, -1)  # the same initial weights on every rank
    data = open_data(
        parse_dataset_spec(cfg.data),
        parse_dataset_spec(cfg.val_data) if cfg.val_data else None,
        val_split=cfg.val_split,
        seed=cfg.seed,
        num_classes=cfg.num_classes,
        in_chans=cfg.in_chans,
    )
    model, data_cfg = build_model(cfg, data, state, resume_folder)
    transforms = make_transforms(cfg, data_cfg)
    with user_values():
        mixup = create_mixup(data.num_classes, mixup_alpha=cfg.mixup, cutmix_alpha=cfg.cutmix)
    loaders = make_loaders(cfg, data, transforms, dist, dist.device)
    opt = make_optimisation(
        cfg,
        model,
        steps_per_epoch=len(loaders.train),
        global_batch=loaders.batch_size * dist.world_size,
        dist=dist,
    )
    sizes = checkpoint_bytes(model, opt=cfg.opt, ema=opt.ema is not None)
    check_free_space(
        output,
        sizes["peak"] - used_bytes(output / "last") - used_bytes(output / "best"),
        detail=f" for last/ {format_bytes(sizes['last'])}, best/ {format_bytes(sizes['best'])} and a "
        "new last/ written beside the old one",
    )
    progress = Progress()
    if state is not None:
        opt.load_state_dict(state)
        progress = Progress(int(state["epoch"]), dict(state["best"]), list(state["history"]))
        if (
            dist.is_main
            and resume_folder is not None
            and resume_folder.resolve() == (output / "last").resolve()
        ):
            sync_derived_files(output, state)
    if dist.is_main:
        _describe(cfg, data, model, data_cfg, opt, loaders, dist, output)
    train_args = {
        "model": cfg.model,
        "data": cfg.data,
        "num_classes": data.num_classes,
        "in_chans": data.in_chans,
        "opt": cfg.opt,
        "lr": opt.lr,
        "epochs": cfg.epochs,
        "batch_size": loaders.batch_size,
        "world_size": dist.world_size,
        "img_size": int(data_cfg["input_size"][-1]),
        "seed": cfg.seed,
    }
    end_epoch = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, progress.epoch + cfg.stop_after)
    train_epochs(
        cfg,
        model,
        opt,
        loaders,
        progress,
        mixup=mixup,
        dist=dist,
        output=output,
        end_epoch=end_epoch,
        settings=settings,
        train_args=train_args,
    )
    _finish(model, progress, dist, output, end_epoch=end_epoch, epochs=cfg.epochs)
    return 0


def _describe(
    cfg: argparse.Namespace,
    data: RunData,
    model: nn.Module,
    data_cfg: dict[str, Any],
    opt: Optimisation,
    loaders: Loaders,
    dist: Dist,
    output: Path,
) -> None:
    params = sum(p.numel() for p in model.parameters()) / 1e6
    held_out = "" if data.val_idx is None else f" (held out: {len(data.val_idx)} images)"
    note(f"train {data.train.describe()}{held_out}")
    note(f"val   {data.val.name}: {len(data.val) if data.val_idx is None else len(data.val_idx)} images")
    note(
        f"model {cfg.model}: {params:.2f}M params, {data.num_classes} classes, {data.in_chans} channel(s), "
        f"input {'x'.join(map(str, data_cfg['input_size']))}"
    )
    note(
        f"{cfg.opt} lr {opt.lr:.4g} wd {opt.weight_decay:g}, {cfg.sched} schedule, "
        f"batch {loaders.batch_size} x {dist.world_size} process(es) on {dist.device}, "
        f"{len(loaders.train)} steps/epoch -> {output}"
    )
    if cfg.compile is not None:
        note(f"torch.compile (backend {cfg.compile}): the first step and new batch shapes compile first")


def _finish(
    model: nn.Module, progress: Progress, dist: Dist, output: Path, *, end_epoch: int, epochs: int
) -> None:
    if dist.enabled:
        # every rank hashes its own replica; rank 0 reports all of them (one writer, no interleaving)
        digests = dist.gather_strings(state_digest(model))
        if dist.is_main:
            for rank, digest in enumerate(digests):
                print(f"rank {rank}/{dist.world_size}: final weights sha256 {digest}", flush=True)
        if len(set(digests)) != 1:
            raise RuntimeError(f"processes ended with different weights: {digests}")
    if not dist.is_main:
        return
    if end_epoch < epochs:
        print(f"stopped after epoch {end_epoch} of {epochs}; continue with --resume {output}", flush=True)
    best = progress.best
    print(
        f"best val top-1 {best['top1']:.2f}% (epoch {best['epoch']}) -> {output / 'best'}\n"
        f"use it: visionzoo predict IMAGES --checkpoint {output / 'best'}   "
        f"or create_model('local-dir:{output / 'best'}', pretrained=True)",
        flush=True,
    )


def _output_folder(args: argparse.Namespace, dist: Dist, resume_run: Path | None) -> Path:
    if args.output:
        output = Path(args.output).expanduser()
    elif resume_run is not None:
        output = resume_run
    else:
        output = Path("runs") / f"{args.model.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    output = Path(dist.gather_strings(str(output))[0])  # rank 0's choice (timestamps may differ)
    check_dir_creatable(output)  # before any work; nothing is created yet
    return output


class _RunLock:
    """Rank 0 holds the run folder's lock; every rank learns whether it got it."""

    def __init__(self, output: Path, dist: Dist) -> None:
        self.output, self.dist = output, dist
        self.inner: Any = None

    def __enter__(self) -> None:
        refused = ""
        if self.dist.is_main:
            self.inner = lock_run_folder(self.output)
            try:
                self.inner.__enter__()
            except CLIError as e:
                self.inner, refused = None, str(e)
        refused = self.dist.gather_strings(refused)[0]
        if refused:
            raise CLIError(refused)

    def __exit__(self, *exc: Any) -> None:
        if self.inner is not None:
            self.inner.__exit__(*exc)


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
