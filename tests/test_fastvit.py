"""FastViT specifics the registry-wide suites do not reach: the re-parameterisation of each branched
module (against a direct computation and exact on trained-looking norms), of a whole model (ours,
timm's folded state dict, optimize_for_inference, building folded with ``inference_mode``), the
remap of Apple's checkpoint layouts, and options no registered name sets, against timm."""

from __future__ import annotations

import re
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import assert_pair_matches, paired_classes, rel_err
from torch import nn

import visionzoo
from visionzoo.models.fastvit import (
    FastVit,
    MobileOneBlock,
    ReparamLargeKernelConv,
    RepConditionalPosEnc,
    RepMixer,
    checkpoint_filter_fn,
)

pytestmark = pytest.mark.family

# what a fold removes: branch convs + norms, the norm-only identity, the RepMixer's scale
_BRANCHED = (nn.BatchNorm2d, nn.ModuleList)


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _bn(x: torch.Tensor, bn: nn.Module) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    y = (x - bn.running_mean.view(shape)) / (bn.running_var.view(shape) + bn.eps).sqrt()
    return y * bn.weight.view(shape) + bn.bias.view(shape)


BLOCKS = {  # case: (module, input channels, input size)
    "mobileone_dense_s2": (lambda: MobileOneBlock(6, 8, 3, stride=2), 6),
    "mobileone_depthwise_identity": (lambda: MobileOneBlock(8, 8, 3, group_size=1), 8),
    "mobileone_1x1_identity": (lambda: MobileOneBlock(8, 8, 1), 8),
    "mobileone_norm_only": (
        lambda: MobileOneBlock(
            8, 8, 3, group_size=1, use_act=False, use_scale_branch=False, num_conv_branches=0
        ),
        8,
    ),
    "mobileone_branches_se": (
        lambda: MobileOneBlock(8, 16, 3, group_size=1, num_conv_branches=3, use_se=True),
        8,
    ),
    "large_kernel_s2_se_act": (
        lambda: ReparamLargeKernelConv(
            8, 16, 7, 2, group_size=1, small_kernel=3, use_se=True, act_layer=nn.GELU
        ),
        8,
    ),
    "repmixer": (lambda: RepMixer(8, 3), 8),
    "repmixer_no_layer_scale_k5": (lambda: RepMixer(8, 5, layer_scale_init_value=None), 8),
    "cpe": (lambda: RepConditionalPosEnc(8, spatial_shape=(7, 7)), 8),
}


@pytest.mark.parametrize("case", sorted(BLOCKS))
def test_reparameterize_is_exact(case: str) -> None:
    make, chans = BLOCKS[case]
    module = with_trained_norms(make(), lambda seed: _x(chans, 12, 4, seed) * 2 + 1)
    if isinstance(module, RepMixer):  # a scale away from its init, so that it is folded for real
        with torch.no_grad():
            for p in module.parameters():
                if p.ndim == 3:
                    p.copy_(torch.rand(p.shape, generator=torch.Generator().manual_seed(1)))
    x = _x(chans, 12, 4, 7)
    with torch.no_grad():
        ref = module(x)
        module.reparameterize()
        out = module(x)
    assert rel_err(out, ref) < 1e-5
    assert module.reparam_conv is not None
    assert not any(isinstance(m, _BRANCHED) for m in module.modules())
    assert {k.split(".")[0] for k in module.state_dict()} <= {"reparam_conv", "se", "act"}


def test_mobileone_is_the_branch_sum() -> None:
    """Independently of the fold: bn_k(conv_k(x)) + bn_1(conv_1(x)) + bn_id(x), then the act."""
    block = with_trained_norms(MobileOneBlock(4, 4, 3, group_size=1), lambda seed: _x(4, 8, 4, seed))
    x = _x(4, 8)
    kxk, scale = block.conv_kxk[0], block.conv_scale
    with torch.no_grad():
        y = _bn(F.conv2d(x, kxk.conv.weight, padding=1, groups=4), kxk.bn)
        y = y + _bn(F.conv2d(x, scale.conv.weight, groups=4), scale.bn)
        y = F.gelu(y + _bn(x, block.identity))
        assert rel_err(block(x), y) < 1e-5
        block.reparameterize()
        assert rel_err(block(x), y) < 1e-5


