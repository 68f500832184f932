"""Folding affine maps into the layer before them: batch norms into convolutions, layer scales
into Linear / Conv2d layers, exact up to float rounding (in fp32).

The pairs are found by tracing (:mod:`visionzoo.optimize.trace`), so any family benefits
without family-specific code: a norm is folded into the conv whose output it alone reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from ..layers.conv_bn_act import Conv2dSame
from ..layers.layer_scale import LayerScale, LayerScale2d
from ..layers.norm_act import BatchNormAct2d
from .trace import FlowTracer, on_every_entry_point, replace_module, run_traced, trace_sole_readers

__all__ = [
    "FoldedNormAct",
    "count_batch_norms",
    "find_conv_bn_pairs",
    "fold_batch_norm",
    "fold_layer_scales",
]

# Convolutions whose output is linear in (weight, bias), so a per-channel affine map after them
# can be moved into their parameters. Subclasses that transform the weight (weight
# standardisation...) are not in this set and are never folded.
_FOLDABLE_CONVS: tuple[type[nn.Module], ...] = (nn.Conv2d, Conv2dSame)


class FoldedNormAct(nn.Module):
    """What is left of a ``BatchNormAct2d`` once its normalisation moved into the conv before it."""

    def __init__(self, drop: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.drop = drop
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(x))


def _plain_bn_residue(bn: nn.Module) -> nn.Module:
    return nn.Identity()


def _norm_act_residue(bn: nn.Module) -> nn.Module:
    return FoldedNormAct(bn.get_submodule("drop"), bn.get_submodule("act"))


# Keyed by the forward function, so a subclass that changes what forward does is not matched.
# A norm layer of another kind can opt in with a ``fold_residue()`` method returning the module
# that should replace it once its normalisation is folded.
_RESIDUES: dict[Callable[..., Any], Callable[[nn.Module], nn.Module]] = {
    nn.BatchNorm2d.forward: _plain_bn_residue,
    BatchNormAct2d.forward: _norm_act_residue,
}


def _residue_fn(bn: nn.Module) -> Callable[[nn.Module], nn.Module] | None:
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.running_mean is None:
        return None
    if callable(getattr(bn, "fold_residue", None)):
        return _custom_residue
    return _RESIDUES.get(type(bn).forward)


def _custom_residue(bn: nn.Module) -> nn.Module:
    residue = cast(Callable[[], nn.Module], getattr(bn, "fold_residue"))()  # noqa: B009
    if not isinstance(residue, nn.Module):
        raise TypeError(f"{type(bn).__name__}.fold_residue() must return an nn.Module, got {residue!r}")
    return residue


def _trace_pairs(
    call: Callable[[], Any], convs: dict[str, nn.Module], bns: dict[str, nn.Module]
) -> set[tuple[str, str]]:
    """The foldable pairs seen in one traced ``call()`` (see :func:`find_conv_bn_pairs`)."""
    tracer = FlowTracer(
        {id(m.weight): n for n, m in convs.items()}, {id(m.running_mean): n for n, m in bns.items()}
    )
    calls, outputs = run_traced(call, tracer, convs, {**convs, **bns})
    producer = {}
    for name, outs in tracer.conv_out.items():
        module_out = outputs.get(name, [])
        # the module returns the convolution's result itself (no transform after it)
        if calls[name] == 1 and len(outs) == 1 and len(module_out) == 1 and module_out[0] is outs[0]:
            producer[id(outs[0])] = name
    pairs = set()
    for bn_name, ins in tracer.bn_in.items():
        if calls[bn_name] != 1 or len(ins) != 1:
            continue
        conv_name = producer.get(id(ins[0]))
        if conv_name is None or tracer.uses[id(ins[0])] != 1:
            continue
        if convs[conv_name].out_channels == bns[bn_name].num_features:
            pairs.add((conv_name, bn_name))
    return pairs


def find_conv_bn_pairs(model: nn.Module, example_input: torch.Tensor | None = None) -> list[tuple[str, str]]:
    """``(conv name, bn name)`` pairs where the batch norm only ever sees that conv's output.

    Forward passes in eval mode on ``example_input`` (default: a random image of the model's
    input size) trace the data flow, through ``forward`` and, where the model has it,
    ``forward_intermediates`` (so feature maps it returns keep their values). A pair qualifies
    when the conv and the norm each run once, the norm's input is exactly the conv's output,
    and nothing else reads that output.
    """
    modules = dict(model.named_modules())
    convs = {n: m for n, m in modules.items() if type(m) in _FOLDABLE_CONVS}
    bns = {n: m for n, m in modules.items() if _residue_fn(m) is not None}
    if not convs or not bns:
        return []
    was_training = model.training
    model.eval()
    try:
        found = on_every_entry_point(model, example_input, lambda call: _trace_pairs(call, convs, bns))
    finally:
        model.train(was_training)
    order = {name: i for i, name in enumerate(modules)}
    return sorted(found, key=lambda pair: order[pair[0]])


@torch.no_grad()
def _fold_into(conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Scale and shift ``conv`` so that it computes ``bn(conv(x))`` (eval statistics)."""
    dtype = conv.weight.dtype
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"{type(bn).__name__} has no running statistics to fold")
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    shift = -bn.running_mean.double() * scale
    if bn.affine:
        scale = scale * bn.weight.double()
        shift = shift * bn.weight.double() + bn.bias.double()
    bias = conv.bias.double() * scale + shift if conv.bias is not None else shift
    conv.weight.copy_((conv.weight.double() * scale.view(-1, 1, 1, 1)).to(dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(bias.to(dtype), requires_grad=conv.weight.requires_grad)
    else:
        conv.bias.copy_(bias.to(dtype))


def fold_batch_norm(model: nn.Module, example_input: torch.Tensor | None = None) -> list[tuple[str, str]]:
    """Fold every eligible BatchNorm into the convolution before it, in place.

    The model must be used in eval mode afterwards (the running statistics are baked in). A
    ``BatchNormAct2d`` keeps its activation (and drop layer); a plain ``BatchNorm2d`` disappears.

    Args:
        model: any module; its conv -> norm pairs are found by tracing (see
            :func:`find_conv_bn_pairs`).
        example_input: input for the trace (default: one random image of the model's size).

    Returns:
        The ``(conv, bn)`` name pairs that were folded.
    """
    pairs = find_conv_bn_pairs(model, example_input)
    modules = dict(model.named_modules())
    for conv_name, bn_name in pairs:
        conv, bn = modules[conv_name], modules[bn_name]
        residue = _residue_fn(bn)
        if residue is None:  # find_conv_bn_pairs only returns foldable norms
            continue
        _fold_into(conv, bn)
        replace_module(model, bn_name, residue(bn))
    return pairs


# layer type -> the layer scale that may follow it, scaling its output channels
_SCALE_AFTER: dict[type[nn.Module], type[nn.Module]] = {nn.Linear: LayerScale, nn.Conv2d: LayerScale2d}


@torch.no_grad()
def fold_layer_scales(model: nn.Module, example_input: torch.Tensor | None = None) -> list[tuple[str, str]]:
    """Fold every layer scale into the Linear (``LayerScale2d``: the Conv2d) whose output it
    alone reads, in place: ``gamma`` multiplies that layer's weight rows and bias (exact up to
    float rounding), and one elementwise pass over the tokens goes. Found by tracing, as for
    :func:`fold_batch_norm`. Returns the ``(layer, scale)`` name pairs that were folded."""
    modules = dict(model.named_modules())
    scales = {n: m for n, m in modules.items() if type(m) in _SCALE_AFTER.values()}
    if not scales:
        return []
    layers = {n: m for n, m in modules.items() if type(m) in _SCALE_AFTER}
    pairs = on_every_entry_point(model, example_input, lambda call: trace_sole_readers(call, layers, scales))
    folded = []
    for layer_name, scale_name in sorted(pairs):
        layer, scale = modules[layer_name], modules[scale_name]
        gamma = scale.gamma
        if type(scale) is not _SCALE_AFTER[type(layer)] or gamma.numel() != layer.weight.shape[0]:
            continue
        layer.weight.mul_(gamma.reshape((-1,) + (1,) * (layer.weight.ndim - 1)).to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.mul_(gamma.to(layer.bias.dtype))
        replace_module(model, scale_name, nn.Identity())
        folded.append((layer_name, scale_name))
    return folded


def count_batch_norms(model: nn.Module) -> int:
    """Batch-norm layers left in ``model`` (of any kind)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
