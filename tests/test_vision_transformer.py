"""Vision Transformer: numeric parity with timm per constructor option (the options no registered
name of the family sample sets), the token-model contract, input size flexibility checked against
independent reference computations, and the checkpoint layouts of the original releases.

(Checkpointing, FX / TorchScript, the sampled names' outputs and pretrained cfgs against timm:
test_capabilities.py, test_script_fx.py and test_parity.py.)
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import paired_classes, rel_err, timm
from torch import nn

from visionzoo.features import FeatureGetterNet
from visionzoo.layers import resample_abs_pos_embed, resample_patch_embed, set_fused_attn
from visionzoo.models.vision_transformer import VisionTransformer

pytestmark = pytest.mark.family

BASE = dict(img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=3, num_classes=10)

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

OPTIONS = {
    "class_token": {},
    "no_class_token_avg": dict(class_token=False, global_pool="avg"),
    "reg_tokens": dict(reg_tokens=2),
    "reg_no_embed_class_ls": dict(reg_tokens=4, no_embed_class=True, init_values=1e-5),
    "map_pool": dict(global_pool="map", class_token=False),
    "qk_norm": dict(qk_norm=True),
    "pre_norm_clip": dict(pre_norm=True, act_layer="quick_gelu"),
    "avg_no_fc_norm": dict(global_pool="avg", fc_norm=False),
    "avgmax": dict(global_pool="avgmax"),
    "max_no_token": dict(global_pool="max", class_token=False),
    "dynamic_img_size": dict(dynamic_img_size=True),
    "dynamic_img_pad": dict(dynamic_img_pad=True),
    "scale_norms_rmsnorm": dict(scale_attn_norm=True, scale_mlp_norm=True, norm_layer="rmsnorm"),
}


def _pair(**kwargs) -> tuple[VisionTransformer, torch.nn.Module]:
    """(ours, timm's) ViT of ``BASE`` with ``kwargs``, holding the same random weights."""
    return paired_classes(
        VisionTransformer, timm.models.vision_transformer.VisionTransformer, **dict(BASE, **kwargs)
    )


@pytest.mark.parametrize("option", list(OPTIONS))
def test_parity_with_timm(option: str) -> None:
    ours, ref = _pair(**OPTIONS[option])
    with torch.no_grad():
        assert rel_err(ours(X), ref(X)) < 1e-4
        assert (
            rel_err(
                ours.forward_head(ours.forward_features(X), pre_logits=True),
                ref.forward_head(ref.forward_features(X), pre_logits=True),
            )
            < 1e-4
        )


def test_parity_block_types() -> None:
    from timm.models import vision_transformer as tv

    from visionzoo.models.vision_transformer import ParallelScalingBlock, ParallelThingsBlock, ResPostBlock

    for ours_fn, ref_fn, extra in (
        (ResPostBlock, tv.ResPostBlock, dict(init_values=1e-5)),
        (ParallelScalingBlock, tv.ParallelScalingBlock, dict(init_values=1e-5, qkv_bias=False)),
        (ParallelThingsBlock, tv.ParallelThingsBlock, {}),
    ):
        kw = dict(BASE, **extra)
        ours, ref = paired_classes(
            VisionTransformer,
            tv.VisionTransformer,
            theirs_kwargs=dict(kw, block_fn=ref_fn),
            **kw,
            block_fn=ours_fn,
        )
        with torch.no_grad():
            assert rel_err(ours(X), ref(X)) < 1e-4, ours_fn.__name__


def test_parity_differential_attention() -> None:
    from timm.models import vision_transformer as tv

    from visionzoo.models.vision_transformer import DiffParallelScalingBlock

    kw = dict(BASE, init_values=1e-5, class_token=False, global_pool="avg", reg_tokens=1, no_embed_class=True)
    for ours_kw, ref_kw in (
        (dict(attn_layer="diff"), dict(attn_layer="diff")),
        (dict(block_fn=DiffParallelScalingBlock), dict(block_fn=tv.DiffParallelScalingBlock)),
    ):
        ours, ref = paired_classes(
            VisionTransformer, tv.VisionTransformer, theirs_kwargs=dict(kw, **ref_kw), **kw, **ours_kw
        )
        with torch.no_grad():
            assert rel_err(ours(X), ref(X)) < 1e-4
            set_fused_attn(ours, False)
            assert rel_err(ours(X), ref(X)) < 1e-4


def test_fused_and_explicit_attention_agree() -> None:
    ours, _ = _pair(global_pool="map", class_token=False, reg_tokens=1)
    with torch.no_grad():
        fused = ours(X)
        set_fused_attn(ours, False)
        explicit = ours(X)
    assert not ours.blocks[0].attn.fused_attn and not ours.attn_pool.fused_attn
    assert rel_err(explicit, fused) < 1e-5


@pytest.mark.parametrize("option", ["class_token", "reg_no_embed_class_ls", "no_class_token_avg"])
def test_forward_intermediates_match_timm(option: str) -> None:
    ours, ref = _pair(**OPTIONS[option])
    with torch.no_grad():
        for kwargs in (
            dict(indices=2, norm=True),
            dict(indices=(0, -1), output_fmt="NLC", return_prefix_tokens=True),
            dict(indices=None, intermediates_only=True),
        ):
            got, want = ours.forward_intermediates(X, **kwargs), ref.forward_intermediates(X, **kwargs)
            got_list = got if kwargs.get("intermediates_only") else got[1]
            want_list = want if kwargs.get("intermediates_only") else want[1]
            if not kwargs.get("intermediates_only"):
                assert rel_err(got[0], want[0]) < 1e-4
            flat = [t for item in got_list for t in (item if isinstance(item, tuple) else (item,))]
            ref_flat = [t for item in want_list for t in (item if isinstance(item, tuple) else (item,))]
            assert len(flat) == len(ref_flat)
            for a, b in zip(flat, ref_flat):
                assert a.shape == b.shape and rel_err(a, b) < 1e-4
    inter = ours.forward_intermediates(X, indices=1, intermediates_only=True)
    assert inter[0].shape == (2, 48, 4, 4)  # NCHW: the patch grid at reduction = patch size


def test_forward_head_every_pool_and_reset_classifier() -> None:
    ours, ref = _pair(reg_tokens=1)
    with torch.no_grad():
        tokens = ours.forward_features(X)
        for pool in ("token", "avg", "avgmax", "max", ""):
            ours.reset_classifier(5, pool)
            ref.reset_classifier(5, pool)
            ref.head.load_state_dict(ours.head.state_dict())
            out = ours.forward_head(tokens)
            assert rel_err(out, ref.forward_head(tokens)) < 1e-5
            expected = (2, 5) if pool else (2, 2 + 16, 5)
            assert out.shape == expected
            assert ours.forward_head(tokens, pre_logits=True).shape[-1] == ours.head_hidden_size
    ours.reset_classifier(0)
    assert isinstance(ours.head, torch.nn.Identity) and ours.num_classes == 0
    with pytest.raises(ValueError, match="global_pool='bogus'"):
        ours.reset_classifier(3, "bogus")
    with pytest.raises(ValueError, match="needs the attention pool"):
        ours.reset_classifier(3, "map")
    no_cls = VisionTransformer(**dict(BASE, class_token=False, global_pool="avg"))
    with pytest.raises(ValueError, match="needs a class token"):
        no_cls.reset_classifier(3, "token")


def test_prune_and_getter_backbone_match_timm() -> None:
    ours, ref = _pair(reg_tokens=1)
    with torch.no_grad():
        want = ref.forward_intermediates(X, indices=(0, 1), intermediates_only=True)
        backbone = FeatureGetterNet(ours, (0, 1))
        got = backbone(X)
    assert len(ours.blocks) == 2 and isinstance(ours.norm, torch.nn.Identity)
    assert backbone.feature_info.reduction() == [8, 8] and backbone.feature_info.channels() == [48, 48]
    for a, b in zip(got, want):
        assert rel_err(a, b) < 1e-4
    assert all(k.startswith("model.") for k in backbone.state_dict())  # timm's getter layout


def test_group_matcher_and_no_weight_decay_equal_timm() -> None:
    ours, ref = _pair(reg_tokens=1)
    assert ours.group_matcher() == ref.group_matcher()
    assert ours.no_weight_decay() == ref.no_weight_decay()
    from timm.models import group_parameters

    assert group_parameters(ours, ours.group_matcher()) == group_parameters(ref, ref.group_matcher())


# --- input size flexibility, against independent references ----------------------------------
def _bicubic_grid(posemb: torch.Tensor, prefix: int, old: tuple, new: tuple) -> torch.Tensor:
    grid = posemb[:, prefix:].reshape(1, *old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new, mode="bicubic", antialias=True)
    return grid.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], -1)


