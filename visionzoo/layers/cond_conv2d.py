"""Conditionally parameterised convolution: per-sample kernels mixed from expert kernels.

Paper: `CondConv: Conditionally Parameterized Convolutions for Efficient Inference`
- https://arxiv.org/abs/1904.04971
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple
from .padding import get_padding_value, pad_same

__all__ = ["CondConv2d"]

# NOTE: the "same" padding depends on the input's shape: FX traces keep the call as one node
torch.fx.wrap("pad_same")


class CondConv2d(nn.Module):
    """A conv whose kernel is ``routing_weights @ experts`` for each sample.

    ``weight`` is ``(num_experts, out * in/groups * kh * kw)``: one flattened kernel per expert
    (the layout of the published checkpoints). The batch runs as one grouped conv.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: str | int = "",
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        num_experts: int = 4,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = to_2tuple(kernel_size)
        self.stride = to_2tuple(stride)
        pad, self.dynamic_padding = get_padding_value(padding, kernel_size, stride=stride, dilation=dilation)
        self.padding = to_2tuple(pad)
        self.dilation = to_2tuple(dilation)
        self.groups = groups
        self.num_experts = num_experts
        self.weight_shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(num_experts, math.prod(self.weight_shape)))
        if bias:
            self.bias: nn.Parameter | None = nn.Parameter(torch.empty(num_experts, out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in = math.prod(self.weight_shape[1:])
        for i in range(self.num_experts):
            nn.init.kaiming_uniform_(self.weight[i].view(self.weight_shape), a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, routing_weights: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = torch.matmul(routing_weights, self.weight)
        weight = weight.view((b * self.out_channels, self.in_channels // self.groups, *self.kernel_size))
        bias = None
        if self.bias is not None:
            bias = torch.matmul(routing_weights, self.bias).view(b * self.out_channels)
        x = x.reshape(1, b * c, h, w)
        if self.dynamic_padding:
            x = pad_same(x, self.kernel_size, self.stride, self.dilation)
        out = F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups * b)
        return out.permute([1, 0, 2, 3]).view(b, self.out_channels, out.shape[-2], out.shape[-1])
