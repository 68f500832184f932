"""Inference optimisation: batch-norm folding, channels_last, reduced precision, torch.compile.

:func:`optimize_for_inference` returns a copy of a model that computes the same function faster
on the hardware at hand. Conv -> BatchNorm pairs are found by tracing forward passes and
watching which tensors flow where, so any family (and any ``nn.Module``) benefits without
family-specific code: a batch norm is folded into the convolution whose output it normalises
when that output is used by nothing else. On CPUs with oneDNN, convolutions then get their
weights reordered once and the activation that alone reads their output fused into them.

The pieces, one job each: :mod:`.precision` (what a device runs natively), :mod:`.trace` (who
reads which tensor), :mod:`.fold` (batch norms and layer scales), :mod:`.reparam` (training
branches fused into one layer), :mod:`.pack` (oneDNN layers), :mod:`.hooks` (the dtype / layout
boundary), :mod:`.compiled` (``torch.compile``) and
:mod:`.torch_path` (the torch engine, which puts them together). Which engine builds the
result is the engine table's business (:mod:`visionzoo.engines`): this package adds the torch engine's
row to it, and imports go this package -> engines, never back.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..engines import TorchOptions, build_for_inference, register_engine
from .compiled import check_compile_backend
from .fold import FoldedNormAct, count_batch_norms, find_conv_bn_pairs, fold_batch_norm, fold_layer_scales
from .pack import PackedConv2d, PackedLinear, pack_convolutions, pack_linears
from .precision import precision_name, resolve_precision, supported_precisions
from .reparam import reparameterize
from .torch_path import TORCH_ENGINE

__all__ = [
    "FoldedNormAct",
    "PackedConv2d",
    "PackedLinear",
    "check_compile_backend",
    "count_batch_norms",
    "find_conv_bn_pairs",
    "fold_batch_norm",
    "fold_layer_scales",
    "optimize_for_inference",
    "pack_convolutions",
    "pack_linears",
    "reparameterize",
    "resolve_precision",
    "supported_precisions",
]

# the torch engine's fp32 / bf16 / fp16 path joins the engine table (which never imports it)
register_engine(TORCH_ENGINE)


def optimize_for_inference(
    model: nn.Module,
    *,
    precision: str | torch.dtype = "fp32",
    channels_last: bool | None = None,
    fold_bn: bool = True,
    compile: bool | str = False,
    engine: str = "torch",
    batch_size: int = 1,
    calibration: Any = None,
    engine_cache_dir: str | None = None,
) -> nn.Module:
    """A copy of ``model`` for fast inference; ``model`` itself is left untouched.

    Same call signature as the original: images in, logits (or features) out, in the caller's
    dtype. The VisionModel methods (``forward_features``, ``forward_head``,
    ``forward_intermediates``) keep working on the copy; parameters are frozen (no autograd).

    Args:
        model: the model (any ``nn.Module``; folding is found by tracing, not by family).
        precision: ``"fp32"`` (exact up to float rounding), ``"bf16"`` or ``"fp16"``; weights are
            stored and run in that dtype (the final classifier stays fp32). Raises
            ``ValueError`` where the hardware lacks native support.
        channels_last: NHWC memory format; ``None`` picks it where it pays (convnets on
            oneDNN CPUs and on GPUs).
        fold_bn: fold batch norms into the convolutions before them (exact in fp32), layer
            scales into the layers before them, and apply the exact folds of modules that offer
            one (a ``fuse_for_inference()`` method).
        compile: ``True`` wraps the result in ``torch.compile`` (inductor, with its weight
            freezing under ``torch.inference_mode()`` / ``torch.no_grad()``: the compiled model
            keeps the weights it was first called with); a string names another backend. Needs
            a working compiler toolchain; the first call, and each new input shape, compiles
            (seconds to a minute on a CPU). See docs/performance.md for when it pays.
        engine: ``"torch"`` (this package's path), ``"onnxruntime"`` or ``"openvino"`` (the model
            exported to ONNX with a dynamic batch and run by that runtime; ``visionzoo[onnx]`` /
            ``visionzoo[openvino]``), or ``"auto"``: time the installed engines at
            ``batch_size`` and keep the fastest (ONNX Runtime unless another is >5% faster).
            Every engine is checked against the eager model at build; the choice and errors
            are in the result's ``engine_report``.
        batch_size: the batch ``auto`` times and the build verifies at.
        calibration: for ``precision="int8"``: a ``(N, C, H, W)`` tensor, a DataLoader or a
            dataset spec (``"digits:train"``, a folder), preprocessed with the model's data
            config. int8 runs on ``engine="torch"`` (PyTorch's PT2E quantisation compiled by
            inductor; ``visionzoo[torchao]``), ``"onnxruntime"`` / ``"openvino"`` (ONNX
            Runtime's quantiser; ``visionzoo[onnx]``) or ``"auto"`` (the fastest of those
            installed).
        engine_cache_dir: where exported engine files are cached (default
            ``~/.cache/visionzoo/engines`` or ``$VISIONZOO_ENGINE_CACHE``).

    Returns:
        The optimised model, in eval mode.

    Example:
        >>> fast = optimize_for_inference(create_model("resnet50d"), precision="bf16")  # doctest: +SKIP
        >>> fast(torch.randn(8, 3, 224, 224)).dtype  # doctest: +SKIP
        torch.float32
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    for flag, value in (("channels_last", channels_last), ("fold_bn", fold_bn)):
        if value is not None and not isinstance(value, bool):
            kinds = "a bool or None" if flag == "channels_last" else "a bool"
            raise TypeError(f"{flag} must be {kinds}, got {value!r}")
    if isinstance(compile, str):
        check_compile_backend(compile, what="compile=")
    elif not isinstance(compile, bool):
        raise TypeError(f"compile must be a bool or a backend name, got {compile!r}")
    options = TorchOptions(channels_last=channels_last, fold_bn=fold_bn, compile=compile)
    return build_for_inference(
        model,
        engine=engine,
        precision=precision if precision == "int8" else precision_name(precision),
        batch_size=batch_size,
        calibration=calibration,
        cache_dir=engine_cache_dir,
        torch_options=options,
    )