def test_repmixer_and_cpe_are_their_formulas() -> None:
    """RepMixer: x + gamma * (mixer(x) - bn(x)); the positional encoding: x + dwconv7(x)."""
    mixer = with_trained_norms(RepMixer(4, 3), lambda seed: _x(4, 8, 4, seed))
    cpe = RepConditionalPosEnc(4)
    x = _x(4, 8)
    with torch.no_grad():
        gamma = torch.linspace(0.5, 2.0, 4).view(4, 1, 1)
        mixer.layer_scale.gamma.copy_(gamma)
        y = x + gamma * (mixer.mixer(x) - _bn(x, mixer.norm.identity))
        mixer.reparameterize()
        assert rel_err(mixer(x), y) < 1e-5
        w, b = cpe.pos_enc.weight, cpe.pos_enc.bias
        y = x + F.conv2d(x, w, b, padding=3, groups=4)
        cpe.reparameterize()
        assert rel_err(cpe(x), y) < 1e-5


_TINY = dict(
    layers=(1, 1, 1),
    embed_dims=(16, 32, 64),
    mlp_ratios=(2, 2, 2),
    token_mixers=("repmixer", "repmixer", "attention"),
    downsamples=(False, True, True),
    se_downsamples=(False, True, True),
    lkc_use_act=True,
    num_classes=10,
)


def _tiny_pair(**kwargs):
    from timm.models import fastvit as timm_fastvit

    ours_kw = dict(
        _TINY, pos_embs=(None, None, partial(RepConditionalPosEnc, spatial_shape=(7, 7))), **kwargs
    )
    theirs_kw = dict(
        ours_kw, pos_embs=(None, None, partial(timm_fastvit.RepConditionalPosEnc, spatial_shape=(7, 7)))
    )
    return paired_classes(FastVit, timm_fastvit.FastVit, theirs_kwargs=theirs_kw, **ours_kw)


def test_reparameterized_model_is_timms() -> None:
    """Both fold to the same state dict (keys in order) and functions; a folded checkpoint builds
    with ``inference_mode=True``."""
    from timm.utils.model import reparameterize_model

    ours, theirs = _tiny_pair()
    x = _x()
    with torch.no_grad():
        ref = ours(x)
        folded, theirs_folded = visionzoo.reparameterize(ours), reparameterize_model(theirs)
        assert list(folded.state_dict()) == list(theirs_folded.state_dict())
        assert rel_err(folded(x), ref) < 1e-5
        assert rel_err(theirs_folded(x), ref) < 1e-5
        assert any(isinstance(m, nn.ModuleList) for m in ours.modules())  # the original is untouched
        built = FastVit(**dict(_TINY, inference_mode=True, pos_embs=(None, None, RepConditionalPosEnc)))
        built.load_state_dict(theirs_folded.state_dict(), strict=True)
        assert rel_err(built.eval()(x), ref) < 1e-5


