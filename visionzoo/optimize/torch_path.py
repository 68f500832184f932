"""The torch engine at fp32 / bf16 / fp16: a copy of the model, folded, cast, packed and
bounded (and compiled, if asked), computing the same function faster in this process.

:data:`TORCH_ENGINE` is its row of the engine table (:mod:`visionzoo.engines`), which
:mod:`visionzoo.optimize` registers; :func:`visionzoo.optimize_for_inference` is the public entry.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..engines import BuildJob, Engine
from .compiled import compiled_entry
from .fold import fold_batch_norm, fold_layer_scales
from .hooks import install_boundary, keep_classifier_fp32
from .pack import PackedConv2d, PackedLinear, cpu_linears, pack, packable_convs
from .precision import resolve_precision

__all__ = ["TORCH_ENGINE", "optimize_eager"]


def _auto_channels_last(model: nn.Module, device: torch.device) -> bool:
    """channels_last pays for convnets wherever oneDNN (CPU) or cuDNN tensor cores (GPU) run them.

    Measured on a 2-core AVX-512 CPU with batch 8 (see docs/performance.md): 1.4-2x for every
    seed family with it, never slower.
    """
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    if not has_conv:
        return False
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available()
    return device.type == "cuda"


def _model_device(model: nn.Module) -> torch.device:
    ref = next(iter(model.parameters()), None)
    return ref.device if ref is not None else torch.device("cpu")


def _rebind(fn: Any, memo: dict[int, Any]) -> Any:
    """``fn`` with the objects it closes over (or is bound to) swapped for their deep copies."""
    if isinstance(fn, types.MethodType):
        owner = memo.get(id(fn.__self__))
        return fn if owner is None else types.MethodType(fn.__func__, owner)
    if not isinstance(fn, types.FunctionType) or not fn.__closure__:
        return fn
    cells = []
    for cell in fn.__closure__:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            cells.append(cell)
            continue
        cells.append(types.CellType(memo.get(id(value), value)))
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, tuple(cells))
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy whose hooks act on the copy.

    ``copy.deepcopy`` shares functions, so a hook closing over state of the original (feature
    taps recording outputs, for one) would keep writing into the original; rebind those.
    """
    memo: dict[int, Any] = {}
    new = copy.deepcopy(model, memo)
    for module in new.modules():
        for attr in _HOOK_DICTS:
            hooks = getattr(module, attr, None)
            if hooks:
                for key, fn in list(hooks.items()):
                    hooks[key] = _rebind(fn, memo)
    return new


def optimize_eager(
    model: nn.Module,
    *,
    precision: str | torch.dtype = "fp32",
    channels_last: bool | None = None,
    fold_bn: bool = True,
    compile: bool | str = False,
) -> nn.Module:
    """A copy of ``model`` optimised in this process (the arguments as in
    :func:`visionzoo.optimize_for_inference`, which checks their types); ``model`` is left
    untouched."""
    device = _model_device(model)
    dtype = resolve_precision(precision, device)
    if channels_last is None:
        channels_last = _auto_channels_last(model, device)

    fast = _copy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    if fold_bn:
        fold_batch_norm(fast)
        for module in fast.modules():  # family-specific exact folds (e.g. ConvNeXt's layer scale)
            fuse = getattr(module, "fuse_for_inference", None)
            if callable(fuse):
                fuse()
        fold_layer_scales(fast)
    if dtype != torch.float32:
        fast.to(dtype)
        keep_classifier_fp32(fast)
    if channels_last:
        fast.to(memory_format=torch.channels_last)
    if not compile and device.type == "cpu" and torch.backends.mkldnn.is_available():
        # (inductor does its own packing and fusion when compiling); one trace for both kinds
        packers: dict[str, Callable[[Any, nn.Module | None], nn.Module]] = {}
        if channels_last:
            packers.update((n, PackedConv2d) for n in packable_convs(fast))
        if dtype in (torch.float32, torch.bfloat16):
            packers.update((n, PackedLinear) for n in cpu_linears(fast, None))
        pack(fast, packers, None)
    install_boundary(fast, dtype, channels_last, hooks=not compile)
    if compile:
        return compiled_entry(fast, "inductor" if compile is True else compile)
    return fast


def _build(job: BuildJob) -> nn.Module:
    options = job.torch_options
    return optimize_eager(
        job.model,
        precision=job.precision,
        channels_last=options.channels_last,
        fold_bn=options.fold_bn,
        compile=options.compile,
    )


# unchecked: the model's own modules, exact in fp32 (and tested for bf16 / fp16 agreement)
TORCH_ENGINE = Engine("torch", ("fp32", "bf16", "fp16"), _build, checked=False)
