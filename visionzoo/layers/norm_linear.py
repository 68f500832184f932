"""BatchNorm1d -> dropout -> linear: the classifier of LeViT and EfficientViT (MSRA), whose batch
norm folds into the linear layer for inference."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .weight_init import trunc_normal_

__all__ = ["NormLinear"]


class NormLinear(nn.Module):
    """The classifier: BatchNorm1d, dropout, linear."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        std: float = 0.02,
        drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.bn = nn.BatchNorm1d(in_features, **dd)
        self.drop = nn.Dropout(drop)
        self.linear = nn.Linear(in_features, out_features, bias=bias, **dd)
        self.std = std
        if not self.linear.weight.is_meta:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        trunc_normal_(self.linear.weight, std=self.std)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.drop(self.bn(x)))
