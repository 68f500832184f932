"""Inference optimisation: batch-norm folding, channels_last, reduced precision, torch.compile.

:func:`optimize_for_inference` returns a copy of a model that computes the same function faster
on the hardware at hand. Conv -> BatchNorm pairs are found by tracing forward passes and
watching which tensors flow where, so any family (and any ``nn.Module``) benefits without
family-specific code: a batch norm is folded into the convolution whose output it normalises
when that output is used by nothing else. On CPUs with oneDNN, convolutions then get their
weights reordered once and the activation that alone reads their output fused into them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import platform
import types
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.hooks import RemovableHandle

from .layers.conv_bn_act import Conv2dSame
from .layers.layer_scale import LayerScale, LayerScale2d
from .layers.norm_act import BatchNormAct2d
from .model import model_input_size

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
    "resolve_precision",
    "supported_precisions",
]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_ALIASES = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
}
# Convolutions whose output is linear in (weight, bias), so a per-channel affine map after them
# can be moved into their parameters. Subclasses that transform the weight (weight
# standardisation...) are not in this set and are never folded.
_FOLDABLE_CONVS: tuple[type[nn.Module], ...] = (nn.Conv2d, Conv2dSame)


# --- precision ------------------------------------------------------------------------------------
@functools.cache
def _cpu_flags() -> frozenset[str] | None:
    """The CPU feature flags from /proc/cpuinfo (Linux), or None where they cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def supported_precisions(device: str | torch.device = "cpu") -> tuple[str, ...]:
    """Precisions that run natively (not emulated) on ``device``: a subset of fp32, bf16, fp16."""
    device = torch.device(device)
    found = ["fp32"]
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            found.append("bf16")
        found.append("fp16")
    elif device.type == "cpu":
        flags = _cpu_flags()
        mkldnn = torch.backends.mkldnn.is_available()
        # oneDNN runs bf16 on any AVX-512 CPU, but without these instructions it is emulated and
        # slower than fp32, so it does not count as supported.
        native_bf16 = flags is None or bool({"avx512_bf16", "amx_bf16"} & flags)
        native_fp16 = flags is None or bool({"avx512_fp16", "amx_fp16"} & flags)
        if mkldnn and native_bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported():
            found.append("bf16")
        if mkldnn and native_fp16 and torch.ops.mkldnn._is_mkldnn_fp16_supported():
            found.append("fp16")
    elif device.type == "mps":
        found.append("fp16")
    return tuple(found)


def _describe(device: torch.device) -> str:
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(device)} (cuda)"
    if device.type == "cpu":
        return f"{platform.processor() or platform.machine()} CPU"
    return device.type


def resolve_precision(precision: str | torch.dtype, device: str | torch.device = "cpu") -> torch.dtype:
    """The dtype for ``precision``, checked against what ``device`` supports.

    Raises:
        ValueError: unknown precision, or one this machine does not run natively.
    """
    if isinstance(precision, torch.dtype):
        names = {v: k for k, v in _DTYPES.items()}
        if precision not in names:
            raise ValueError(f"precision {precision} is not supported; use one of: {', '.join(_DTYPES)}")
        key = names[precision]
    elif isinstance(precision, str) and precision.lower() in _ALIASES:
        key = _ALIASES[precision.lower()]
    else:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(_DTYPES)}")
    device = torch.device(device)
    available = supported_precisions(device)
    if key not in available:
        raise ValueError(
            f"precision={key!r} is not supported on this machine ({_describe(device)}): it lacks native "
            f"{key} support; supported precisions here: {', '.join(available)}"
        )
    return _DTYPES[key]


# --- batch-norm folding ---------------------------------------------------------------------------
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


def _returns_tensor(out: Any) -> bool:
    return any(isinstance(t, torch.Tensor) for t in tree_flatten(out)[0])


