"""GC ViT specifics the registry-wide suites do not reach: options no registered name sets against
timm (timm's entrypoints fix the depths, so these build the classes), and the global-query
attention's two computations."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired_classes, timm

from visionzoo.layers import set_fused_attn
from visionzoo.models import gcvit as gc

pytestmark = pytest.mark.family

# a fixed-size model: at 64 px every stage keeps its global-context blocks (pooled or not)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}
_TINY = dict(depths=(1, 2, 2, 1), num_heads=(1, 2, 2, 4), embed_dim=16, img_size=64)


def _x() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(window_size=(4, 4, 2, 2), layer_scale=1e-2, mlp_ratio=2.0),
        dict(window_ratio=(16, 16, 16, 32), qkv_bias=False, global_pool="max"),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(
        gc.GlobalContextVit, timm.models.gcvit.GlobalContextVit, **_TINY, num_classes=5, **kwargs
    )
    assert_pair_matches(ours, theirs, _x())


def test_fused_and_explicit_attention_agree() -> None:
    torch.manual_seed(0)
    model = gc.GlobalContextVit(**_TINY, layer_scale=1.0).eval()
    with torch.no_grad():
        for block in model.modules():
            if isinstance(block, gc.WindowAttentionGlobal):
                block.rel_pos.relative_position_bias_table.normal_()  # a bias that counts
        fused = model(_x())
        set_fused_attn(model, False)
        torch.testing.assert_close(model(_x()), fused, rtol=1e-4, atol=1e-5)


def test_global_query_shared_by_an_images_windows() -> None:
    """With global queries, each window of image i attends with image i's context tokens."""
    torch.manual_seed(1)
    attn = gc.WindowAttentionGlobal(8, 2, (2, 2), use_global=True, fused_attn=False).eval()
    windows = torch.randn(6, 4, 8)  # 2 images x 3 windows, image-major
    q_global = torch.randn(2, 2, 2, 8)
    with torch.no_grad():
        out = attn(windows, q_global)
        for i in range(2):
            for w in range(3):
                alone = attn(windows[3 * i + w : 3 * i + w + 1], q_global[i : i + 1])
                torch.testing.assert_close(out[3 * i + w : 3 * i + w + 1], alone)
