"""MViTv2 specifics the registry-wide suites do not reach: the decomposed relative position
bias against a per-pair loop, options no registered name sets against timm, the original
release's checkpoint layout and the resampling of relative position tables."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired_classes, rel_err, timm

from visionzoo.layers import add_decomposed_rel_pos
from visionzoo.models import mvitv2

pytestmark = pytest.mark.family

TINY = dict(img_size=64, depths=(1, 2, 1, 1), embed_dim=16, num_heads=1)


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(6))


def test_decomposed_rel_pos_is_its_formula() -> None:
    """Query (i, j) of a 4x4 grid, key (m, n) of a 2x2 grid: offsets on the finer grid,
    d_h = i - 2 m + 2, d_w = j - 2 n + 2; bias = q . Rh[d_h] + q . Rw[d_w]; a class token first."""
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, 1 + 16, 5, generator=g)
    attn = torch.randn(1, 2, 1 + 16, 1 + 4, generator=g)
    rh, rw = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    expected = attn.clone()
    for i in range(4):
        for j in range(4):
            for m in range(2):
                for n in range(2):
                    qv = q[0, :, 1 + 4 * i + j]
                    expected[0, :, 1 + 4 * i + j, 1 + 2 * m + n] += (
                        qv @ rh[i - 2 * m + 2] + qv @ rw[j - 2 * n + 2]
                    )
    got = add_decomposed_rel_pos(attn.clone(), q, [4, 4], [2, 2], rh, rw, num_prefix_tokens=1)
    assert rel_err(got, expected) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(use_cls_token=True, use_abs_pos=True, global_pool="avg"),
        dict(mode="max", expand_attn=False, residual_pooling=False),
        dict(mode="avg", rel_pos_type="", global_pool=""),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    # (timm 1.0.31's pool_first attention multiplies q by an untransposed k and fails: not compared)
    assert_pair_matches(*_pair(**kwargs), _x())


def _pair(**kwargs: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Ours and timm's (built from its cfg record) with TINY + ``kwargs``, the same weights."""
    cfg_keys = {k: v for k, v in {**TINY, **kwargs}.items() if k not in ("img_size", "global_pool")}
    model_keys = {k: v for k, v in {**TINY, **kwargs}.items() if k in ("img_size", "global_pool")}
    cfg = timm.models.mvitv2.MultiScaleVitCfg(**cfg_keys)
    return paired_classes(
        mvitv2.MultiScaleVit,
        timm.models.mvitv2.MultiScaleVit,
        theirs_kwargs=dict(cfg=cfg, **model_keys),
        **TINY,
        **kwargs,
    )


def test_cfg_record_builds_the_model() -> None:
    cfg = mvitv2.MultiScaleVitCfg(depths=(1, 2, 1, 1), embed_dim=16, num_heads=1, use_cls_token=True)
    model = mvitv2.MultiScaleVit(img_size=64, **cfg.model_kwargs())
    assert model.depths == (1, 2, 1, 1) and model.num_prefix_tokens == 1 and model.num_features == 128


def _to_original_layout(sd: dict[str, torch.Tensor], depths: tuple[int, ...], widen: str) -> dict[str, Any]:
    """timm keys -> the facebookresearch/mvit release layout, written out by hand."""
    starts = [sum(depths[:i]) for i in range(len(depths))]
    out = {}
    for k, v in sd.items():
        if k.startswith("stages."):
            _, s, _, b, rest = k.split(".", 4)
            rest = rest.replace(widen, "proj")
            k = f"blocks.{starts[int(s)] + int(b)}.{rest}"
        out[k.replace("head.fc.", "head.projection.")] = v
    return {"model_state": out}


@pytest.mark.parametrize("expand_attn", [True, False])
def test_original_checkpoint_remaps_as_timm(expand_attn: bool) -> None:
    ours, theirs = _pair(expand_attn=expand_attn)
    widen = "shortcut_proj_attn" if expand_attn else "shortcut_proj_mlp"
    original = _to_original_layout(theirs.state_dict(), TINY["depths"], widen)
    assert any(k.endswith(".proj.weight") and k.count(".") == 3 for k in original["model_state"])
    mine = mvitv2.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.mvitv2.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    ours.load_state_dict(mine, strict=True)


def test_rel_pos_tables_resample_as_timm() -> None:
    ours, theirs = _pair()
    sd = {k: v.clone() for k, v in theirs.state_dict().items()}
    key = "stages.0.blocks.0.attn.rel_pos_h"
    sd[key] = torch.randn(2 * sd[key].shape[0] - 1, sd[key].shape[1])  # a longer table
    mine = mvitv2.checkpoint_filter_fn(dict(sd), ours)
    ref = timm.models.mvitv2.checkpoint_filter_fn(dict(sd), theirs)
    assert mine[key].shape == ours.state_dict()[key].shape
    assert torch.equal(mine[key], ref[key])
