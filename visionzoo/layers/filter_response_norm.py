"""Filter Response Normalisation with its thresholded linear unit (TLU): ``max(gamma x / rms + beta, tau)``.

Paper: `Filter Response Normalization Layer` - https://arxiv.org/abs/1911.09737
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["FilterResponseNormTlu2d"]


class FilterResponseNormTlu2d(nn.Module):
    """FRN + TLU. Per-sample, per-channel RMS over H, W (no mean subtraction, no batch statistics).

    The activation (TLU, a learned threshold ``tau``) is built in, so it takes no ``act_layer``;
    ``apply_act=False`` drops ``tau``.
    """

    def __init__(
        self,
        num_features: int,
        apply_act: bool = True,
        eps: float = 1e-5,
        rms: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        self.apply_act = apply_act
        self.eps = eps
        # NOTE: timm records rms and its forward never reads it (always the RMS form); so here
        self.rms = rms
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(num_features, **dd))
        self.bias = nn.Parameter(torch.empty(num_features, **dd))
        self.tau = nn.Parameter(torch.empty(num_features, **dd)) if apply_act else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)
        if self.tau is not None:
            nn.init.zeros_(self.tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        inv_rms = x.square().float().mean(dim=(2, 3), keepdim=True).add(self.eps).rsqrt().to(x.dtype)
        x = x * inv_rms * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)
        if self.tau is not None:
            x = torch.maximum(x, self.tau.view(shape).to(x.dtype))
        return x
