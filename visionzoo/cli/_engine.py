"""Evaluation loop and data loaders shared by ``validate`` and ``train``."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..data.datasets import DigitsSource, ImageSource, TransformDataset, collate_skipping
from ._distributed import Dist
from ._errors import CLIError

__all__ = ["autocast", "eval_loader", "evaluate", "num_workers"]


def num_workers(requested: int | None, source: ImageSource, dist: Dist) -> int:
    """Loader processes: as asked, else none for in-memory data (cheaper than worker start-up),
    else a share of the CPUs."""
    if requested is not None:
        if requested < 0:
            raise CLIError(f"--workers must be >= 0, got {requested}")
        return requested
    if isinstance(source, DigitsSource):
        return 0
    return max(0, min(4, (os.cpu_count() or 1) // dist.world_size - 1))


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def eval_loader(
    source: ImageSource,
    transform: Any,
    *,
    indices: Sequence[int] | None,
    mode: str,
    batch_size: int,
    workers: int,
    dist: Dist,
) -> DataLoader:
    """A loader over this rank's shard (every world_size-th sample, no padding, so the summed
    metrics count each sample exactly once)."""
    all_idx = list(range(len(source))) if indices is None else list(indices)
    shard = all_idx[dist.rank :: dist.world_size]
    dataset = TransformDataset(source, transform, indices=shard, mode=mode)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_skipping,
        pin_memory=dist.device.type == "cuda",
        persistent_workers=False,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: torch.device,
    dist: Dist,
    amp_dtype: torch.dtype | None = None,
    input_dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> dict[str, float]:
    """Top-1 / top-5 accuracy (%), mean cross-entropy and throughput, summed over all ranks.

    Returns:
        ``top1``, ``top5``, ``loss``, ``images``, ``skipped``, ``seconds``, ``img_per_sec``.
    """
    was_training = model.training
    model.eval()
    sums = torch.zeros(5, dtype=torch.float64)  # loss, top1, top5, count, skipped
    start = time.perf_counter()
    for images, labels, skipped in loader:
        sums[4] += skipped
        if labels.numel() == 0:
            continue
        images = images.to(device, input_dtype, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = labels.to(device)
        with autocast(device, amp_dtype):
            logits = model(images)
        logits = logits.float()
        k = min(5, logits.shape[-1])
        top = logits.topk(k, dim=-1).indices
        hit = top.eq(labels[:, None])
        sums[0] += F.cross_entropy(logits, labels, reduction="sum").item()
        sums[1] += hit[:, :1].sum().item()
        sums[2] += hit.sum().item()
        sums[3] += labels.numel()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = dist.all_max(time.perf_counter() - start)
    sums = dist.all_sum(sums)
    model.train(was_training)
    n = max(sums[3].item(), 1.0)
    return {
        "top1": 100.0 * sums[1].item() / n,
        "top5": 100.0 * sums[2].item() / n,
        "loss": sums[0].item() / n,
        "images": int(sums[3].item()),
        "skipped": int(sums[4].item()),
        "seconds": elapsed,
        "img_per_sec": sums[3].item() / elapsed if elapsed > 0 else float("nan"),
    }
