"""oneDNN on the CPU: weights reordered once into oneDNN's layout, activations fused.

:class:`PackedConv2d` / :class:`PackedLinear` replace plain layers; the activation that alone
reads a layer's output (found by tracing, :mod:`visionzoo.optimize.trace`) becomes a oneDNN
post-op of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .trace import on_every_entry_point, replace_module, trace_sole_readers

__all__ = [
    "PackedConv2d",
    "PackedLinear",
    "cpu_linears",
    "pack",
    "pack_convolutions",
    "pack_linears",
    "packable_convs",
]

# PyTorch activation modules and the oneDNN post-op that computes the same function.
_ONEDNN_ACTS: dict[type[nn.Module], Callable[[nn.Module], tuple[str, list[Any], str]]] = {
    nn.ReLU: lambda m: ("relu", [], ""),
    nn.SiLU: lambda m: ("swish", [], ""),
    nn.LeakyReLU: lambda m: ("leaky_relu", [m.negative_slope], ""),
    nn.ReLU6: lambda m: ("hardtanh", [0.0, 6.0], ""),
    nn.Hardswish: lambda m: ("hardswish", [], ""),
    nn.Sigmoid: lambda m: ("sigmoid", [], ""),
    nn.Tanh: lambda m: ("tanh", [], ""),
    nn.GELU: lambda m: ("gelu", [], str(m.approximate)),
}


class _Packed(nn.Module):
    """A weighted layer run by oneDNN with its weight reordered into oneDNN's layout once per
    input shape (not on every call) and an optional activation fused into it. Inference only:
    no autograd through it.

    oneDNN picks the layout for the whole input shape, batch included: a ResNet-50 packed at
    batch 1 runs 1.2x slower at batch 8, and one packed at batch 8 runs 2.8x slower at batch 1
    (measured). So the layouts of the last two shapes are kept: a warm-up at another batch, or
    a last partial batch, does not leave the model on the wrong one.
    """

    _act: nn.Module | None
    _KEEP = 2

    def __init__(self, layer: nn.Conv2d | nn.Linear, act: nn.Module | None = None) -> None:
        super().__init__()
        self.weight = layer.weight
        self.bias = layer.bias
        self.attr, self.scalars, self.algorithm = (
            ("none", [], "") if act is None else _ONEDNN_ACTS[type(act)](act)
        )
        object.__setattr__(self, "_act", act)  # for calls that do not go through oneDNN
        self._packed: dict[tuple[Any, ...], torch.Tensor] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_packed"] = {}  # oneDNN's opaque tensors neither copy nor pickle
        return state

    def _reorder(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _shape_key(self, x: torch.Tensor) -> Any:
        raise NotImplementedError

    def _weight_for(self, x: torch.Tensor) -> torch.Tensor:
        key = (self.weight.dtype, self.weight.data_ptr(), self.weight._version, self._shape_key(x))
        packed = self._packed.pop(key, None)
        if packed is None:
            packed = self._reorder(x)
            while len(self._packed) >= self._KEEP:  # least recently used first
                del self._packed[next(iter(self._packed))]
        self._packed[key] = packed
        return packed

    def _bias_for(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.bias.to(x.dtype) if self.bias is not None else None


class PackedConv2d(_Packed):
    """A Conv2d on oneDNN with a pre-packed weight and an optional fused activation."""

    def __init__(self, conv: nn.Conv2d, act: nn.Module | None = None) -> None:
        super().__init__(conv, act)
        self.padding = [int(p) for p in conv.padding]
        self.stride = list(conv.stride)
        self.dilation = list(conv.dilation)
        self.groups = conv.groups
        self._matvec = (conv.kernel_size, self.stride, self.padding, self.groups) == (
            (1, 1),
            [1, 1],
            [0, 0],
            1,
        )

    def _shape_key(self, x: torch.Tensor) -> Any:
        return x.shape

    def _reorder(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._reorder_convolution_weight(
            self.weight, self.padding, self.stride, self.dilation, self.groups, list(x.shape)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._matvec and x.shape[-2:] == (1, 1):
            # a 1x1 conv on a 1x1 map (squeeze-excite) is a matrix-vector product, where
            # oneDNN's per-call setup costs ~10x the arithmetic (60 against 5-7 us measured)
            y = F.linear(x.flatten(1), self.weight.flatten(1), self._bias_for(x))
            y = y.view(*y.shape, 1, 1)
            return y if self._act is None else self._act(y)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._weight_for(x), self._bias_for(x), self.padding, self.stride, self.dilation,
            self.groups, self.attr, self.scalars, self.algorithm,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1] * self.groups}, {self.weight.shape[0]}, act={self.attr!r}"


class PackedLinear(_Packed):
    """A Linear on oneDNN with a pre-packed weight, its bias and an optional activation fused
    into the matmul. bf16 on AMX would otherwise reorder the weight into its tile layout on
    every call; fp32 would otherwise copy the bias into the output before the matmul and run
    the activation as a separate pass (ViT-B: 10% of the time). oneDNN picks the layout for
    the number of rows, so a new row count packs again."""

    def _shape_key(self, x: torch.Tensor) -> Any:
        return x.numel() // x.shape[-1]

    def _reorder(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._reorder_linear_weight(self.weight, self._shape_key(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(
            x, self._weight_for(x), self._bias_for(x), self.attr, self.scalars, self.algorithm
        )

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, act={self.attr!r}"


def _packable(conv: nn.Module) -> bool:
    return (
        type(conv) is nn.Conv2d
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and conv.weight.device.type == "cpu"
    )


def pack_convolutions(model: nn.Module, example_input: torch.Tensor | None = None) -> int:
    """Replace plain Conv2d layers by :class:`PackedConv2d`, fusing the activation that alone
    reads each one's output (traced through ``forward`` and ``forward_intermediates``, as for
    batch-norm folding). In place; returns the number of fused activations."""
    return pack(model, {n: PackedConv2d for n in packable_convs(model)}, example_input)


def pack_linears(
    model: nn.Module, example_input: torch.Tensor | None = None, *, dtype: torch.dtype | None = None
) -> int:
    """Replace the CPU ``nn.Linear`` layers (those with ``dtype`` weights, if given) by
    :class:`PackedLinear`, fusing the activation that alone reads each one's output (a ViT
    MLP's GELU), as :func:`pack_convolutions` does. In place; returns the fused activations."""
    return pack(model, {n: PackedLinear for n in cpu_linears(model, dtype)}, example_input)


def packable_convs(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if _packable(m)]


def cpu_linears(model: nn.Module, dtype: torch.dtype | None) -> list[str]:
    return [
        n
        for n, m in model.named_modules()
        if type(m) is nn.Linear and m.weight.device.type == "cpu" and dtype in (None, m.weight.dtype)
    ]


def pack(
    model: nn.Module,
    packers: dict[str, Callable[[Any, nn.Module | None], nn.Module]],
    example_input: torch.Tensor | None,
) -> int:
    """Replace each named layer by ``packers[name](layer, fused activation or None)``, with one
    traced pass (and one through ``forward_intermediates``) for all of them."""
    if not packers:
        return 0
    modules = dict(model.named_modules())
    layers = {n: modules[n] for n in packers}
    acts = {n: m for n, m in modules.items() if type(m) in _ONEDNN_ACTS}
    pairs = on_every_entry_point(model, example_input, lambda call: trace_sole_readers(call, layers, acts))
    fused = dict(pairs)
    for name, layer in layers.items():
        act = modules[fused[name]] if name in fused else None
        replace_module(model, name, packers[name](layer, act))
        if act is not None:
            replace_module(model, fused[name], nn.Identity())
    return len(fused)
