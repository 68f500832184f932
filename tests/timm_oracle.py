"""timm as a test oracle: build timm's model without paying for its init, and fill every
parameter and buffer with random values so that zero-initialised branches count too."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

timm = __import__("pytest").importorskip("timm")


def materialize_random(model: nn.Module, *, seed: int = 0) -> nn.Module:
    """Give a meta-device model real, random but well-scaled weights and BN statistics."""
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point():
                t.zero_()
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_var":
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif leaf in ("running_mean", "bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif t.ndim <= 1:  # norm scales
                t.copy_(torch.rand(t.shape, generator=gen) * 0.8 + 0.2)
            else:
                fan_in = math.prod(t.shape[1:])
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(fan_in))
    for m in model.modules():  # non-persistent buffers (e.g. blur filters) are recomputed
        has_buffers = any(True for _ in m.buffers(recurse=False))
        has_params = any(True for _ in m.parameters(recurse=False))
        if has_buffers and not has_params and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return model.eval()


# in-place initialisers: on a meta tensor they compute nothing and change no shape
_INIT_OPS = frozenset(
    {
        *("uniform_", "normal_", "trunc_normal_", "exponential_", "bernoulli_", "random_"),
        *("clamp_", "clamp_min_", "clamp_max_", "erfinv_", "exp_", "log_", "sqrt_", "neg_", "abs_"),
        *("mul_", "add_", "sub_", "div_", "fill_", "zero_", "copy_"),
    }
)


class _NoInitOnMeta(TorchFunctionMode):
    """Skip in-place initialisers on meta tensors. timm initialises the meta model it builds, and
    its ``trunc_normal_`` (``clamp_`` on meta runs a Python decomposition) costs five times the
    build itself for a ViT; the model built is the same."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in _INIT_OPS and args and getattr(args[0], "is_meta", False):
            return args[0]
        return func(*args, **(kwargs or {}))


def timm_on_meta(name: str, **kwargs) -> nn.Module:
    """timm's ``name`` on the meta device: structure, no storage, no init."""
    with torch.device("meta"), _NoInitOnMeta():
        return timm.create_model(name, pretrained=False, **kwargs)


def timm_model(name: str, **kwargs) -> nn.Module:
    return materialize_random(timm_on_meta(name, **kwargs))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference relative to the reference's max magnitude."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
