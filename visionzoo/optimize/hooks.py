"""The dtype and memory-format boundary of an optimised model.

Inputs are cast to the model's compute dtype (and channels_last) on the way in and outputs
back to the caller's dtype on the way out, for ``model(x)`` and the VisionModel methods that
take images or feature maps; the final classifier can stay fp32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map

__all__ = ["install_boundary", "keep_classifier_fp32"]


def _to_compute(x: Any, dtype: torch.dtype, channels_last: bool) -> Any:
    def convert(t: Any) -> Any:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            return t
        if t.dtype != dtype:
            t = t.to(dtype)
        if channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    return tree_map(convert, x)


def _to_caller(out: Any, dtype: torch.dtype) -> Any:
    def convert(t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != dtype:
            return t.to(dtype)
        return t

    return tree_map(convert, out)


def _input_dtype(args: Any) -> torch.dtype | None:
    return next(
        (t.dtype for t in tree_flatten(args)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()),
        None,
    )


class _Boundary:
    """Casts inputs to the model's compute dtype/layout and outputs back to the caller's dtype.

    Installed as forward pre/post hooks on the root module (for ``model(x)``) and as
    per-instance wrappers of the VisionModel methods that take images or feature maps.
    """

    def __init__(self, dtype: torch.dtype, channels_last: bool) -> None:
        self.dtype = dtype
        self.channels_last = channels_last
        self._caller: list[torch.dtype | None] = []

    def pre_hook(self, _module: nn.Module, args: Any, kwargs: Any) -> tuple[Any, Any]:
        self._caller.append(_input_dtype(args))
        return _to_compute(args, self.dtype, self.channels_last), kwargs

    def post_hook(self, _module: nn.Module, _args: Any, _kwargs: Any, out: Any) -> Any:
        caller = self._caller.pop() if self._caller else None
        return out if caller is None else _to_caller(out, caller)


class _BoundaryMethod:
    """A model method with the :class:`_Boundary` conversions around it (picklable)."""

    def __init__(self, model: nn.Module, name: str, boundary: _Boundary) -> None:
        self.model = model
        self.name = name
        self.boundary = boundary

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        caller = _input_dtype(args)
        args = _to_compute(args, self.boundary.dtype, self.boundary.channels_last)
        out = getattr(type(self.model), self.name)(self.model, *args, **kwargs)
        return out if caller is None else _to_caller(out, caller)


_WRAPPED_METHODS = ("forward_features", "forward_head", "forward_intermediates")


def _image_dtype(model: nn.Module, dtype: torch.dtype) -> torch.dtype:
    """fp32 where a module of ``model`` says it takes full-precision images (a class attribute
    ``fp32_images = True``: CSATv2's DCT stem, whose high frequencies are finer than bf16's
    rounding of the pixels; it casts to the compute dtype itself), else the compute dtype."""
    return torch.float32 if any(getattr(m, "fp32_images", False) for m in model.modules()) else dtype


def install_boundary(
    model: nn.Module, dtype: torch.dtype, channels_last: bool, *, hooks: bool = True
) -> None:
    boundary = _Boundary(_image_dtype(model, dtype), channels_last)  # images in
    features = _Boundary(dtype, channels_last)  # feature maps in (forward_head)
    if hooks:
        model.register_forward_pre_hook(boundary.pre_hook, with_kwargs=True)
        model.register_forward_hook(boundary.post_hook, with_kwargs=True, always_call=True)
    else:  # called by compiled.compiled_entry's forward, inside the compiled graph
        object.__setattr__(model, "_vz_forward", _BoundaryMethod(model, "forward", boundary))
    for name in _WRAPPED_METHODS:
        if callable(getattr(type(model), name, None)):
            which = features if name == "forward_head" else boundary
            object.__setattr__(model, name, _BoundaryMethod(model, name, which))


def _inputs_to_fp32(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def keep_classifier_fp32(model: nn.Module) -> None:
    """Run the final classifier in fp32: a negligible share of the FLOPs, and the logits are not
    rounded to bf16's 8-bit mantissa (which would turn close calls into ties)."""
    getter = getattr(model, "get_classifier", None)
    fc = getter() if callable(getter) else None
    if isinstance(fc, nn.Module) and any(True for _ in fc.parameters()):
        fc.float()
        fc.register_forward_pre_hook(_inputs_to_fp32)
