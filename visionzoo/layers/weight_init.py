"""Weight initialisers under the names timm code calls (``trunc_normal_`` and friends).

``trunc_normal_`` samples N(mean, std) truncated to the absolute range ``[a, b]``;
``trunc_normal_tf_`` truncates the *standard* normal to ``[a, b]`` and then scales, as
TensorFlow's initialiser does (so ``a``/``b`` count in standard deviations).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "init_weight_jax",
    "init_weight_vit",
    "lecun_normal_",
    "trunc_normal_",
    "trunc_normal_tf_",
    "variance_scaling_",
]


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


def init_weight_vit(
    module: nn.Module,
    name: str,
    init_bias: float = 0.02,
    head_bias: float = 0.0,
    classifier_name: str = "head",
) -> None:
    """Per-module ViT-style init for :func:`~visionzoo.model.named_apply` (timm's call, used by
    Hiera and HieraDet): truncated-normal (std 0.02) linears and convs, linear biases at
    ``init_bias``; the classifier (``name`` under ``classifier_name``) starts at zero weights."""
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        if name.startswith(classifier_name):
            nn.init.zeros_(module.weight)
            if module.bias is not None:
                nn.init.constant_(module.bias, head_bias)
            return
        nn.init.trunc_normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.constant_(module.bias, init_bias)
    elif callable(init := getattr(module, "init_weights", None)):
        init()


def init_weight_jax(
    module: nn.Module, name: str, head_bias: float = 0.0, classifier_name: str = "head"
) -> None:
    """Per-module JAX (Flax) style init for :func:`~visionzoo.model.named_apply`: xavier-uniform
    linears (tiny normal biases in MLPs, else zero), lecun-normal convs, a zero classifier."""
    if isinstance(module, nn.Linear):
        if name.startswith(classifier_name):
            nn.init.zeros_(module.weight)
            if module.bias is not None:
                nn.init.constant_(module.bias, head_bias)
            return
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            if "mlp" in name:
                nn.init.normal_(module.bias, std=1e-6)
            else:
                nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        lecun_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif callable(init := getattr(module, "init_weights", None)):
        init()
