"""EvoNorm-S0: a normalisation-activation layer found by search (no running statistics).

Paper: `Evolving Normalization-Activation Layers` - https://arxiv.org/abs/2004.02967
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["EvoNorm2dS0", "EvoNorm2dS0a", "group_std"]


def group_std(x: torch.Tensor, groups: int = 32, eps: float = 1e-5) -> torch.Tensor:
    """Per-sample standard deviation over each channel group (and H, W), broadcast to ``x``."""
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"{c} channels do not split into {groups} groups")
    g = x.reshape(b, groups, c // groups, h, w)
    std = g.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(eps).sqrt().to(x.dtype)
    return std.expand(g.shape).reshape(b, c, h, w)


torch.fx.wrap("group_std")  # checks the channel count against the groups: one node in FX graphs


class EvoNorm2dS0(nn.Module):
    """``x * sigmoid(v * x) / group_std(x) * weight + bias`` (the affine part only without act).

    Takes (and ignores) the ``act_layer`` / ``inplace`` arguments norm+act layers get: the
    non-linearity is built in.
    """

    def __init__(
        self,
        num_features: int,
        groups: int = 32,
        group_size: int | None = None,
        apply_act: bool = True,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        if group_size:
            if num_features % group_size:
                raise ValueError(f"group_size={group_size} does not divide {num_features} channels")
            groups = num_features // group_size
        self.groups = groups
        self.eps = eps
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(num_features, **dd))
        self.bias = nn.Parameter(torch.empty(num_features, **dd))
        self.v: nn.Parameter | None = nn.Parameter(torch.empty(num_features, **dd)) if apply_act else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)
        if self.v is not None:
            nn.init.ones_(self.v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        if self.v is not None:
            v = self.v.view(shape).to(x.dtype)
            x = x * (x * v).sigmoid() / group_std(x, self.groups, self.eps)
        return x * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)


class EvoNorm2dS0a(EvoNorm2dS0):
    """EvoNorm-S0 dividing by the group std of the *input* (before the sigmoid gate), with
    eps 1e-3: ``x * sigmoid(v * x) / group_std(x) * weight + bias``, the std taken of ``x``
    whether or not the gate applies."""

    def __init__(
        self,
        num_features: int,
        groups: int = 32,
        group_size: int | None = None,
        apply_act: bool = True,
        eps: float = 1e-3,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **_: Any,
    ) -> None:
        super().__init__(
            num_features,
            groups=groups,
            group_size=group_size,
            apply_act=apply_act,
            eps=eps,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        std = group_std(x, self.groups, self.eps)
        if self.v is not None:
            x = x * (x * self.v.view(shape).to(x.dtype)).sigmoid()
        return (x / std) * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)
