"""Re-parameterisation: blocks trained with parallel branches (RepVGG, MobileOne) become the
single layer they compute at inference.

:func:`reparameterize` is timm's ``reparameterize_model`` under our name: it walks the module
tree and applies each module's own fusion, by timm's method names so that timm-style modules
fuse too: ``fuse()`` returns the replacement module, ``reparameterize()`` /
``switch_to_deploy()`` fuse in place. :func:`visionzoo.optimize_for_inference` applies the same
in-place fusions through their ``fuse_for_inference()`` hook.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import cast

from torch import nn

__all__ = ["reparameterize"]


def _fuse_children(module: nn.Module) -> None:
    for name, child in module.named_children():
        if hasattr(child, "fuse"):
            child = cast("Callable[[], nn.Module]", child.fuse)()
            setattr(module, name, child)
        elif hasattr(child, "reparameterize"):
            cast("Callable[[], None]", child.reparameterize)()
        elif hasattr(child, "switch_to_deploy"):
            cast("Callable[[], None]", child.switch_to_deploy)()
        _fuse_children(child)


def reparameterize(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """``model`` with every re-parameterisable block fused into its inference form.

    The result computes the same function in eval mode (the branches' batch-norm statistics are
    folded in) with fewer layers; its state dict is the deploy-time one (timm's
    ``reparameterize_model`` gives the same keys). Fusion is one-way.

    Args:
        model: any module.
        inplace: fuse ``model`` itself; otherwise a deep copy is fused and ``model`` is untouched.

    Returns:
        The fused model (``model`` itself when ``inplace``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    _fuse_children(model)
    return model