@pytest.mark.parametrize(
    ("prefix", "old", "new"), [(1, (4, 4), (6, 6)), (0, (4, 4), (3, 5)), (5, (2, 3), (4, 4))]
)
def test_resample_abs_pos_embed_is_bicubic_resize_of_grid(prefix: int, old, new) -> None:
    posemb = torch.randn(1, prefix + old[0] * old[1], 8)
    out = resample_abs_pos_embed(posemb, new, old, num_prefix_tokens=prefix)
    assert out.shape == (1, prefix + new[0] * new[1], 8)
    assert torch.equal(out[:, :prefix], posemb[:, :prefix])  # prefix tokens untouched
    assert torch.allclose(out[:, prefix:], _bicubic_grid(posemb, prefix, old, new), atol=1e-6)
    with pytest.raises(ValueError, match="not 1 prefix"):
        resample_abs_pos_embed(torch.randn(1, 10, 8), (2, 2), (2, 2), num_prefix_tokens=1)


def test_dynamic_img_size_at_build_size_equals_fixed() -> None:
    fixed, _ = _pair(reg_tokens=1)
    dynamic = VisionTransformer(**dict(BASE, reg_tokens=1, dynamic_img_size=True)).eval()
    dynamic.load_state_dict(fixed.state_dict())
    with torch.no_grad():
        assert torch.allclose(dynamic(X), fixed(X), atol=1e-6)
        out = dynamic(torch.randn(1, 3, 48, 40))  # any multiple of the patch size
        assert out.shape == (1, 10)
        feats = dynamic.forward_intermediates(torch.randn(1, 3, 48, 40), indices=1, intermediates_only=True)
        assert feats[0].shape == (1, 48, 6, 5)


