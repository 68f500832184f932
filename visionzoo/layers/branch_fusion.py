"""Re-parameterisation arithmetic, written once: a linear training branch as one conv.

RepVGG, MobileOne, GhostNetV3, RepGhost, RepViT and the other re-parameterisable blocks train
with parallel branches -- a conv then a norm, a norm alone (the identity), a conv whose norm
``optimize_for_inference`` already folded -- and infer as one conv holding their sum. Each branch
is a kernel and a bias; :func:`branch_kernel_bias` gives them (in float64, so the sum of a dozen
branches stays exact to fp32), :func:`norm_scale_shift` the per-channel affine map of an eval
norm, :func:`conv_like` the conv that holds the result.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["branch_kernel_bias", "conv_like", "norm_scale_shift"]


def norm_scale_shift(
    norm: nn.Module, *, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel ``(scale, shift)`` an eval-mode batch norm applies (``y = x * scale +
    shift``), in ``dtype`` (default: the norm's own); a norm without affine parameters scales by
    its statistics alone."""
    mean, var = cast(torch.Tensor, norm.running_mean), cast(torch.Tensor, norm.running_var)
    dtype = dtype or mean.dtype
    scale = torch.rsqrt(var.to(dtype) + cast(float, norm.eps))
    weight, bias = cast("torch.Tensor | None", norm.weight), cast("torch.Tensor | None", norm.bias)
    if weight is not None:
        scale = scale * weight.to(dtype)
    shift = -mean.to(dtype) * scale
    if bias is not None:
        shift = shift + bias.to(dtype)
    return scale, shift


def branch_kernel_bias(
    conv: nn.Module | None, norm: nn.Module | None, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kernel, bias)`` in float64 of one branch as a conv shaped like ``like`` (a smaller kernel
    centred in it): ``conv`` then ``norm`` with its eval statistics folded in. A norm already folded
    into the conv (no running statistics), or none, leaves the conv's own weight and bias; no
    ``conv`` is the identity (output channel i reads its own input channel, within its group, at
    the kernel centre) before ``norm``."""
    if conv is not None:
        kernel = cast(torch.Tensor, conv.weight).double()
        conv_bias = cast("torch.Tensor | None", conv.bias)
        base = conv_bias.double() if conv_bias is not None else torch.zeros_like(kernel[:, 0, 0, 0])
    else:
        kernel = torch.zeros_like(like, dtype=torch.float64)
        idx = torch.arange(kernel.shape[0])
        kernel[idx, idx % kernel.shape[1], kernel.shape[2] // 2, kernel.shape[3] // 2] = 1.0
        base = torch.zeros_like(kernel[:, 0, 0, 0])
    pad_h, pad_w = (like.shape[2] - kernel.shape[2]) // 2, (like.shape[3] - kernel.shape[3]) // 2
    kernel = F.pad(kernel, [pad_w, pad_w, pad_h, pad_h])
    if norm is None or any(getattr(norm, s, None) is None for s in ("running_mean", "running_var")):
        return kernel, base  # folded already, or no norm
    scale, shift = norm_scale_shift(norm, dtype=torch.float64)
    return kernel * scale.view(-1, 1, 1, 1), base * scale + shift


def conv_like(ref: nn.Conv2d, kernel: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A biased conv with ``ref``'s geometry, device and dtype holding ``kernel`` / ``bias`` (cast
    to that dtype), in ``ref``'s train / eval mode."""
    conv = nn.Conv2d(
        ref.in_channels,
        ref.out_channels,
        cast("tuple[int, int]", ref.kernel_size),
        stride=cast("tuple[int, int]", ref.stride),
        padding=cast("str | tuple[int, int]", ref.padding),
        dilation=cast("tuple[int, int]", ref.dilation),
        groups=ref.groups,
        padding_mode=ref.padding_mode,
        device=ref.weight.device,
        dtype=ref.weight.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(kernel.to(ref.weight.dtype))
        cast(torch.Tensor, conv.bias).copy_(bias.to(ref.weight.dtype))
    return conv.train(ref.training)
