"""timm as a test oracle: build timm's model without paying for its init, fill every parameter and
buffer with random values so that zero-initialised branches count too, and pair it with ours holding
the same weights (:func:`paired`, :func:`paired_classes`: the one way the tests do that)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from visionzoo.builder import materialize_random  # (moved into the library; the tests import it from here)

timm = __import__("pytest").importorskip("timm")


# in-place initialisers: on a meta tensor they compute nothing and change no shape
_INIT_OPS = frozenset(
    {
        *("uniform_", "normal_", "trunc_normal_", "exponential_", "bernoulli_", "random_"),
        *("clamp_", "clamp_min_", "clamp_max_", "erfinv_", "exp_", "log_", "sqrt_", "neg_", "abs_"),
        *("mul_", "add_", "sub_", "div_", "fill_", "zero_", "copy_"),
    }
)


class _NoInitOnMeta(TorchFunctionMode):
    """Skip in-place initialisers on meta tensors. timm initialises the meta model it builds, and
    its ``trunc_normal_`` (``clamp_`` on meta runs a Python decomposition) costs five times the
    build itself for a ViT; the model built is the same."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in _INIT_OPS and args and getattr(args[0], "is_meta", False):
            return args[0]
        return func(*args, **(kwargs or {}))


def timm_on_meta(name: str, **kwargs) -> nn.Module:
    """timm's ``name`` on the meta device: structure, no storage, no init. The kwargs are copied:
    timm's EfficientNet builder consumes the block-arg dicts it is given (MobileNet-V5's
    ``block_args`` in a SAMPLED_KWARGS would reach the next build emptied)."""
    with torch.device("meta"), _NoInitOnMeta():
        return timm.create_model(name, pretrained=False, **copy.deepcopy(kwargs))


def timm_model(name: str, **kwargs) -> nn.Module:
    return materialize_random(timm_on_meta(name, **kwargs))


def paired(name: str, /, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    """(ours, timm's) ``name`` built with ``kwargs``, holding the same random weights, in eval mode.

    timm's model gets :func:`materialize_random` weights; ours, built on the meta device, takes its
    state dict with ``strict=True``: the keys and shapes must be timm's for the pair to exist."""
    import visionzoo
    from visionzoo.builder import load_state_dict_into

    theirs = timm_model(name, **kwargs)
    ours = visionzoo.create_model(name, device="meta", **kwargs)
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    return ours.eval(), theirs


def paired_classes(
    ours_cls: Callable[..., nn.Module],
    theirs_cls: Callable[..., nn.Module],
    /,
    *,
    theirs_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[nn.Module, nn.Module]:
    """(ours, timm's) model classes built from ``kwargs`` (timm's from ``theirs_kwargs`` where its
    layer classes differ), with the same random weights, in eval mode: the options a family has
    that no registered name sets."""
    with torch.device("meta"), _NoInitOnMeta():
        theirs = theirs_cls(**(kwargs if theirs_kwargs is None else theirs_kwargs))
    materialize_random(theirs)
    ours = ours_cls(**kwargs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.eval(), theirs


def rel_err(a: Any, b: Any) -> float:
    """Max abs difference relative to the reference's max magnitude (the worst element of two
    equally long lists of tensors: EfficientViM's ``forward_features``)."""
    if isinstance(b, (list, tuple)):
        assert isinstance(a, (list, tuple)) and len(a) == len(b), (type(a), len(b))
        return max(rel_err(x, y) for x, y in zip(a, b))
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def assert_pair_matches(ours: nn.Module, theirs: nn.Module, x: torch.Tensor, *, tol: float = 1e-4) -> None:
    """A :func:`paired` pair computes the same features, logits, pre-logits and intermediates on
    ``x`` (to ``tol`` relative), with the same feature levels and widths."""
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < tol
        assert rel_err(ours(x), theirs(x)) < tol
        pre_a = ours.forward_head(ours.forward_features(x), pre_logits=True)
        pre_b = theirs.forward_head(theirs.forward_features(x), pre_logits=True)
        assert rel_err(pre_a, pre_b) < tol
        _, ints_a = ours.forward_intermediates(x)
        _, ints_b = theirs.forward_intermediates(x)
    assert len(ints_a) == len(ints_b) == len(ours.feature_info)
    assert all(rel_err(a, b) < tol for a, b in zip(ints_a, ints_b))
    assert ours.feature_info == theirs.feature_info
    assert (ours.num_features, ours.head_hidden_size) == (theirs.num_features, theirs.head_hidden_size)


def assert_backbone_checkpoints_match_timm(name: str, folder: Any, *, tol: float = 1e-4) -> None:
    """timm's checkpoints fit our ``features_only`` model of ``name``: a full checkpoint builds it
    (the head is left out), and a file saved from timm's own backbone class (no head) loads into
    ours strictly and gives the same features."""
    import visionzoo
    from visionzoo.builder import load_checkpoint

    full, theirs = timm_model(name), timm_model(name, features_only=True)
    path = f"{folder}/full.pth"
    torch.save(full.state_dict(), path)
    ours = visionzoo.create_model(
        name, pretrained=True, features_only=True, pretrained_cfg_overlay=dict(file=path)
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in ours.state_dict().items())

    path = f"{folder}/backbone.pth"
    torch.save(theirs.state_dict(), path)
    ours = visionzoo.create_model(name, features_only=True)
    load_checkpoint(ours, path)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert rel_err(a, b) < tol


def assert_pruned_like_timm(ours: nn.Module, theirs: nn.Module, level: int, x: torch.Tensor) -> None:
    """A :func:`paired` pair pruned to feature ``level``: the same kept indices and state-dict keys
    (in order), the same features and the same map at ``level``."""
    assert theirs.prune_intermediate_layers([level]) == ours.prune_intermediate_layers([level])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5
        mine = ours.forward_intermediates(x, indices=[level], intermediates_only=True)[0]
        assert rel_err(mine, theirs.forward_intermediates(x, [level], intermediates_only=True)[0]) < 1e-5
