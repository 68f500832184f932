"""Fit a checkpoint to the model being built: input channels, classifier size, key remaps.

* **First conv** (every conv named in ``first_conv``): for ``in_chans=1`` the source channels are
  summed; otherwise they are repeated ``ceil(in_chans / src)`` times, cut to ``in_chans`` and
  scaled by ``src / in_chans`` so activations keep their scale (``src`` is 3 for RGB weights).
* **Classifier**: a different ``num_classes`` drops the classifier weights (the model keeps a
  freshly initialised one); 1001-class weights with ``label_offset=1`` lose their background row
  when 1000 classes are asked for.
* **Remaps**: a family's ``filter_fn(state_dict, model)`` renames old checkpoint keys first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import nn

from .pretrained import PretrainedCfg

_logger = logging.getLogger(__name__)

__all__ = ["adapt_input_conv", "adapt_state_dict", "as_names"]

FilterFn = Callable[[dict[str, torch.Tensor], nn.Module], dict[str, torch.Tensor]]


def as_names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A config's ``first_conv`` / ``classifier`` entry as a tuple of module names."""
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def adapt_input_conv(in_chans: int, conv_weight: torch.Tensor, base_chans: int = 3) -> torch.Tensor:
    """Adapt a first-conv weight ``(O, G * base_chans, kH, kW)`` to ``(O, G * in_chans, kH, kW)``
    (timm's call and argument order).

    ``G`` is the number of interleaved copies of the input a stem takes (4 for a space-to-depth
    stem), each adapted alike; ``base_chans`` is the channel count the weights were trained on
    (3 for RGB, 4 for RGB-NIR, ...).

    Args:
        in_chans: input channels wanted.
        conv_weight: pretrained conv weight.
        base_chans: input channels the weights were trained on.

    Returns:
        The adapted weight, in the original dtype (the same tensor when nothing changes).

    Raises:
        ValueError: a channel count below 1.
        NotImplementedError: a weight that is not a convolution's (fewer than 3 dimensions), or
            whose input channels are no multiple of ``base_chans``.
    """
    for what, value in (("in_chans", in_chans), ("base_chans", base_chans)):
        if value < 1:
            raise ValueError(f"{what} must be positive (>= 1), got {value}")
    if conv_weight.ndim < 3:
        raise NotImplementedError(
            "adapt_input_conv adapts convolution weights (O, I, *kernel); got shape "
            f"{tuple(conv_weight.shape)}"
        )
    out_chs, total, *kernel = conv_weight.shape
    if total % base_chans:  # timm's error type: its loaders treat it as "cannot adapt"
        raise NotImplementedError(
            f"Weight format not supported by conversion: a conv weight with {total} input channels "
            f"is no multiple of base_chans={base_chans}"
        )
    if base_chans == in_chans:
        return conv_weight
    groups = total // base_chans
    dtype = conv_weight.dtype
    w = conv_weight.float().reshape(out_chs, groups, base_chans, *kernel)
    if in_chans == 1:
        w = w.sum(dim=2, keepdim=True)
    else:
        repeat = math.ceil(in_chans / base_chans)
        w = w.repeat(1, 1, repeat, *([1] * len(kernel)))[:, :, :in_chans] * (base_chans / in_chans)
    return w.reshape(out_chs, groups * in_chans, *kernel).to(dtype)


def _adapt_first_convs(
    state_dict: dict[str, torch.Tensor], model: nn.Module, cfg: PretrainedCfg, in_chans: int
) -> None:
    for name in as_names(cfg.first_conv):
        key = f"{name}.weight"
        if key not in state_dict:
            raise KeyError(
                f"first_conv {name!r} of {cfg.name} has no {key!r} in the checkpoint; "
                "the config and weights do not match"
            )
        layer = model.get_submodule(name)
        weight = state_dict[key]
        if not hasattr(layer, "in_channels"):  # a linear patch embedding: its input layout is unknown
            if in_chans == cfg.input_size[0]:
                continue
            raise ValueError(
                f"first_conv {name!r} of {cfg.name} is a {type(layer).__name__}, not a convolution: its "
                f"pretrained weights cannot be adapted to in_chans={in_chans}; build it with "
                f"in_chans={cfg.input_size[0]}, or with pretrained=False and load the checkpoint "
                f"without {key!r}"
            )
        target_weight = getattr(layer, "weight", None)
        if target_weight is not None and weight.shape == target_weight.shape:  # nothing to adapt
            if in_chans != cfg.input_size[0]:
                _logger.warning(
                    f"pretrained {name} weights already match the model's {in_chans} input channels; "
                    f"the config's input_size says {cfg.input_size[0]}: loading them unchanged"
                )
            continue
        target = int(cast(int, layer.in_channels))
        if target % in_chans:
            raise ValueError(f"{name} takes {target} channels, not a multiple of in_chans={in_chans}")
        groups = target // in_chans  # interleaved copies of the input (space-to-depth stems)
        if weight.shape[1] % groups:
            raise ValueError(
                f"{key} of {cfg.name} takes {weight.shape[1]} channels, which do not split into the "
                f"{groups} input groups of {name}"
            )
        state_dict[key] = adapt_input_conv(in_chans, weight, base_chans=weight.shape[1] // groups)


def _adapt_classifiers(state_dict: dict[str, torch.Tensor], cfg: PretrainedCfg, num_classes: int) -> set[str]:
    """Resize or drop classifier entries; returns the keys the model must initialise itself."""
    dropped: set[str] = set()
    offset = cfg.label_offset or 0
    for name in as_names(cfg.classifier):
        keys = [k for k in (f"{name}.weight", f"{name}.bias") if k in state_dict]
        if num_classes == cfg.num_classes:
            continue
        if offset and num_classes == cfg.num_classes - offset:
            for k in keys:
                state_dict[k] = state_dict[k][offset:]
            continue
        for k in keys:
            del state_dict[k]
        # the model initialises its new classifier, also where the checkpoint has none (num_classes=0)
        dropped.update((f"{name}.weight", f"{name}.bias"))
    return dropped


def adapt_state_dict(
    state_dict: dict[str, torch.Tensor],
    model: nn.Module,
    cfg: PretrainedCfg,
    *,
    num_classes: int,
    in_chans: int,
    filter_fn: FilterFn | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """Apply remap, first-conv and classifier adaptation.

    Returns:
        ``(state_dict, keys the model initialises itself)``.
    """
    state_dict = dict(state_dict)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    _adapt_first_convs(state_dict, model, cfg, in_chans)
    return state_dict, _adapt_classifiers(state_dict, cfg, num_classes)