def test_dynamic_img_pad_pads_bottom_right() -> None:
    model = VisionTransformer(**dict(BASE, dynamic_img_size=True, dynamic_img_pad=True)).eval()
    x = torch.randn(1, 3, 30, 27)
    with torch.no_grad():
        padded = model(F.pad(x, (0, 5, 0, 2)))
        assert torch.allclose(model(x), padded, atol=1e-6)
        assert model.forward_intermediates(x, indices=1, intermediates_only=True)[0].shape[-2:] == (4, 4)


@pytest.mark.parametrize("kwargs", [dict(reg_tokens=2), dict(reg_tokens=2, no_embed_class=True)])
def test_set_input_size_equals_building_at_that_size(kwargs) -> None:
    small, _ = _pair(**kwargs)
    state = {k: v.clone() for k, v in small.state_dict().items()}
    small.set_input_size(img_size=(48, 40))
    built = VisionTransformer(**dict(BASE, **kwargs, img_size=(48, 40))).eval()
    prefix = 0 if kwargs.get("no_embed_class") else 3
    state["pos_embed"] = torch.cat(
        [state["pos_embed"][:, :prefix], _bicubic_grid(state["pos_embed"], prefix, (4, 4), (6, 5))], dim=1
    )
    built.load_state_dict(state)
    x = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        assert torch.allclose(small(x), built(x), atol=1e-5)


def test_patch_kernel_resampling_preserves_response_to_smooth_input() -> None:
    weight = torch.randn(4, 3, 8, 8)
    patch = torch.linspace(0, 1, 8).outer(torch.linspace(1, 2, 8)).expand(1, 3, 8, 8)  # a smooth patch
    for new in ((16, 16), (12, 10)):
        resized_weight = resample_patch_embed(weight, new)
        resized_patch = F.interpolate(patch, size=new, mode="bicubic", antialias=True, align_corners=False)
        want = (weight * patch).sum(dim=(1, 2, 3))
        got = (resized_weight * resized_patch).sum(dim=(1, 2, 3))
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-3), new
    # and set_input_size(patch_size=) uses it: the model's response to an upsampled image is kept
    model = VisionTransformer(**dict(BASE, class_token=False, global_pool="avg", depth=1)).eval()
    image = torch.linspace(0, 1, 32).outer(torch.linspace(0, 1, 32)).expand(1, 3, 32, 32).contiguous()
    with torch.no_grad():
        before = model.patch_embed(image)
        model.set_input_size(img_size=64, patch_size=16)
        after = model.patch_embed(F.interpolate(image, size=64, mode="bicubic", antialias=True))
    assert model.patch_embed.proj.weight.shape[-2:] == (16, 16)
    assert rel_err(after, before) < 1e-2


