"""Global context attention: softmax-pooled context, a bottleneck MLP, a channel gate.

Paper: `GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond`
- https://arxiv.org/abs/1904.11492
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType, act_or_identity, get_act_layer
from .helpers import make_divisible
from .layer_norm import LayerNorm2d

__all__ = ["ConvMlp", "GlobalContext"]


class ConvMlp(nn.Module):
    """1x1 conv -> norm -> act -> 1x1 conv on NCHW maps (keys ``fc1``, ``norm``, ``fc2``)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        *,
        act_layer: LayerType = nn.ReLU,
        norm_layer: type[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.norm = norm_layer(hidden_features) if norm_layer else nn.Identity()
        self.act = act_or_identity(act_layer)
        self.fc2 = nn.Conv2d(hidden_features, in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.norm(self.fc1(x))))


class GlobalContext(nn.Module):
    """Context pooled with a learned softmax over pixels (``conv_attn``), then a gated scale
    (``mlp_scale``) and / or an added term (``mlp_add``)."""

    def __init__(
        self,
        channels: int,
        use_attn: bool = True,
        fuse_add: bool = False,
        fuse_scale: bool = True,
        init_last_zero: bool = False,
        rd_ratio: float = 1.0 / 8,
        rd_channels: int | None = None,
        rd_divisor: int = 1,
        act_layer: LayerType = nn.ReLU,
        gate_layer: LayerType = "sigmoid",
    ) -> None:
        super().__init__()
        act = get_act_layer(act_layer) or nn.ReLU
        self.conv_attn = nn.Conv2d(channels, 1, kernel_size=1, bias=True) if use_attn else None
        if rd_channels is None:
            rd_channels = make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.0)
        self.mlp_add = (
            ConvMlp(channels, rd_channels, act_layer=act, norm_layer=LayerNorm2d) if fuse_add else None
        )
        self.mlp_scale = (
            ConvMlp(channels, rd_channels, act_layer=act, norm_layer=LayerNorm2d) if fuse_scale else None
        )
        self.gate = act_or_identity(gate_layer)
        self.init_last_zero = init_last_zero
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.conv_attn is not None:
            nn.init.kaiming_normal_(self.conv_attn.weight, mode="fan_in", nonlinearity="relu")
        if self.mlp_add is not None:
            nn.init.zeros_(self.mlp_add.fc2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if self.conv_attn is not None:
            attn = F.softmax(self.conv_attn(x).reshape(b, 1, h * w), dim=-1).unsqueeze(3)
            context = (x.reshape(b, c, h * w).unsqueeze(1) @ attn).view(b, c, 1, 1)
        else:
            context = x.mean(dim=(2, 3), keepdim=True)
        if self.mlp_scale is not None:
            x = x * self.gate(self.mlp_scale(context))
        if self.mlp_add is not None:
            x = x + self.mlp_add(context)
        return x
