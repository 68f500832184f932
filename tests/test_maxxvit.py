"""MaxxVit's own parts: checkpoints of another input size (bias tables resampled as timm does),
``set_input_size``, timm's init, and the block options no registered name sets (compared with
timm). The partitions and the TensorFlow bias have their own files (test_grid_window.py,
test_rel_pos_bias_tf.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from timm.models import maxxvit as timm_maxxvit
from timm_oracle import rel_err, timm_model

import visionzoo
from visionzoo.layers.pos_embed_rel import resize_rel_pos_bias_table
from visionzoo.models.maxxvit import VARIANTS, MaxxVit

pytestmark = pytest.mark.family

# the smallest published names are 224-256 px and ~30 M parameters: the sampled suites build them
# at 64 px (2x2 windows) with a block or two per stage (stage 3 keeps CoAtNet-CC's C and T blocks)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depths": (1, 1, 2, 1)}

_TABLE = ".relative_position_bias_table"


def _ours_kwargs(name: str, overlay: dict[str, Any]) -> dict[str, Any]:
    """timm's ``conv_*`` / ``transformer_*`` keyword overlays as our config records."""
    args = VARIANTS[name]
    conv = {k[len("conv_") :]: v for k, v in overlay.items() if k.startswith("conv_")}
    tfm = {k[len("transformer_") :]: v for k, v in overlay.items() if k.startswith("transformer_")}
    rest = {k: v for k, v in overlay.items() if not k.startswith(("conv_", "transformer_"))}
    return dict(
        conv_cfg=dataclasses.replace(args.conv_cfg, **conv),
        transformer_cfg=dataclasses.replace(args.transformer_cfg, **tfm),
        **rest,
    )


def _pair(name: str, **overlay: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    theirs = timm_model(name, **overlay).eval()
    ours = visionzoo.create_model(name, device="meta", **_ours_kwargs(name, overlay))
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    for m in ours.modules():  # the non-persistent index buffers
        if hasattr(m, "init_non_persistent_buffers"):
            with torch.device("cpu"):
                for n, b in list(m.named_buffers(recurse=False)):
                    setattr(m, n, torch.empty(0, dtype=b.dtype))
                m.init_non_persistent_buffers()
    return ours.eval(), theirs


@pytest.mark.parametrize(
    ("name", "overlay"),
    [
        ("test_maxvit", dict(transformer_use_nchw_attn=True)),  # NCHW partition attention
        ("test_maxvit", dict(transformer_use_nchw_attn=True, transformer_head_first=False)),
        ("test_maxvit", dict(conv_stride_mode="1x1", conv_attn_early=True)),
        (
            "test_coatnet",
            dict(conv_pool_type="avg", transformer_pool_type="max2", transformer_rel_pos_type=""),
        ),
        (
            "test_coatnet",
            dict(conv_block_type="convnext", conv_stride_mode="pool", transformer_expand_first=True),
        ),
        ("test_maxvit", dict(transformer_window_size=(2, 1), transformer_grid_size=(1, 2))),
    ],
)
def test_options_no_registered_name_sets_match_timm(name, overlay):
    ours, theirs = _pair(name, img_size=64, **overlay)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(ours.forward_intermediates(x)[1], theirs.forward_intermediates(x)[1], strict=True):
            assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize(
    ("name", "kwargs", "sizes"),
    [
        ("test_maxvit", {}, (160, 224)),  # RelPosBias, 5x5 -> 7x7 windows
        ("test_coatnet", {}, (160, 224)),  # T blocks: the bias spans the whole map
        ("maxvit_rmlp_pico_rw_256", dict(depths=(1, 1, 1, 1)), (64, 96)),  # MLP bias: nothing to resample
        ("maxvit_tiny_tf_224", dict(depths=(1, 1, 1, 1)), (64, 96)),  # (heads, 2H-1, 2W-1) tables
    ],
)
def test_checkpoint_of_another_size_loads_resampled(tmp_path, name, kwargs, sizes):
    """A checkpoint built at one size, loaded at another: the tables equal resampling by hand
    (each table to its module's new window) and the model equals timm's loaded the same way."""
    src, dst = sizes
    state = timm_model(name, img_size=src, **kwargs).state_dict()
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    ours = visionzoo.create_model(
        name, img_size=dst, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs
    ).eval()
    theirs = timm_model(name, img_size=dst, **kwargs)
    theirs.load_state_dict(timm_maxxvit.checkpoint_filter_fn(state, theirs))
    theirs.eval()
    mine = ours.state_dict()
    tables = [k for k in state if k.endswith(_TABLE)]
    for key in tables:
        module = ours.get_submodule(key[: -len(_TABLE)])
        expected = resize_rel_pos_bias_table(
            state[key], new_window_size=module.window_size, new_bias_shape=tuple(mine[key].shape)
        )
        assert mine[key].shape != state[key].shape
        assert torch.equal(mine[key], expected), key
    x = torch.randn(2, 3, dst, dst)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


def test_set_input_size_equals_a_build_at_that_size(tmp_path):
    """Resizing a built model resamples its tables as loading a checkpoint at the new size does."""
    model = visionzoo.create_model("test_coatnet").eval()  # 160 px
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    built = visionzoo.create_model(
        "test_coatnet", img_size=224, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    model.set_input_size(img_size=224)
    assert model.img_size == (224, 224)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model(x), built(x))
    theirs = timm_model("test_coatnet").eval()
    ours = visionzoo.create_model("test_coatnet")
    ours.load_state_dict(theirs.state_dict())
    ours.eval().set_input_size(img_size=(192, 224), window_size=(3, 7))
    theirs.set_input_size(img_size=(192, 224), window_size=(3, 7))
    x = torch.randn(1, 3, 192, 224)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


def test_init_follows_the_block_kind():
    """ViT-like attention blocks (xavier weights, zero biases, 1e-6-scale MLP biases), fan-out
    normal conv blocks."""
    torch.manual_seed(0)
    model = MaxxVit(
        (32, 64, 96, 128), (1, 1, 1, 1), ("M",) * 4, stem_width=(16, 32), img_size=64, num_classes=10
    )
    block = model.stages[1].blocks[0]
    assert torch.count_nonzero(block.attn_grid.attn.qkv.bias) == 0
    mlp_bias = block.attn_grid.mlp.fc1.bias
    assert 0 < mlp_bias.abs().max() < 1e-4
    conv = block.conv.conv2_kxk  # depthwise 3x3: fan_out = 9
    assert abs(conv.weight.std().item() - (2 / 9) ** 0.5) < 0.1
    untouched = MaxxVit((32, 64, 96, 128), (1, 1, 1, 1), ("M",) * 4, weight_init="", img_size=64)
    assert untouched.stages[1].blocks[0].attn_grid.mlp.fc1.bias.abs().max() > 1e-3  # PyTorch's default
