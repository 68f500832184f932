"""Folding parallel conv + norm training branches (RepVGG-style re-parameterisation) into the
one conv they compute at inference: each branch becomes a ``(kernel, bias)`` pair, the pairs sum,
and the sum goes into a conv of the branch's geometry.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["conv_like", "conv_norm_kernel_bias"]


def conv_norm_kernel_bias(
    conv: nn.Module | None, norm: nn.Module, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kernel, bias)`` in float64 of one training branch as a conv shaped like ``like``
    (centred): ``conv`` then ``norm`` with its eval statistics folded in (a norm already folded
    into the conv, or none, gives the conv's own weight and bias); no ``conv``: the identity
    (channel i reads its own input channel at the kernel centre) then ``norm``."""
    if conv is not None:
        kernel = cast(torch.Tensor, conv.weight).double()
        bias = cast("torch.Tensor | None", conv.bias)
        base = bias.double() if bias is not None else torch.zeros_like(kernel[:, 0, 0, 0])
    else:
        kernel = torch.zeros_like(like, dtype=torch.float64)
        idx = torch.arange(kernel.shape[0])
        kernel[idx, idx % kernel.shape[1], kernel.shape[2] // 2, kernel.shape[3] // 2] = 1.0
        base = torch.zeros_like(kernel[:, 0, 0, 0])
    pad_h, pad_w = (like.shape[2] - kernel.shape[2]) // 2, (like.shape[3] - kernel.shape[3]) // 2
    kernel = F.pad(kernel, [pad_w, pad_w, pad_h, pad_h])
    mean, var = getattr(norm, "running_mean", None), getattr(norm, "running_var", None)
    if mean is None or var is None:
        return kernel, base
    weight, norm_bias = cast("torch.Tensor | None", norm.weight), cast("torch.Tensor | None", norm.bias)
    scale = torch.rsqrt(var.double() + cast(float, norm.eps))
    if weight is not None:
        scale = scale * weight.double()
    shift = norm_bias.double() - mean.double() * scale if norm_bias is not None else -mean.double() * scale
    return kernel * scale.view(-1, 1, 1, 1), base * scale + shift


def conv_like(ref: nn.Conv2d, kernel: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A biased conv with ``ref``'s geometry holding ``kernel`` / ``bias`` (cast to its dtype)."""
    conv = nn.Conv2d(
        ref.in_channels,
        ref.out_channels,
        cast("tuple[int, int]", ref.kernel_size),
        stride=cast("tuple[int, int]", ref.stride),
        padding=cast("str | tuple[int, int]", ref.padding),
        dilation=cast("tuple[int, int]", ref.dilation),
        groups=ref.groups,
        device=ref.weight.device,
        dtype=ref.weight.dtype,
    )
    assert conv.bias is not None
    conv.weight.copy_(kernel.to(ref.weight.dtype))
    conv.bias.copy_(bias.to(ref.weight.dtype))
    return conv