# --- checkpoint layouts: synthetic checkpoints written in each original layout -------------------
def _random_vit(**kwargs) -> VisionTransformer:
    model = VisionTransformer(**dict(BASE, **kwargs)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


def _loads_to_same_outputs(src: VisionTransformer, checkpoint: dict, **kwargs) -> None:
    from visionzoo.models.vision_transformer.remap import checkpoint_filter_fn

    dst = VisionTransformer(**dict(BASE, **kwargs)).eval()
    dst.load_state_dict(checkpoint_filter_fn(checkpoint, dst), strict=True)
    with torch.no_grad():
        assert torch.allclose(dst(X), src(X), atol=1e-5)


def test_openai_clip_layout() -> None:
    src = _random_vit(pre_norm=True, num_classes=16)
    sd = src.state_dict()
    ckpt = {
        "visual.conv1.weight": sd["patch_embed.proj.weight"],
        "visual.class_embedding": sd["cls_token"].reshape(-1),
        "visual.positional_embedding": sd["pos_embed"][0],
        "visual.ln_pre.weight": sd["norm_pre.weight"],
        "visual.ln_pre.bias": sd["norm_pre.bias"],
        "visual.ln_post.weight": sd["norm.weight"],
        "visual.ln_post.bias": sd["norm.bias"],
        "visual.proj": sd["head.weight"].t().contiguous(),
        "token_embedding.weight": torch.zeros(5, 4),  # text tower: ignored
    }
    with torch.no_grad():
        src.head.bias.zero_()  # CLIP's projection has no bias
    for i in range(BASE["depth"]):
        b, r = f"blocks.{i}.", f"visual.transformer.resblocks.{i}."
        for ours, theirs in (
            ("norm1", "ln_1"),
            ("norm2", "ln_2"),
            ("attn.proj", "attn.out_proj"),
            ("mlp.fc1", "mlp.c_fc"),
            ("mlp.fc2", "mlp.c_proj"),
        ):
            ckpt[f"{r}{theirs}.weight"], ckpt[f"{r}{theirs}.bias"] = (
                sd[f"{b}{ours}.weight"],
                sd[f"{b}{ours}.bias"],
            )
        ckpt[f"{r}attn.in_proj_weight"], ckpt[f"{r}attn.in_proj_bias"] = (
            sd[f"{b}attn.qkv.weight"],
            sd[f"{b}attn.qkv.bias"],
        )
    _loads_to_same_outputs(src, ckpt, pre_norm=True, num_classes=16)


def test_openclip_timm_trunk_layout() -> None:
    src = _random_vit(class_token=False, global_pool="avg", num_classes=16)
    with torch.no_grad():
        src.head.bias.zero_()
    sd = src.state_dict()
    ckpt = {f"visual.trunk.{k}": v for k, v in sd.items() if not k.startswith("head.")}
    ckpt["visual.head.proj.weight"] = sd["head.weight"]
    ckpt["text.token_embedding.weight"] = torch.zeros(3, 3)
    _loads_to_same_outputs(src, ckpt, class_token=False, global_pool="avg", num_classes=16)


def test_dinov2_layouts() -> None:
    # registers: the class token's position embedding is folded into the token
    src = _random_vit(reg_tokens=4, no_embed_class=True, init_values=1.0)
    sd = src.state_dict()
    cls_pos = torch.randn(1, 1, 48)
    ckpt = {k: v for k, v in sd.items() if k not in ("cls_token", "reg_token", "pos_embed")}
    ckpt.update(
        cls_token=sd["cls_token"] - cls_pos,
        register_tokens=sd["reg_token"],
        pos_embed=torch.cat([cls_pos, sd["pos_embed"]], dim=1),
        mask_token=torch.zeros(1, 48),
    )
    _loads_to_same_outputs(src, ckpt, reg_tokens=4, no_embed_class=True, init_values=1.0)
    # giant: packed SwiGLU as w12 / w3
    from visionzoo.layers import SwiGLUPacked

    kw = dict(init_values=1.0, mlp_layer=SwiGLUPacked, act_layer="silu", mlp_ratio=2.0)
    src = _random_vit(**kw)
    ckpt = {
        k.replace("mlp.fc1", "mlp.w12").replace("mlp.fc2", "mlp.w3"): v for k, v in src.state_dict().items()
    }
    ckpt["mask_token"] = torch.zeros(1, 48)
    _loads_to_same_outputs(src, ckpt, **kw)


def test_deit_and_mae_training_checkpoints() -> None:
    src = _random_vit()
    _loads_to_same_outputs(src, {"model": src.state_dict(), "optimizer": {}, "epoch": 3})
    mae = {
        "model": {
            **src.state_dict(),
            "decoder_embed.weight": torch.zeros(2, 2),
            "mask_token": torch.zeros(1, 1, 48),
        }
    }
    _loads_to_same_outputs(src, mae)
    ddp = {"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}
    _loads_to_same_outputs(src, ddp)


@pytest.mark.parametrize(
    ("kwargs", "src_size", "dst_size"),
    [
        ({}, 32, 48),
        (dict(reg_tokens=2, no_embed_class=True), 32, (40, 24)),
        (dict(class_token=False, global_pool="avg"), (32, 24), 40),
    ],
)
def test_pretrained_pos_embed_resampled_to_img_size(kwargs, src_size, dst_size) -> None:
    from visionzoo.models.vision_transformer.remap import checkpoint_filter_fn
    from visionzoo.pretrained import PretrainedCfg

    src = _random_vit(**kwargs, img_size=src_size)
    dst = VisionTransformer(**dict(BASE, **kwargs, img_size=dst_size)).eval()
    src_hw = (src_size, src_size) if isinstance(src_size, int) else src_size
    dst.pretrained_cfg = PretrainedCfg(input_size=(3, *src_hw))
    sd = checkpoint_filter_fn(src.state_dict(), dst)
    dst.load_state_dict(sd, strict=True)
    prefix = 0 if kwargs.get("no_embed_class") else dst.num_prefix_tokens
    old, new = src.patch_embed.grid_size, dst.patch_embed.grid_size
    want = _bicubic_grid(src.pos_embed.detach(), prefix, old, new)
    assert torch.equal(sd["pos_embed"][:, :prefix], src.pos_embed[:, :prefix])
    assert torch.allclose(sd["pos_embed"][:, prefix:], want, atol=1e-6)


def test_checkpoint_with_other_patch_size_is_resampled() -> None:
    from visionzoo.models.vision_transformer.remap import checkpoint_filter_fn

    src = _random_vit(class_token=False, global_pool="avg")
    dst = VisionTransformer(**dict(BASE, class_token=False, global_pool="avg", patch_size=4, img_size=16))
    sd = checkpoint_filter_fn(src.state_dict(), dst)
    assert torch.equal(
        sd["patch_embed.proj.weight"], resample_patch_embed(src.patch_embed.proj.weight, (4, 4))
    )
    dst.load_state_dict(sd, strict=True)


def test_in_chans_adaptation_of_patch_embedding() -> None:
    from visionzoo.adapt import adapt_state_dict
    from visionzoo.pretrained import PretrainedCfg

    src = _random_vit()
    gray = VisionTransformer(**dict(BASE, in_chans=1)).eval()
    cfg = PretrainedCfg(first_conv="patch_embed.proj", classifier="head", num_classes=10)
    sd, reinit = adapt_state_dict(src.state_dict(), gray, cfg, num_classes=10, in_chans=1)
    gray.load_state_dict(sd, strict=True)
    image = X[:, :1]
    with torch.no_grad():  # summed kernel on one channel == original kernel on three equal channels
        assert torch.allclose(gray(image), src(image.expand(-1, 3, -1, -1)), atol=1e-5)
    assert not reinit


# --- big_vision / AugReg .npz --------------------------------------------------------------------
def _to_flax(model: VisionTransformer, *, big_vision: bool) -> dict:
    """Write ``model`` in the JAX/Flax layout (HWIO kernels, per-head q/k/v) of the .npz files."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    heads, dim = model.blocks[0].attn.num_heads, model.embed_dim
    hd = dim // heads
    p = "params/" if big_vision else ""
    out = {
        f"{p}embedding/kernel": sd["patch_embed.proj.weight"].transpose(2, 3, 1, 0),
        f"{p}embedding/bias": sd["patch_embed.proj.bias"],
        f"{p}Transformer/encoder_norm/scale": sd["norm.weight"],
        f"{p}Transformer/encoder_norm/bias": sd["norm.bias"],
        f"{p}head/kernel": sd["head.weight"].T,
        f"{p}head/bias": sd["head.bias"],
    }
    out[f"{p}pos_embedding" if big_vision else "Transformer/posembed_input/pos_embedding"] = sd["pos_embed"]
    if model.cls_token is not None:
        out[f"{p}cls"] = sd["cls_token"]
    mha_sub, mlp_sub, ln2 = (0, 0, 1) if big_vision else (1, 3, 2)

    def put_attn(prefix: str, names: tuple, weight, bias) -> None:
        for n, w_part, b_part in zip(names, np.split(weight, len(names)), np.split(bias, len(names))):
            out[f"{prefix}{n}/kernel"] = w_part.T.reshape(dim, heads, hd)
            out[f"{prefix}{n}/bias"] = b_part.reshape(heads, hd)

    for i in range(len(model.blocks)):
        b, r = f"blocks.{i}.", f"{p}Transformer/encoderblock_{i}/"
        mha = f"{r}MultiHeadDotProductAttention_{mha_sub}/"
        put_attn(mha, ("query", "key", "value"), sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"])
        out[mha + "out/kernel"] = sd[b + "attn.proj.weight"].T.reshape(heads, hd, dim)
        out[mha + "out/bias"] = sd[b + "attn.proj.bias"]
        for ln, key in ((0, "norm1"), (ln2, "norm2")):
            out[f"{r}LayerNorm_{ln}/scale"], out[f"{r}LayerNorm_{ln}/bias"] = (
                sd[b + key + ".weight"],
                sd[b + key + ".bias"],
            )
        for j in range(2):
            out[f"{r}MlpBlock_{mlp_sub}/Dense_{j}/kernel"] = sd[f"{b}mlp.fc{j + 1}.weight"].T
            out[f"{r}MlpBlock_{mlp_sub}/Dense_{j}/bias"] = sd[f"{b}mlp.fc{j + 1}.bias"]
    if model.attn_pool is not None:
        r = f"{p}MAPHead_0/"
        mha = r + "MultiHeadDotProductAttention_0/"
        out[r + "probe"] = sd["attn_pool.latent"]
        put_attn(mha, ("key", "value"), sd["attn_pool.kv.weight"], sd["attn_pool.kv.bias"])
        put_attn(mha, ("query",), sd["attn_pool.q.weight"], sd["attn_pool.q.bias"])
        out[mha + "out/kernel"] = sd["attn_pool.proj.weight"].T.reshape(heads, hd, dim)
        out[mha + "out/bias"] = sd["attn_pool.proj.bias"]
        out[r + "LayerNorm_0/scale"], out[r + "LayerNorm_0/bias"] = (
            sd["attn_pool.norm.weight"],
            sd["attn_pool.norm.bias"],
        )
        for j in range(2):
            out[f"{r}MlpBlock_0/Dense_{j}/kernel"] = sd[f"attn_pool.mlp.fc{j + 1}.weight"].T
            out[f"{r}MlpBlock_0/Dense_{j}/bias"] = sd[f"attn_pool.mlp.fc{j + 1}.bias"]
    return out


np = pytest.importorskip("numpy")


@pytest.mark.parametrize(
    ("kwargs", "big_vision"), [({}, False), (dict(class_token=False, global_pool="map"), True)]
)
def test_big_vision_npz_checkpoints_load(tmp_path, kwargs, big_vision) -> None:
    from visionzoo.hub import load_checkpoint_file

    src = _random_vit(**kwargs)
    path = tmp_path / "augreg.npz"
    np.savez(path, **_to_flax(src, big_vision=big_vision))
    _loads_to_same_outputs(src, load_checkpoint_file(path), **kwargs)


def test_npz_with_pickled_objects_is_refused(tmp_path) -> None:
    from visionzoo.hub import WeightsError, load_checkpoint_file

    path = tmp_path / "evil.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(WeightsError, match="pickled objects"):
        load_checkpoint_file(path)


# --- registered through the core --------------------------------------------------------------------
def test_registered_names_are_timms() -> None:
    import visionzoo

    module = "vision_transformer"
    assert set(visionzoo.list_models(module=module)) == set(timm.list_models(module=module))
    assert (
        visionzoo.get_pretrained_cfg("vit_base_patch16_224").name
        == "vit_base_patch16_224.augreg2_in21k_ft_in1k"
    )


def test_create_model_pretrained_at_other_img_size_and_in_chans(tmp_path) -> None:
    """End to end through create_model: a checkpoint file at the weights' size loads into a model
    built at another size (pos embed resampled) and with one input channel, as timm does."""
    from safetensors.torch import save_file

    import visionzoo

    ref = timm.models.vision_transformer.VisionTransformer(
        img_size=160, patch_size=16, embed_dim=64, depth=2, num_heads=2, mlp_ratio=3, dynamic_img_size=True
    )
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    kwargs = dict(pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), depth=2)
    for extra in (dict(img_size=(96, 128)), dict(in_chans=1)):
        ours = visionzoo.create_model("test_vit", **kwargs, **extra).eval()
        theirs = timm.create_model("test_vit", **kwargs, **extra).eval()
        x = torch.randn(1, extra.get("in_chans", 3), *extra.get("img_size", (160, 160)))
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < 1e-4, extra


def test_features_only_defaults_equal_timm() -> None:
    import visionzoo

    ours = visionzoo.create_model("test_vit3", features_only=True)
    with torch.device("meta"):
        theirs = timm.create_model("test_vit3", features_only=True)
    assert ours.feature_info.out_indices == tuple(theirs.feature_info.out_indices) == (6, 7, 8)
    assert ours.feature_info.reduction() == theirs.feature_info.reduction() == [16, 16, 16]
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    outs = ours(torch.randn(1, 3, 160, 160))
    assert [o.shape for o in outs] == [(1, 96, 10, 10)] * 3


def test_optimize_for_inference_on_a_token_model() -> None:
    from visionzoo.optimize import optimize_for_inference

    ours, _ = _pair(reg_tokens=1, global_pool="avg", class_token=False)
    fast = optimize_for_inference(ours)
    with torch.no_grad():
        assert rel_err(fast(X), ours(X)) < 1e-5
        got = fast.forward_intermediates(X, indices=1, intermediates_only=True)[0]
        assert rel_err(got, ours.forward_intermediates(X, indices=1, intermediates_only=True)[0]) < 1e-5


def test_wrong_input_size_names_the_remedy() -> None:
    ours, _ = _pair()
    with pytest.raises(
        AssertionError, match=r"input size \(24, 24\) != the model's img_size \(32, 32\).*dynamic_img_size"
    ):
        ours(torch.randn(1, 3, 24, 24))


def test_data_config_follows_a_fixed_size_model() -> None:
    import visionzoo
    from visionzoo.data import resolve_model_data_config

    small = visionzoo.create_model("vit_tiny_patch16_224", img_size=32, patch_size=4, num_classes=10, depth=1)
    assert resolve_model_data_config(small)["input_size"] == (3, 32, 32)  # not the weights' 224
    dynamic = visionzoo.create_model("vit_tiny_patch16_224", dynamic_img_size=True, depth=1)
    assert resolve_model_data_config(dynamic)["input_size"] == (3, 224, 224)


@pytest.mark.parametrize("name", ["vit_base_patch16_siglip_224"])
def test_save_pretrained_round_trip_keeps_size_and_pooling(tmp_path, name) -> None:
    import visionzoo

    kw = dict(embed_dim=48, num_heads=3, depth=2)
    model = visionzoo.create_model(name, num_classes=5, img_size=64, **kw).eval()
    if "siglip" in name:
        model.reset_classifier(5, "avg")  # drops the attention pool: the rebuilt model must too
    visionzoo.save_pretrained(model, tmp_path, model_args=kw)
    loaded = visionzoo.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.patch_embed.img_size == (64, 64) and loaded.global_pool == model.global_pool


@pytest.mark.parametrize(
    ("arch", "align_corners"),
    [
        ("vit_base_patch16_radio_v3", True),
        ("vit_huge_patch16_radio_v3", True),
        ("vit_large_patch16_radio_v3", False),
    ],
)
def test_radio_pos_embed_resized_as_each_release_does(arch: str, align_corners: bool) -> None:
    """The C-RADIOv3 base and huge checkpoints' own code resizes the position embedding bilinearly
    with align_corners=True, the others with False (timm loads them the same way)."""
    import visionzoo
    from visionzoo.models.vision_transformer.remap import checkpoint_filter_fn

    model = visionzoo.create_model(arch, img_size=64, device="meta")  # a 4 x 4 grid, no prefix in pos_embed
    src = torch.randn(1, 8 * 8, model.embed_dim, generator=torch.Generator().manual_seed(0))
    got = checkpoint_filter_fn({"pos_embed": src}, model)["pos_embed"]
    grid = src.reshape(1, 8, 8, -1).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(4, 4), mode="bilinear", antialias=False, align_corners=align_corners)
    assert torch.allclose(got, want.permute(0, 2, 3, 1).reshape(1, 16, -1), atol=1e-6)


# --- timm's module-level helpers (issue 25) -------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "gs_new"),
    [(1 + 14 * 14, 1 + 7 * 7, ()), (4 + 8 * 8, 4 + 12 * 12, ()), (1 + 4 * 4, 1, (3, 5))],
)
def test_resize_pos_embed_is_timms(old: int, new: int, gs_new: tuple[int, ...]) -> None:
    from timm.models.vision_transformer import resize_pos_embed as theirs

    from visionzoo.models.vision_transformer import resize_pos_embed

    prefix = 4 if old == 4 + 8 * 8 else 1
    posemb, posemb_new = torch.randn(1, old, 8), torch.zeros(1, new, 8)
    for kw in ({}, {"interpolation": "bilinear", "antialias": True}):
        ours = resize_pos_embed(posemb, posemb_new, prefix, gs_new, **kw)
        assert torch.equal(ours, theirs(posemb, posemb_new, prefix, gs_new, **kw))
    side = gs_new or (int((new - prefix) ** 0.5),) * 2
    assert ours.shape == (1, prefix + side[0] * side[1], 8)


@pytest.mark.parametrize("mode", ["", "jax", "jax_nlhb", "moco", "reset"])
@pytest.mark.parametrize("needs_reset", [True, False])
def test_vit_init_functions_are_timms(mode: str, needs_reset: bool) -> None:
    """``get_init_weights_vit(mode)`` applied by module name inits what timm's does, the same way
    (truncated normals, drawn by torch's sampler here and timm's own there: by their statistics)."""
    from timm.models import vision_transformer as timm_vit

    from visionzoo.models import vision_transformer as vit

    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32, depth=2)
    results = []
    for fns in (vit, timm_vit):
        init = fns.get_init_weights_vit(mode, head_bias=-2.0, needs_reset=needs_reset)
        for i, (name, module) in enumerate(model.named_modules()):
            torch.manual_seed(i)  # each module's draws apart from how many the ones before took
            if name:
                init(module, name)
        results.append({k: v.clone() for k, v in model.state_dict().items()})
    assert results[0].keys() == results[1].keys()
    # key -> (std, bound): timm's init cuts at +-2 absolute, lecun-normal at 2 std (before scaling)
    linears = [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    truncated = {key: (0.02, 2.0) for key in linears if not mode}
    if mode.startswith("jax"):
        std = (1 / model.patch_embed.proj.weight[0].numel()) ** 0.5
        truncated = {"patch_embed.proj.weight": (std, 2 * std / 0.8796)}
    for key, ours in results[0].items():
        if key in truncated:
            assert abs(float(ours.std()) / truncated[key][0] - 1) < 0.2, key
            assert float(ours.abs().max()) <= truncated[key][1] + 1e-6, key
        else:
            assert torch.equal(ours, results[1][key]), key
    assert vit.get_init_weights_vit(mode).func.__name__ == timm_vit.get_init_weights_vit(mode).func.__name__


def test_global_pool_nlc_is_timms() -> None:
    from timm.models.vision_transformer import global_pool_nlc as theirs

    from visionzoo.models.vision_transformer import global_pool_nlc

    x = torch.randn(2, 5, 4)
    for pool in ("", "token", "avg", "max", "avgmax"):
        for prefix, include in ((1, False), (2, True), (0, False)):
            assert torch.equal(global_pool_nlc(x, pool, prefix, include), theirs(x, pool, prefix, include))