class _FlowTracer(TorchFunctionMode):
    """Records, for one forward pass, which tensors each torch call consumes.

    A use is counted only for calls that return a tensor, so shape queries (``x.dim()``) do not
    count but any computation or in-place update does.
    """

    def __init__(self, conv_weights: dict[int, str], bn_means: dict[int, str]) -> None:
        super().__init__()
        self.conv_weights = conv_weights
        self.bn_means = bn_means
        self.conv_out: dict[str, list[torch.Tensor]] = {}
        self.bn_in: dict[str, list[torch.Tensor]] = {}
        self.uses: Counter[int] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not _returns_tensor(out):
            return out
        if func is F.dropout and args and out is args[0]:
            return out  # dropout in eval mode hands its input on untouched: not a read
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor):
                self.uses[id(t)] += 1
        if len(args) >= 2 and isinstance(args[1], torch.Tensor) and isinstance(out, torch.Tensor):
            key = id(args[1])
            if key in self.conv_weights:
                # hold the output so its id stays unique for the rest of the pass; uses counted
                # under that id so far belonged to tensors freed before it
                self.conv_out.setdefault(self.conv_weights[key], []).append(out)
                self.uses[id(out)] = 0
            elif key in self.bn_means and isinstance(args[0], torch.Tensor):
                self.bn_in.setdefault(self.bn_means[key], []).append(args[0])
        return out


