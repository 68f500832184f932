"""``torch.compile`` of an optimised model: one graph per model, the dtype boundary inside it."""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

__all__ = ["check_compile_backend", "compiled_entry"]


def _compiled_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    # the boundary-wrapped forward hooks.install_boundary(hooks=False) left on the model
    return self.__dict__["_vz_forward"](*args, **kwargs)


def check_compile_backend(name: str, *, what: str = "") -> None:
    """Raise ``ValueError`` naming ``what`` + ``name`` and the valid backends, unless ``name`` is a
    ``torch.compile`` backend."""
    from torch import _dynamo

    backends = _dynamo.list_backends(exclude_tags=())
    if name not in backends:
        raise ValueError(f"{what}{name!r} is not a torch.compile backend; valid: {', '.join(backends)}")


_entries = itertools.count()


def compiled_entry(model: nn.Module, backend: str) -> nn.Module:
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
