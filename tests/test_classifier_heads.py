"""Classifier heads: ClNormMlpClassifierHead (channels-last pool -> norm -> MLP head) against timm
and its formula, and every head's ``reset`` building on the parent's dtype in the head's mode
(``get_device_dtype``)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionzoo.layers import (
    AttentionPool2d,
    ClassifierHead,
    ClNormMlpClassifierHead,
    NormMlpClassifierHead,
    get_device_dtype,
)

timm_layers = pytest.importorskip("timm.layers")


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (2, 3, 4, 8)),
        ({"hidden_size": 6, "pool_type": "avgmax"}, (2, 3, 4, 8)),
        ({"pool_type": "max", "input_fmt": "NLC"}, (2, 5, 8)),
        ({"pool_type": "", "hidden_size": 6}, (2, 5, 8)),
    ],
)
def test_cl_norm_mlp_head_matches_timm(kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    ours, ref = (
        ClNormMlpClassifierHead(8, 3, **kwargs).eval(),
        timm_layers.ClNormMlpClassifierHead(8, 3, **kwargs).eval(),
    )
    with torch.no_grad():
        for t in ref.state_dict().values():
            t.copy_(torch.randn_like(t))
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(shape)
    with torch.no_grad():
        for pre_logits in (False, True):
            torch.testing.assert_close(ours(x, pre_logits=pre_logits), ref(x, pre_logits=pre_logits))


def test_cl_norm_mlp_head_formula() -> None:
    head = ClNormMlpClassifierHead(8, 3, hidden_size=5).eval()
    x = torch.randn(2, 3, 4, 8)
    h = F.layer_norm(x.mean((1, 2)), (8,), head.norm.weight, head.norm.bias, head.norm.eps)
    h = F.gelu(F.linear(h, head.pre_logits.fc.weight, head.pre_logits.fc.bias))
    with torch.no_grad():
        torch.testing.assert_close(head(x), F.linear(h, head.fc.weight, head.fc.bias))
    head.reset(4, reset_other=True, in_features=6)
    assert head(torch.randn(2, 3, 3, 6)).shape == (2, 4)
    with pytest.raises(ValueError, match="pool_type"):
        ClNormMlpClassifierHead(8, 3, pool_type="catavgmax")


def test_get_device_dtype() -> None:
    m = nn.Linear(2, 2).to(torch.float64)
    assert get_device_dtype(m) == {"device": m.weight.device, "dtype": torch.float64}
    assert get_device_dtype(m, dtype=torch.float16)["dtype"] == torch.float16
    assert get_device_dtype(nn.ReLU()) == {"device": None, "dtype": None}


@pytest.mark.parametrize(
    ("head", "shape", "pool"),
    [
        (lambda: ClassifierHead(4, 3), (2, 4, 3, 3), "avgmax"),
        (lambda: NormMlpClassifierHead(4, 3, hidden_size=3), (2, 4, 3, 3), ""),
        (lambda: ClNormMlpClassifierHead(4, 3, hidden_size=3), (2, 3, 3, 4), "avgmax"),
    ],
)
def test_reset_builds_on_the_parent_dtype_in_the_head_mode(
    head: Any, shape: tuple[int, ...], pool: str
) -> None:
    h = head().to(torch.float64)
    h.reset(2, pool)  # the head's own dtype
    parent = nn.Module()
    parent.anchor = nn.Parameter(torch.ones(1, dtype=torch.float64))
    parent.head = h
    parent.eval()
    parent.head.reset(0, pool, **get_device_dtype(parent))
    parent.head.reset(2, pool, **get_device_dtype(parent))
    assert {p.dtype for p in h.parameters()} == {torch.float64}
    assert not any(m.training for m in h.modules())
    assert h(torch.randn(shape, dtype=torch.float64)).dtype == torch.float64


def test_attention_pool_reset_takes_the_given_dtype() -> None:
    pool = AttentionPool2d(4, out_features=3, head_dim=2, feat_size=3).eval()
    pool.reset(2, dtype=torch.float64)
    assert pool.proj.weight.dtype == torch.float64 and not pool.proj.training
