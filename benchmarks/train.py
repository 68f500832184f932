"""One training step (forward, loss, backward, SGD update), set up identically for both libraries."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

TRAIN_MODES = ("default", "cl-bf16", "ckpt", "compiled")


def make_train_step(
    model: nn.Module, batch_size: int, img_size: int, mode: str = "default"
) -> Callable[[], None]:
    """A closure running one step of ``model`` on a fixed random batch.

    Modes: ``default`` (fp32, NCHW), ``cl-bf16`` (channels_last + bf16 autocast),
    ``ckpt`` (gradient checkpointing, fp32), ``compiled`` (fp32 through ``torch.compile``,
    inductor; the first step compiles).
    """
    model.train()
    x = torch.randn(batch_size, 3, img_size, img_size)
    y = torch.randint(0, getattr(model, "num_classes", 1000) or 1000, (batch_size,))
    amp: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext
    if mode == "cl-bf16":
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

        def amp() -> contextlib.AbstractContextManager[object]:
            return torch.autocast("cpu", dtype=torch.bfloat16)

    elif mode == "ckpt":
        model.set_grad_checkpointing(True)
    elif mode not in ("default", "compiled"):
        raise ValueError(f"unknown train mode {mode!r}; valid: {', '.join(TRAIN_MODES)}")
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    run = torch.compile(model) if mode == "compiled" else model

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with amp():
            out = run(x)
        F.cross_entropy(out.float(), y).backward()
        opt.step()

    return step
