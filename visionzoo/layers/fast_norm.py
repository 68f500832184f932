"""Normalisation functions that stay in the autocast dtype.

Under native AMP, PyTorch computes group / layer norm in float32 and returns float32; these
``fast_*`` forms cast the inputs to the autocast dtype instead and normalise there (as NVIDIA
apex's fused kernels do), and use apex's kernels when apex is installed. Outside autocast they
equal the plain functions. Names, arguments and module flags (``has_apex``, ``has_apex_rmsnorm``,
``set_fast_norm``) are timm's; under TorchScript each ``fast_*`` is its plain function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

try:
    from apex.normalization.fused_layer_norm import fused_layer_norm_affine

    has_apex = True
except ImportError:
    has_apex = False

try:
    from apex.normalization.fused_layer_norm import fused_rms_norm, fused_rms_norm_affine

    has_apex_rmsnorm = True
except ImportError:
    has_apex_rmsnorm = False

has_torch_rms_norm = hasattr(F, "rms_norm")

__all__ = [
    "fast_group_norm",
    "fast_layer_norm",
    "fast_rms_norm",
    "fast_rms_norm2d",
    "fast_simple_norm",
    "get_autocast_dtype",
    "is_autocast_enabled",
    "is_fast_norm",
    "rms_norm",
    "rms_norm2d",
    "set_fast_norm",
    "simple_norm",
]

# timm's process-wide switch (off by default), read by layers that offer the fast form
_USE_FAST_NORM = False


def get_autocast_dtype(device: str = "cuda") -> torch.dtype:
    """The dtype autocast computes in on ``device`` ('cuda', 'cpu', ...)."""
    return torch.get_autocast_dtype(device)


def is_autocast_enabled(device: str = "cuda") -> bool:
    """Whether autocast is on for ``device`` ('cuda', 'cpu', ...)."""
    return torch.is_autocast_enabled(device)


def is_fast_norm() -> bool:
    return _USE_FAST_NORM


def set_fast_norm(enable: bool = True) -> None:
    global _USE_FAST_NORM
    _USE_FAST_NORM = enable


def _to_autocast_dtype(
    x: torch.Tensor, *params: torch.Tensor | None
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """``x`` and ``params`` cast to the autocast dtype of ``x``'s device (unchanged outside autocast)."""
    if not is_autocast_enabled(x.device.type):
        return x, list(params)
    dt = get_autocast_dtype(x.device.type)
    return x.to(dt), [p.to(dt) if p is not None else None for p in params]


def fast_group_norm(
    x: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``F.group_norm`` in the autocast dtype."""
    if torch.jit.is_scripting():
        return F.group_norm(x, num_groups, weight, bias, eps)
    x, (weight, bias) = _to_autocast_dtype(x, weight, bias)
    with torch.amp.autocast(device_type=x.device.type, enabled=False):
        return F.group_norm(x, num_groups, weight, bias, eps)


def fast_layer_norm(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``F.layer_norm`` in the autocast dtype (apex's fused kernel when installed)."""
    if torch.jit.is_scripting():
        return F.layer_norm(x, normalized_shape, weight, bias, eps)
    if has_apex:
        return fused_layer_norm_affine(x, weight, bias, normalized_shape, eps)
    x, (weight, bias) = _to_autocast_dtype(x, weight, bias)
    with torch.amp.autocast(device_type=x.device.type, enabled=False):
        return F.layer_norm(x, normalized_shape, weight, bias, eps)


def _scale_norm(
    x: torch.Tensor, v: torch.Tensor, weight: torch.Tensor | None, eps: float, channel_dim: int
) -> torch.Tensor:
    x = x * torch.rsqrt(v + eps)
    if weight is None:
        return x
    return x * (weight.reshape(1, -1, 1, 1) if channel_dim == 1 else weight)


def rms_norm(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``x * rsqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dims."""
    n = len(normalized_shape)
    dims = [-1 - i for i in range(n)]
    return _scale_norm(x, x.pow(2).mean(dim=dims, keepdim=True), weight, eps, -1)


def rms_norm2d(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """RMS norm over the channels (dim 1) of an NCHW map; ``normalized_shape`` is ``[C]``."""
    if len(normalized_shape) != 1:
        raise ValueError("rms_norm2d normalises one (channel) dim: normalized_shape must be [C]")
    return _scale_norm(x, x.pow(2).mean(dim=1, keepdim=True), weight, eps, 1)


def simple_norm(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``x * rsqrt(var(x) + eps) * weight`` (unbiased variance, no mean subtraction) over the
    trailing ``normalized_shape`` dims."""
    n = len(normalized_shape)
    dims = [-1 - i for i in range(n)]
    return _scale_norm(x, torch.var(x, dim=dims, keepdim=True), weight, eps, -1)


def fast_rms_norm(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """:func:`rms_norm` in the autocast dtype (apex's fused kernel when installed)."""
    if torch.jit.is_scripting():
        return rms_norm(x, normalized_shape, weight, eps)
    if has_apex_rmsnorm:
        if weight is None:
            return fused_rms_norm(x, normalized_shape, eps)
        return fused_rms_norm_affine(x, weight, normalized_shape, eps)
    x, (weight,) = _to_autocast_dtype(x, weight)
    with torch.amp.autocast(device_type=x.device.type, enabled=False):
        if has_torch_rms_norm:
            return F.rms_norm(x, normalized_shape, weight, eps)
        return rms_norm(x, normalized_shape, weight, eps)


def fast_rms_norm2d(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """:func:`rms_norm2d` in the autocast dtype (apex's kernel on the NHWC view when installed)."""
    if torch.jit.is_scripting():
        return rms_norm2d(x, normalized_shape, weight, eps)
    if has_apex_rmsnorm:
        x = x.permute(0, 2, 3, 1)
        if weight is None:
            x = fused_rms_norm(x, normalized_shape, eps)
        else:
            x = fused_rms_norm_affine(x, weight, normalized_shape, eps)
        return x.permute(0, 3, 1, 2)
    x, (weight,) = _to_autocast_dtype(x, weight)
    with torch.amp.autocast(device_type=x.device.type, enabled=False):
        return rms_norm2d(x, normalized_shape, weight, eps)


def fast_simple_norm(
    x: torch.Tensor,
    normalized_shape: list[int],
    weight: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """:func:`simple_norm` in the autocast dtype."""
    if torch.jit.is_scripting():
        return simple_norm(x, normalized_shape, weight, eps)
    x, (weight,) = _to_autocast_dtype(x, weight)
    with torch.amp.autocast(device_type=x.device.type, enabled=False):
        return simple_norm(x, normalized_shape, weight, eps)