def test_optimize_for_inference_folds_the_branches() -> None:
    model = visionzoo.create_model(
        "fastvit_sa12", layers=(1, 1, 1, 1), embed_dims=(16, 32, 32, 64), num_classes=5
    )
    model = with_trained_norms(model, lambda seed: _x(batch=4, seed=seed))
    x = _x()
    with torch.no_grad():
        ref = model(x)
        fast = visionzoo.optimize_for_inference(model)
        assert rel_err(fast(x), ref) < 1e-4
    assert not any(isinstance(m, nn.ModuleList) for m in fast.modules())
    assert not any(
        isinstance(m, (RepMixer, MobileOneBlock)) and m.reparam_conv is None for m in fast.modules()
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(layer_scale_init_value=None),
        dict(repmixer_kernel_size=5, down_patch_size=5, cls_ratio=3.0, act_layer=nn.ReLU),
        dict(stem_use_scale_branch=False, norm_layer=nn.GroupNorm, global_pool="max"),
    ],
    ids=["no_layer_scale", "kernels_ratio_act", "stem_norm_pool"],
)
def test_options_match_timm(kwargs: dict) -> None:
    if kwargs.get("norm_layer") is nn.GroupNorm:
        kwargs = dict(kwargs, norm_layer=partial(nn.GroupNorm, 1))
    ours, theirs = _tiny_pair(**kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_pruned_like_timm() -> None:
    ours, theirs = _tiny_pair()
    x = _x()
    assert theirs.prune_intermediate_layers([1]) == ours.prune_intermediate_layers([1])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5
        assert ours(x).shape == theirs(x).shape == (2, 32, 8, 8)  # no head, no pooling


# --- Apple's layouts ------------------------------------------------------------------------------
_TO_APPLE = (  # ours -> ml-fastvit names (the inverse of the remap, written out here)
    (r"^stem\.", "patch_embed."),
    (r"conv_kxk", "rbr_conv"),
    (r"conv_scale", "rbr_scale"),
    (r"\.identity\.", ".rbr_skip."),
    (r"^final_conv", "conv_exp"),
    (r"large_conv", "lkb_origin"),
    (r"\.mlp\.", ".convffn."),
    (r"se\.fc1", "se.reduce"),
    (r"se\.fc2", "se.expand"),
    (r"\.gamma$", ""),
    (r"^head\.fc\.", "head."),
)


def _apple_layout(model: FastVit) -> dict[str, torch.Tensor]:
    """``model``'s weights as Apple stores them: one flat ``network`` list of block runs with the
    downsamples (``proj``) and positional encodings (``pe``) as their own entries."""
    index, where = 0, {}
    for s, stage in enumerate(model.stages):
        for part, kind in (("downsample", "proj"), ("pos_emb", "pe"), ("blocks", "")):
            if not isinstance(getattr(stage, part), nn.Identity):
                where[f"stages.{s}.{part}"] = (index, kind)
                index += 1
    out = {}
    for key, value in model.state_dict().items():
        for prefix, (i, kind) in where.items():
            if key.startswith(prefix + "."):
                rest = key[len(prefix) + 1 :]  # ``proj.*``, ``pos_enc.*`` or ``<block>.*``
                key = f"network.{i}.pe.{rest[len('pos_enc.') :]}" if kind == "pe" else f"network.{i}.{rest}"
        for pattern, repl in _TO_APPLE:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def test_apple_checkpoint_remap() -> None:
    model = FastVit(**dict(_TINY, pos_embs=(None, None, RepConditionalPosEnc)))
    apple = _apple_layout(model)
    assert "network.4.pe.weight" in apple and "network.3.proj.0.lkb_origin.conv.weight" in apple  # sanity
    remapped = checkpoint_filter_fn(apple, model)
    assert sorted(remapped) == sorted(model.state_dict())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in remapped.items())


def test_mobileclip_checkpoint_remap() -> None:
    """MobileCLIP: the image tower under ``image_encoder.model.`` in a ``state_dict`` entry, its
    CLIP projection ``head.proj`` (x @ W) as the linear classifier with a zero bias."""
    model = FastVit(**dict(_TINY, pos_embs=(None, None, RepConditionalPosEnc)))
    apple = {k: v for k, v in _apple_layout(model).items() if not k.startswith("head.")}
    proj = torch.randn(model.num_features, 10)
    apple["head.proj"] = proj
    ckpt = {"image_encoder.model." + k: v for k, v in apple.items()}
    ckpt["text_encoder.embedding.weight"] = torch.zeros(3)
    remapped = checkpoint_filter_fn({"state_dict": ckpt}, model)
    assert sorted(remapped) == sorted(model.state_dict())
    assert torch.equal(remapped["head.fc.weight"], proj.T) and not remapped["head.fc.bias"].any()
    x = _x()
    model.load_state_dict(remapped)
    model.eval()
    with torch.no_grad():
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
        assert rel_err(model(x), pooled @ proj) < 1e-5


def test_open_clip_and_timm_layouts() -> None:
    model = FastVit(**dict(_TINY, pos_embs=(None, None, RepConditionalPosEnc)))
    sd = model.state_dict()
    assert checkpoint_filter_fn(sd, model) is sd
    ckpt = {"module.visual.trunk." + k: v for k, v in sd.items()}
    ckpt["module.visual.head.proj"] = torch.zeros(2)
    ckpt["module.text.proj"] = torch.zeros(2)
    assert checkpoint_filter_fn(ckpt, model).keys() == sd.keys()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="token mixer"):
        FastVit(
            layers=(1,),
            embed_dims=(16,),
            token_mixers=("pool",),
            mlp_ratios=(2,),
            downsamples=(False,),
            se_downsamples=(False,),
            pos_embs=(None,),
        )
    with pytest.raises(ValueError, match="one value per stage"):
        FastVit(layers=(1, 1, 1, 1, 1))
