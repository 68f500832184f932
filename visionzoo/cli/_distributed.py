"""Multi-process runs under ``torchrun``: process group setup, sharding and metric reduction.

``torchrun --nproc_per_node=N -m visionzoo train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; each process then joins a process group (NCCL on GPUs, gloo on CPU), trains a
``DistributedDataParallel`` replica on its shard of each epoch, and metrics are summed across
processes so every rank reports the same numbers.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from ._args import resolve_device
from ._errors import CLIError

__all__ = ["Dist", "init_distributed", "state_digest"]


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over processes (float64 on the process group's device)."""
        if not self.enabled:
            return values
        t = values.to(self.comm_device, torch.float64).clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu()

    def all_max(self, value: float) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def any_flag(self, flag: bool) -> bool:
        """True on every rank when any rank passes True (to stop all ranks together)."""
        return self.all_max(1.0 if flag else 0.0) > 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics drift apart, since each
        rank normalises its own batches), so all ranks evaluate and save the same model."""
        if not self.enabled:
            return
        for buf in model.buffers():
            if buf.device != self.comm_device:
                tmp = buf.to(self.comm_device)
                dist.broadcast(tmp, src=0)
                buf.copy_(tmp)
            else:
                dist.broadcast(buf, src=0)

    def gather_strings(self, text: str) -> list[str]:
        if not self.enabled:
            return [text]
        out: list[str | None] = [None] * self.world_size
        dist.all_gather_object(out, text)
        return [str(s) for s in out]

    @property
    def comm_device(self) -> torch.device:
        return self.device if dist.is_initialized() and dist.get_backend() == "nccl" else torch.device("cpu")

    def shutdown(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device_name: str | None) -> Dist:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist(device=resolve_device(device_name))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name is None:
        device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    else:
        device = resolve_device(device_name)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise CLIError(f"multi-process runs support cpu (gloo) and cuda (nccl) devices, not {device}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return Dist(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def state_digest(model: nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, values) in key order: equal digests
    mean identical weights and buffers."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
