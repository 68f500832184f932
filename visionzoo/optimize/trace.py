"""Data-flow tracing: which module's output each module reads, seen in real forward passes.

A fold or a fused activation is exact only where nothing else reads the tensor it changes.
Rather than pattern-match each family's code, a forward pass runs under a
``TorchFunctionMode`` that counts every read of every tensor, with hooks noting what each
module returns; :func:`on_every_entry_point` repeats it through ``forward_intermediates``, so a
feature map a model returns keeps its value.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.hooks import RemovableHandle

from ..model import model_input_size

__all__ = [
    "FlowTracer",
    "default_input",
    "on_every_entry_point",
    "replace_module",
    "run_traced",
    "trace_sole_readers",
]


def _returns_tensor(out: Any) -> bool:
    return any(isinstance(t, torch.Tensor) for t in tree_flatten(out)[0])


class FlowTracer(TorchFunctionMode):
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


def default_input(model: nn.Module) -> torch.Tensor:
    """A one-image batch of the size the model takes (:func:`~visionzoo.model.model_input_size`)."""
    ref = next(iter(model.parameters()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    return torch.randn(1, *model_input_size(model), device=device, dtype=dtype)


def run_traced(
    call: Callable[[], Any],
    tracer: FlowTracer,
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


def on_every_entry_point(
    model: nn.Module, example_input: torch.Tensor | None, find: Callable[[Callable[[], Any]], set]
) -> set:
    """What ``find(call)`` finds both in ``model(x)`` and, where the model has it, in
    ``forward_intermediates(x)``: a fold must keep the feature maps either one returns."""
    x = default_input(model) if example_input is None else example_input
    found = find(lambda: model(x))
    intermediates = getattr(model, "forward_intermediates", None)
    if callable(intermediates) and found:
        # an entry point the model does not support has nothing to preserve
        with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
            found &= find(lambda: intermediates(x))
    return found


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, leaf)
    # keep hooks other code registered on the module (feature taps...)
    for attr in ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs"):
        if getattr(old, attr, None):
            getattr(new, attr).update(getattr(old, attr))
    setattr(parent, leaf, new)


def trace_sole_readers(
    call: Callable[[], Any], layers: dict[str, nn.Module], readers: dict[str, nn.Module]
) -> set[tuple[str, str]]:
    """``(layer, reader)`` pairs where the reader (an activation, a layer scale) is the only
    module that reads the layer's output.

    An in-place reader overwrites the layer's output, so later readers see its values either
    way: it only needs to be the first reader. An out-of-place one must be the only one.
    """
    read_by: dict[str, list[tuple[torch.Tensor, int]]] = {}
    inplace: dict[str, bool] = {}
    tracer = FlowTracer({id(m.weight): n for n, m in layers.items()}, {})

    def pre(name: str) -> Callable[..., None]:
        return lambda _m, i: read_by.setdefault(name, []).append((i[0], tracer.uses[id(i[0])]))

    def post(name: str) -> Callable[..., None]:
        return lambda _m, i, o: inplace.__setitem__(name, o is i[0])

    handles = tuple(
        h
        for name, m in readers.items()
        for h in (m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post(name)))
    )
    calls, layer_out = run_traced(call, tracer, layers, {**layers, **readers}, handles)
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
