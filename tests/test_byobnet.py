"""ByobNet specifics the registry-wide suites do not reach: re-parameterisation of the RepVGG and
MobileOne blocks (exact fusion, the optimised model, timm's deploy state dict), the BAT attention
and EvoNorm-S0a against direct computations, the OpenAI CLIP checkpoint remap, and options no
registered name sets, against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import paired, paired_classes, rel_err, timm, timm_on_meta
from torch import nn

import visionzoo
from visionzoo.layers import BatNonLocalAttn, EvoNorm2dS0a, get_attn
from visionzoo.layers.non_local_attn import BilinearAttnTransform
from visionzoo.models import byobnet
from visionzoo.models.byobnet import LayerFn, MobileOneBlock, RepVggBlock

pytestmark = pytest.mark.family

SIZE = 64


def _x(chans: int = 3, size: int = SIZE, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


# --- re-parameterisation --------------------------------------------------------------------------
def _trained(block: nn.Module, chans: int) -> nn.Module:
    return with_trained_norms(block, lambda seed: _x(chans, 16, batch=4, seed=seed) * 2 + 1)


_LAYERS_SE = LayerFn(attn=get_attn("se"))
REPARAM_BLOCKS = {
    "repvgg_identity": (lambda: RepVggBlock(16, 16), 16),
    "repvgg_stride2_wider": (lambda: RepVggBlock(16, 32, stride=2), 16),
    "repvgg_grouped": (lambda: RepVggBlock(16, 16, group_size=4), 16),
    "repvgg_se": (lambda: RepVggBlock(16, 16, layers=_LAYERS_SE), 16),
    "mobileone_identity_4_branches": (lambda: MobileOneBlock(16, 16, num_conv_branches=4), 16),
    "mobileone_depthwise_stride2": (lambda: MobileOneBlock(16, 16, stride=2, group_size=1), 16),
    "mobileone_pointwise": (lambda: MobileOneBlock(16, 24, kernel_size=1, num_conv_branches=2), 16),
}


@pytest.mark.parametrize("case", sorted(REPARAM_BLOCKS))
def test_reparameterize_block_is_exact(case: str) -> None:
    make, chans = REPARAM_BLOCKS[case]
    block = _trained(make(), chans)
    x = _x(chans, 16)
    with torch.no_grad():
        ref = block(x)
        block.reparameterize()
        fused = block(x)
    assert rel_err(fused, ref) < 1e-5
    assert isinstance(block.reparam_conv, nn.Conv2d)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())
    assert block.identity is None and block.conv_kxk is None


@pytest.mark.parametrize("name", ["repvgg_a0", "mobileone_s0"])
def test_reparameterize_model_copy_and_optimize_for_inference(name: str) -> None:
    model = _trained(visionzoo.create_model(name, num_classes=10), 3)
    x = _x()
    with torch.no_grad():
        ref = model(x)
        fused = visionzoo.reparameterize(model)
        out = fused(x)
    assert rel_err(out, ref) < 1e-5
    branchy = (RepVggBlock, MobileOneBlock)
    assert all(m.reparam_conv is None for m in model.modules() if isinstance(m, branchy))  # a copy
    assert all(m.reparam_conv is not None for m in fused.modules() if isinstance(m, branchy))
    # optimize_for_inference fuses them by default (after folding the branches' norms)
    fast = visionzoo.optimize_for_inference(model)
    blocks = [m for m in fast.modules() if isinstance(m, branchy)]
    assert blocks and all(m.reparam_conv is not None and m.conv_kxk is None for m in blocks)
    with torch.no_grad():
        assert rel_err(fast(x), ref) < 1e-4
    assert visionzoo.reparameterize(model, inplace=True) is model
    assert all(m.reparam_conv is not None for m in model.modules() if isinstance(m, branchy))


@pytest.mark.parametrize("name", ["repvgg_a0", "mobileone_s0"])
def test_reparameterized_state_dict_loads_into_timms(name: str) -> None:
    from timm.utils.model import reparameterize_model

    ours, theirs = paired(name)
    ours_fused, theirs_fused = visionzoo.reparameterize(ours), reparameterize_model(theirs)
    theirs_fused.load_state_dict(ours_fused.state_dict(), strict=True)
    x = _x()
    with torch.no_grad():
        assert rel_err(theirs_fused(x), ours(x)) < 1e-5
        assert rel_err(ours_fused(x), theirs(x)) < 1e-5


# --- special layers against direct computations ---------------------------------------------------
def test_bilinear_transform_is_row_and_column_mixing() -> None:
    """``P @ x @ Q`` with each n x n matrix entry standing for a t-pixel run, as explicit sums."""
    torch.manual_seed(0)
    n, t, c, g = 3, 2, 4, 2
    layer = BilinearAttnTransform(c, n, g).eval()  # conv2's input is the mixed map
    x = torch.randn(1, c, n * t, n * t)
    with torch.no_grad():
        seen: list[torch.Tensor] = []
        layer.conv2.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        layer(x)
        mid = layer.conv1(x)
        p = layer.conv_p(F.adaptive_max_pool2d(mid, (n, 1))).view(1, g, n, n).sigmoid()
        q = layer.conv_q(F.adaptive_max_pool2d(mid, (1, n))).view(1, g, n, n).sigmoid()
        p, q = p / p.sum(3, keepdim=True), q / q.sum(2, keepdim=True)
        out = torch.zeros_like(x)
        for ch in range(c):
            pg, qg = p[0, ch // (c // g)], q[0, ch // (c // g)]
            for i in range(n * t):
                for j in range(n * t):
                    out[0, ch, i, j] = sum(
                        pg[i // t, k // t] * x[0, ch, k, lc] * qg[lc // t, j // t]
                        for k in range(n * t)
                        if k % t == i % t
                        for lc in range(n * t)
                        if lc % t == j % t
                    )
    assert rel_err(seen[0], out) < 1e-5


def test_bat_attention_matches_timm() -> None:
    from timm.layers import BatNonLocalAttn as TimmBat

    ours, theirs = paired_classes(BatNonLocalAttn, TimmBat, in_channels=32, block_size=4)
    x = _x(32, 8)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5


def test_evonorm_s0a_formula() -> None:
    torch.manual_seed(0)
    norm = EvoNorm2dS0a(8, group_size=4)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
        norm.v.normal_()
    x = torch.randn(2, 8, 5, 5)
    groups = x.reshape(2, 2, 4 * 25)
    std = (groups.var(dim=2, unbiased=False, keepdim=True) + 1e-3).sqrt()
    std = std.expand(2, 2, 100).reshape(2, 8, 5, 5)
    v, w, b = (t.view(1, -1, 1, 1) for t in (norm.v, norm.weight, norm.bias))
    expected = x * torch.sigmoid(v * x) / std * w + b
    with torch.no_grad():
        assert rel_err(norm(x), expected) < 1e-5


# --- the OpenAI CLIP checkpoint remap -------------------------------------------------------------
_OPENAI_CONV = {"conv1_1x1": "1", "conv2_kxk": "2", "conv3_1x1": "3"}


def _as_openai(key: str) -> str:
    """Our key written the way OpenAI's ``ModifiedResNet`` names it (the remap's inverse)."""
    parts = key.split(".")
    if parts[0] == "stem":  # stem.convN.{conv,bn}.x -> convN.x / bnN.x
        n = parts[1].removeprefix("conv")
        return ".".join([("conv" if parts[2] == "conv" else "bn") + n, *parts[3:]])
    if parts[0] == "stages":
        stage, block = int(parts[1]) + 1, parts[2]
        if parts[3] == "shortcut":  # shortcut.conv.{conv,bn} -> downsample.{0,1}
            return ".".join(
                [f"layer{stage}", block, "downsample", "0" if parts[5] == "conv" else "1", *parts[6:]]
            )
        return ".".join([f"layer{stage}", block, parts[4] + _OPENAI_CONV[parts[3]], *parts[5:]])
    names = {
        "pos_embed": "positional_embedding",
        "q": "q_proj",
        "k": "k_proj",
        "v": "v_proj",
        "proj": "c_proj",
    }
    return ".".join(["attnpool", names[parts[1]], *parts[2:]])


@pytest.mark.parametrize("name", ["resnet50_clip", "resnet50_clip_gap"])
def test_openai_clip_checkpoint_remap_matches_timm(name: str) -> None:
    pooled = visionzoo.create_model("resnet50_clip", device="meta")
    model = visionzoo.create_model(name, device="meta")
    openai = {"visual." + _as_openai(k): torch.zeros(1) for k in pooled.state_dict()}
    openai["transformer.resblocks.0.attn.in_proj_weight"] = torch.zeros(1)  # the text tower goes
    ours = byobnet.checkpoint_filter_fn(openai, model)
    theirs = timm.models.byobnet.checkpoint_filter_fn(openai, timm_on_meta(name))
    assert sorted(ours) == sorted(theirs)
    assert sorted(ours) == sorted(model.state_dict())
    assert byobnet.checkpoint_filter_fn({"stem.conv.weight": torch.zeros(1)}, model).keys() == {
        "stem.conv.weight"
    }


# --- options no registered name sets, against timm -----------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("resnet32ts", dict(output_stride=16)),
        ("resnet61q", dict(output_stride=8)),
        ("test_byobnet", dict(drop_block_rate=0.1, drop_path_rate=0.1)),
    ],
)
def test_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4
    assert ours.feature_info == theirs.feature_info