def _example_input(model: nn.Module) -> torch.Tensor:
    """A one-image batch of the size the model takes (:func:`~visionzoo.model.model_input_size`)."""
    ref = next(iter(model.parameters()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    return torch.randn(1, *model_input_size(model), device=device, dtype=dtype)


def _run_traced(
    call: Callable[[], Any],
    tracer: _FlowTracer,
    convs: dict[str, nn.Module],
    counted: dict[str, nn.Module],
    handles: tuple[RemovableHandle, ...] = (),
) -> tuple[Counter[str], dict[str, list[torch.Tensor]]]:
    """Run ``call()`` without autograd under ``tracer``, counting the calls of the ``counted``
    modules and keeping what each conv returns. ``handles``, hooks the caller registered for
    this run, are removed with ours."""
    calls: Counter[str] = Counter()
    outputs: dict[str, list[torch.Tensor]] = {}
    registered = list(handles)
    try:
        for name, m in counted.items():
            registered.append(m.register_forward_pre_hook(lambda _m, _i, n=name: calls.update([n])))
        for name, m in convs.items():
            registered.append(
                m.register_forward_hook(lambda _m, _i, out, n=name: outputs.setdefault(n, []).append(out))
            )
        with torch.no_grad(), tracer:
            result = call()
    finally:
        for h in registered:
            h.remove()
    # what the call returns is read by the caller: a returned conv output (a feature tap) must
    # keep its value, so it counts as a use
    for t in tree_flatten(result)[0]:
        if isinstance(t, torch.Tensor):
            tracer.uses[id(t)] += 1
    return calls, outputs


def _trace_pairs(
    call: Callable[[], Any], convs: dict[str, nn.Module], bns: dict[str, nn.Module]
) -> set[tuple[str, str]]:
    """The foldable pairs seen in one traced ``call()`` (see :func:`find_conv_bn_pairs`)."""
    tracer = _FlowTracer(
        {id(m.weight): n for n, m in convs.items()}, {id(m.running_mean): n for n, m in bns.items()}
    )
    calls, outputs = _run_traced(call, tracer, convs, {**convs, **bns})
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
        found = _on_every_entry_point(model, example_input, lambda call: _trace_pairs(call, convs, bns))
    finally:
        model.train(was_training)
    order = {name: i for i, name in enumerate(modules)}
    return sorted(found, key=lambda pair: order[pair[0]])


def _on_every_entry_point(
    model: nn.Module, example_input: torch.Tensor | None, find: Callable[[Callable[[], Any]], set]
) -> set:
    """What ``find(call)`` finds both in ``model(x)`` and, where the model has it, in
    ``forward_intermediates(x)``: a fold must keep the feature maps either one returns."""
    x = _example_input(model) if example_input is None else example_input
    found = find(lambda: model(x))
    intermediates = getattr(model, "forward_intermediates", None)
    if callable(intermediates) and found:
        # an entry point the model does not support has nothing to preserve
        with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
            found &= find(lambda: intermediates(x))
    return found


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


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, leaf)
    # keep hooks other code registered on the module (feature taps...)
    for attr in ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs"):
        if getattr(old, attr, None):
            getattr(new, attr).update(getattr(old, attr))
    setattr(parent, leaf, new)


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
        _replace(model, bn_name, residue(bn))
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
    pairs = _on_every_entry_point(
        model, example_input, lambda call: _trace_sole_readers(call, layers, scales)
    )
    folded = []
    for layer_name, scale_name in sorted(pairs):
        layer, scale = modules[layer_name], modules[scale_name]
        gamma = scale.gamma
        if type(scale) is not _SCALE_AFTER[type(layer)] or gamma.numel() != layer.weight.shape[0]:
            continue
        layer.weight.mul_(gamma.reshape((-1,) + (1,) * (layer.weight.ndim - 1)).to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.mul_(gamma.to(layer.bias.dtype))
        _replace(model, scale_name, nn.Identity())
        folded.append((layer_name, scale_name))
    return folded


# --- oneDNN: pre-packed weights and fused activations (CPU) ----------------------------------------
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


def _trace_sole_readers(
    call: Callable[[], Any], layers: dict[str, nn.Module], readers: dict[str, nn.Module]
) -> set[tuple[str, str]]:
    """``(layer, reader)`` pairs where the reader (an activation, a layer scale) is the only
    module that reads the layer's output.

    An in-place reader overwrites the layer's output, so later readers see its values either
    way: it only needs to be the first reader. An out-of-place one must be the only one.
    """
    read_by: dict[str, list[tuple[torch.Tensor, int]]] = {}
    inplace: dict[str, bool] = {}
    tracer = _FlowTracer({id(m.weight): n for n, m in layers.items()}, {})

    def pre(name: str) -> Callable[..., None]:
        return lambda _m, i: read_by.setdefault(name, []).append((i[0], tracer.uses[id(i[0])]))

    def post(name: str) -> Callable[..., None]:
        return lambda _m, i, o: inplace.__setitem__(name, o is i[0])

    handles = tuple(
        h
        for name, m in readers.items()
        for h in (m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post(name)))
    )
    calls, layer_out = _run_traced(call, tracer, layers, {**layers, **readers}, handles)
    producer = {id(outs[0]): n for n, outs in layer_out.items() if calls[n] == 1 and len(outs) == 1}
    pairs = set()
    for name, seen in read_by.items():
        if calls[name] != 1 or len(seen) != 1:
            continue
        tensor, uses_before = seen[0]
        layer = producer.get(id(tensor))
        ok = uses_before == 0 if inplace.get(name) else tracer.uses[id(tensor)] == 1
        if layer is not None and ok:
            pairs.add((layer, name))
    return pairs


def pack_convolutions(model: nn.Module, example_input: torch.Tensor | None = None) -> int:
    """Replace plain Conv2d layers by :class:`PackedConv2d`, fusing the activation that alone
    reads each one's output (traced through ``forward`` and ``forward_intermediates``, as for
    batch-norm folding). In place; returns the number of fused activations."""
    return _pack(model, {n: PackedConv2d for n in _convs(model)}, example_input)


def pack_linears(
    model: nn.Module, example_input: torch.Tensor | None = None, *, dtype: torch.dtype | None = None
) -> int:
    """Replace the CPU ``nn.Linear`` layers (those with ``dtype`` weights, if given) by
    :class:`PackedLinear`, fusing the activation that alone reads each one's output (a ViT
    MLP's GELU), as :func:`pack_convolutions` does. In place; returns the fused activations."""
    return _pack(model, {n: PackedLinear for n in _linears(model, dtype)}, example_input)


def _convs(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if _packable(m)]


def _linears(model: nn.Module, dtype: torch.dtype | None) -> list[str]:
    return [
        n
        for n, m in model.named_modules()
        if type(m) is nn.Linear and m.weight.device.type == "cpu" and dtype in (None, m.weight.dtype)
    ]


def _pack(
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
    pairs = _on_every_entry_point(model, example_input, lambda call: _trace_sole_readers(call, layers, acts))
    fused = dict(pairs)
    for name, layer in layers.items():
        act = modules[fused[name]] if name in fused else None
        _replace(model, name, packers[name](layer, act))
        if act is not None:
            _replace(model, fused[name], nn.Identity())
    return len(fused)


# --- precision and memory format at the boundary --------------------------------------------------
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


def _install_boundary(
    model: nn.Module, dtype: torch.dtype, channels_last: bool, *, hooks: bool = True
) -> None:
    boundary = _Boundary(dtype, channels_last)
    if hooks:
        model.register_forward_pre_hook(boundary.pre_hook, with_kwargs=True)
        model.register_forward_hook(boundary.post_hook, with_kwargs=True, always_call=True)
    else:  # called by _compiled_forward, inside the compiled graph
        object.__setattr__(model, "_vz_forward", _BoundaryMethod(model, "forward", boundary))
    for name in _WRAPPED_METHODS:
        if callable(getattr(type(model), name, None)):
            object.__setattr__(model, name, _BoundaryMethod(model, name, boundary))


def _compiled_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    return self.__dict__["_vz_forward"](*args, **kwargs)


def check_compile_backend(name: str, *, what: str = "") -> None:
    """Raise ``ValueError`` naming ``what`` + ``name`` and the valid backends, unless ``name`` is a
    ``torch.compile`` backend."""
    from torch import _dynamo

    backends = _dynamo.list_backends(exclude_tags=())
    if name not in backends:
        raise ValueError(f"{what}{name!r} is not a torch.compile backend; valid: {', '.join(backends)}")


_entries = itertools.count()


def _compiled_entry(model: nn.Module, backend: str) -> nn.Module:
    """``torch.compile`` of ``model`` as one graph, with the dtype/layout boundary inside it.

    Dynamo keeps its compiled graphs, and a limit of 8 recompilations, per code object. Every
    family shares ``VisionModel.forward``, so compiling a ninth model (or precision) in one
    process would silently run it uncompiled. Each model therefore gets its own copy of the
    entry function's code, under a name of its own.
    """
    code = _compiled_forward.__code__
    own = types.FunctionType(
        code.replace(co_name=f"{code.co_name}_{next(_entries)}"), _compiled_forward.__globals__
    )
    object.__setattr__(model, "forward", types.MethodType(own, model))
    # freezing: under no_grad / inference_mode inductor treats the (frozen) weights as
    # constants, so it can pre-pack them and fold what depends only on them
    options: dict[str, str | int | bool | Callable[..., Any]] | None = (
        {"freezing": True} if backend == "inductor" else None
    )
    return cast(nn.Module, torch.compile(model, backend=backend, dynamic=False, options=options))


def _inputs_to_fp32(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def _keep_classifier_fp32(model: nn.Module) -> None:
    """Run the final classifier in fp32: a negligible share of the FLOPs, and the logits are not
    rounded to bf16's 8-bit mantissa (which would turn close calls into ties)."""
    getter = getattr(model, "get_classifier", None)
    fc = getter() if callable(getter) else None
    if isinstance(fc, nn.Module) and any(True for _ in fc.parameters()):
        fc.float()
        fc.register_forward_pre_hook(_inputs_to_fp32)


# --- channels_last policy -------------------------------------------------------------------------
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


# --- the entry point ------------------------------------------------------------------------------
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
        engine: ``"torch"`` (this module's path), ``"onnxruntime"`` or ``"openvino"`` (the model
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
    if engine != "torch" or precision == "int8":
        return _with_engine(
            model,
            engine=engine,
            precision=precision,
            batch_size=batch_size,
            calibration=calibration,
            cache_dir=engine_cache_dir,
            torch_build=lambda: optimize_for_inference(
                model, precision=precision, channels_last=channels_last, fold_bn=fold_bn, compile=compile
            ),
        )
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
        _keep_classifier_fp32(fast)
    if channels_last:
        fast.to(memory_format=torch.channels_last)
    if not compile and device.type == "cpu" and torch.backends.mkldnn.is_available():
        # (inductor does its own packing and fusion when compiling); one trace for both kinds
        packers: dict[str, Callable[[Any, nn.Module | None], nn.Module]] = {}
        if channels_last:
            packers.update((n, PackedConv2d) for n in _convs(fast))
        if dtype in (torch.float32, torch.bfloat16):
            packers.update((n, PackedLinear) for n in _linears(fast, None))
        _pack(fast, packers, None)
    _install_boundary(fast, dtype, channels_last, hooks=not compile)
    if compile:
        return _compiled_entry(fast, "inductor" if compile is True else compile)
    return fast


def _with_engine(
    model: nn.Module,
    *,
    engine: str,
    precision: str | torch.dtype,
    batch_size: int,
    calibration: Any,
    cache_dir: str | None,
    torch_build: Callable[[], nn.Module],
) -> nn.Module:
    from .engines import ENGINES, build_engine

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    if precision not in ("fp32", "int8", torch.float32):
        raise ValueError(f"engine={engine!r} runs fp32 or int8, not {precision!r}; use engine='torch' for it")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    module, report = build_engine(
        model,
        engine,
        precision="int8" if precision == "int8" else "fp32",
        batch_size=batch_size,
        calibration=calibration,
        cache_dir=cache_dir,
        torch_build=torch_build,
    )
    module.engine_report = report  # type: ignore[assignment]
    return module


def count_batch_norms(model: nn.Module) -> int:
    """Batch-norm layers left in ``model`` (of any kind)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
