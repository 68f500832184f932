"""FX tracing helpers: the layers and functions a symbolic trace must keep whole.

Every visionzoo model traces with plain ``torch.fx.symbolic_trace``. Some layers still read better
as one node: a layer with a runtime-only path (a compiled kernel, a shape check) or one whose
Python branches on tensor shapes. Registered here, a *leaf module* stays one ``call_module`` node
and a *notrace function* one ``call_function`` node in the graphs built by
:func:`create_feature_extractor` (and so by ``features_only=True, feature_cls='fx'``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.fx
from torch import nn

__all__ = [
    "create_feature_extractor",
    "get_graph_node_names",
    "get_notrace_functions",
    "get_notrace_modules",
    "is_notrace_function",
    "is_notrace_module",
    "register_notrace_function",
    "register_notrace_module",
    "trace_module",
]

M = TypeVar("M", bound=type[nn.Module])
F = TypeVar("F", bound=Callable[..., Any])

_LEAF_MODULES: list[type[nn.Module]] = []
_AUTOWRAP_FUNCTIONS: list[Callable[..., Any]] = []


def register_notrace_module(module: M) -> M:
    """Keep ``module`` (a class) as a leaf: traced graphs call it, never look inside. A decorator."""
    if not (isinstance(module, type) and issubclass(module, nn.Module)):
        raise TypeError(f"register_notrace_module takes an nn.Module class, got {module!r}")
    if module not in _LEAF_MODULES:
        _LEAF_MODULES.append(module)
    return module


def is_notrace_module(module: type[nn.Module]) -> bool:
    return module in _LEAF_MODULES


def get_notrace_modules() -> list[type[nn.Module]]:
    """The registered leaf module classes (a copy)."""
    return list(_LEAF_MODULES)


def register_notrace_function(func: F) -> F:
    """Keep ``func`` as one ``call_function`` node (FX autowrap). A decorator.

    FX patches the function where a traced ``forward`` finds it by a global name, and skips names
    starting with ``_``: give it a public name in the calling module.
    """
    if not callable(func):
        raise TypeError(f"register_notrace_function takes a function, got {func!r}")
    if func not in _AUTOWRAP_FUNCTIONS:
        _AUTOWRAP_FUNCTIONS.append(func)
    return func


def is_notrace_function(func: Callable[..., Any]) -> bool:
    return func in _AUTOWRAP_FUNCTIONS


def get_notrace_functions() -> list[Callable[..., Any]]:
    """The registered notrace functions (a copy)."""
    return list(_AUTOWRAP_FUNCTIONS)


def _tracer_kwargs() -> dict[str, Any]:
    return {"leaf_modules": get_notrace_modules(), "autowrap_functions": get_notrace_functions()}


def trace_module(module: nn.Module) -> torch.fx.GraphModule:
    """``module`` symbolically traced, with the leaf modules and functions registered here kept whole."""
    leaves = tuple(get_notrace_modules())

    class _Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
            return isinstance(m, leaves) or super().is_leaf_module(m, module_qualified_name)

    graph = _Tracer(autowrap_functions=tuple(get_notrace_functions())).trace(module)
    return torch.fx.GraphModule(module, graph, type(module).__name__)


def get_graph_node_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """Node names of ``model``'s train- and eval-mode graphs, as torchvision's function of that
    name gives them, with the leaf modules and functions registered here kept whole."""
    from torchvision.models.feature_extraction import get_graph_node_names as tv_node_names

    return tv_node_names(model, tracer_kwargs=_tracer_kwargs(), suppress_diff_warning=True)


def create_feature_extractor(model: nn.Module, return_nodes: dict[str, str] | list[str]) -> nn.Module:
    """torchvision's ``create_feature_extractor`` with the registered leaves kept whole.

    Args:
        model: the model to trace.
        return_nodes: node (or module) names to return, or ``{name: output key}``.

    Returns:
        A ``GraphModule`` returning ``{output key: tensor}``.
    """
    from torchvision.models.feature_extraction import create_feature_extractor as tv_extractor

    return tv_extractor(
        model, return_nodes=return_nodes, tracer_kwargs=_tracer_kwargs(), suppress_diff_warning=True
    )
