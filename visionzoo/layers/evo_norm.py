"""EvoNorm-S0: a batch-independent norm with its own non-linearity (``x * sigmoid(v x) / std``).

Paper: `Evolving Normalization-Activation Layers` - https://arxiv.org/abs/2004.02967
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EvoNorm2dS0", "group_std"]


def group_std(x: torch.Tensor, groups: int, eps: float) -> torch.Tensor:
    """Per-sample, per-group standard deviation of ``(B, C, H, W)``, broadcast back to its shape.

    Computed in float32 (then cast back) so half-precision inputs keep a usable variance.
    """
    b, c, h, w = x.shape
    grouped = x.reshape(b, groups, c // groups, h, w)
    std = grouped.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(eps).sqrt().to(x.dtype)
    return std.expand(grouped.shape).reshape(b, c, h, w)


class EvoNorm2dS0(nn.Module):
    """EvoNorm-S0 over ``groups`` channel groups (or groups of ``group_size`` channels).

    The activation is built in, so it takes no ``act_layer``; ``apply_act=False`` leaves only the
    affine part (no ``v`` parameter), as where a norm closes a residual branch.
    """

    def __init__(
        self,
        num_features: int,
        groups: int = 32,
        group_size: int | None = None,
        apply_act: bool = True,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if group_size:
            if num_features % group_size:
                raise ValueError(f"group_size={group_size} does not divide num_features={num_features}")
            groups = num_features // group_size
        if num_features % groups:
            raise ValueError(f"groups={groups} does not divide num_features={num_features}")
        self.groups = groups
        self.apply_act = apply_act
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(num_features))
        self.bias = nn.Parameter(torch.empty(num_features))
        self.v = nn.Parameter(torch.empty(num_features)) if apply_act else None
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
