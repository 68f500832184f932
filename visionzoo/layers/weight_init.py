"""Weight initialisers under the names timm code calls (``trunc_normal_`` and friends).

``trunc_normal_`` samples N(mean, std) truncated to the absolute range ``[a, b]``;
``trunc_normal_tf_`` truncates the *standard* normal to ``[a, b]`` and then scales, as
TensorFlow's initialiser does (so ``a``/``b`` count in standard deviations).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["lecun_normal_", "trunc_normal_", "trunc_normal_tf_", "variance_scaling_"]


def trunc_normal_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from N(mean, std) truncated to ``[a, b]``; returns it."""
    return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


def trunc_normal_tf_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from N(0, 1) truncated to ``[a, b]``, then ``* std + mean``."""
    with torch.no_grad():
        nn.init.trunc_normal_(tensor, mean=0.0, std=1.0, a=a, b=b)
        return tensor.mul_(std).add_(mean)


def variance_scaling_(
    tensor: torch.Tensor, scale: float = 1.0, mode: str = "fan_in", distribution: str = "normal"
) -> torch.Tensor:
    """TensorFlow's variance-scaling initialiser: variance ``scale / fan`` (fan_in, fan_out or their
    mean), drawn from a truncated normal, a normal or a uniform distribution."""
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(tensor)
    fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
    if mode not in fans:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(fans)}")
    variance = scale / fans[mode]
    if distribution == "truncated_normal":
        # the std of N(0, 1) truncated to [-2, 2]
        return trunc_normal_tf_(tensor, std=math.sqrt(variance) / 0.87962566103423978)
    if distribution == "normal":
        with torch.no_grad():
            return tensor.normal_(std=math.sqrt(variance))
    if distribution == "uniform":
        bound = math.sqrt(3 * variance)
        with torch.no_grad():
            return tensor.uniform_(-bound, bound)
    raise ValueError(f"unknown distribution {distribution!r}; valid: 'truncated_normal', 'normal', 'uniform'")


def lecun_normal_(tensor: torch.Tensor) -> torch.Tensor:
    """LeCun normal: truncated normal with variance ``1 / fan_in``."""
    return variance_scaling_(tensor, mode="fan_in", distribution="truncated_normal")
