"""TorchScript and FX tracing over the registry, with outputs equal to eager.

Every name is scripted and FX-traced with random weights and compared with eager on a small real
input (token models built at 64 px): in CI each family's sample (tests/sampling.py: every block
type and layer kind -- SE, ECA, blur pool, InPlaceABN, CS3/Dark/Cross stages, pre-activation
Xception -- by the smallest model that has it), every name with ``VISIONZOO_FULL=1``. Scripting
compiles every module instance (10-30 s for a ResNet-50 on 2 CPU cores): the sweep over every name
takes about an hour on one core. A family's own options (Inception-v3's aux head) are scripted in
its own test file.
"""

from __future__ import annotations

import fnmatch
import warnings

import pytest
import torch
from helpers import as_nchw, input_side, placed_levels
from sampling import create, sampled_kwargs
from timm_oracle import materialize_random
from torch import nn

import visionzoo
import visionzoo.models
from visionzoo.layers import (
    Conv2dSame,
    InPlaceABN2d,
    create_feature_extractor,
    get_graph_node_names,
    get_notrace_functions,
    get_notrace_modules,
    is_notrace_function,
    is_notrace_module,
    is_scriptable,
    register_notrace_function,
    register_notrace_module,
    set_layer_config,
    set_scriptable,
)
from visionzoo.model import TokenModel
from visionzoo.models import FeatureGraphNet

pytestmark = pytest.mark.contract

# timm 1.0.31's tests/test_models.py EXCLUDE_JIT_FILTERS, verbatim. Of these only 'densenet*' names
# any of our models; ours script anyway, so the sweep keeps them (see _jit_excluded).
EXCLUDE_JIT_FILTERS = [
    "hiera_*",
    "*naflex*",
    "*_7b_*",
    "hrnet*",
    "dpn*",
    "densenet*",
    "selecsls*",
    "gemma4_vit*",
]
SCRIPTS_BEYOND_TIMM = ["densenet*"]

NAMES = visionzoo.list_models()
SIZE = 64  # the input side (at least the model's minimum); a fixed-size token model is built at it


def _jit_excluded(name: str) -> bool:
    return any(fnmatch.fnmatch(name, f) for f in EXCLUDE_JIT_FILTERS) and not any(
        fnmatch.fnmatch(name, f) for f in SCRIPTS_BEYOND_TIMM
    )


def _build(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        model = create(name, **kwargs)
    return materialize_random(model).eval()


def _case(name: str) -> tuple[nn.Module, torch.Tensor]:
    """``name`` with random weights (over its family's SAMPLED_KWARGS; a fixed-size token model at
    ``SIZE`` unless those say its size) and a batch of 2 at the smallest side it takes from
    ``SIZE`` up (a fixed-size model: its own)."""
    with torch.device("meta"):
        fixed = create(name).pretrained_cfg.fixed_input_size
    model = _build(name, **({"img_size": SIZE} if fixed and "img_size" not in sampled_kwargs(name) else {}))
    size = input_side(model, SIZE)
    return model, torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def _as_tuple(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def _assert_same(got: object, want: object) -> None:
    for g, w in zip(_as_tuple(got), _as_tuple(want), strict=True):  # type: ignore[arg-type]
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def _script(model: nn.Module) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream
        return torch.jit.script(model)


@pytest.mark.parametrize("name", [n for n in NAMES if not _jit_excluded(n)])
@pytest.mark.sampled
def test_script_matches_eager(name: str) -> None:
    model, x = _case(name)
    model.set_grad_checkpointing(True)  # eager-only: the scripted graph must not call checkpoint
    scripted = _script(model)
    with torch.no_grad():
        _assert_same(scripted(x), model(x))
        _assert_same(scripted.forward_features(x), model.forward_features(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_fx_trace_matches_eager(name: str) -> None:
    """The traced graph equals eager, and so does that graph scripted (timm's FX + TorchScript
    test: the graph's code carries the forward's annotations, which postponed (string)
    annotations would turn into names TorchScript does not know)."""
    model, x = _case(name)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        _assert_same(traced(x), model(x))
        if not _jit_excluded(name):
            _assert_same(_script(traced)(x), model(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_fx_features_match_intermediates(name: str) -> None:
    """features_only=True, feature_cls='fx' returns forward_intermediates' maps (same weights);
    token models' taps are NLC tokens with the prefix, compared on the patch grid."""
    model, x = _case(name)
    size = x.shape[-1]
    with torch.no_grad():
        placed = placed_levels(model)
        want = model.forward_intermediates(x, indices=placed, intermediates_only=True)
        graph = FeatureGraphNet(model, out_indices=tuple(placed))
        got = graph(x)
    if isinstance(model, TokenModel) and got[0].ndim == 4:
        # a token model whose stages give maps: NCHW (PiT) or channels-last (VOLO's blocks)
        got = [t if t.shape[1] == w.shape[1] else t.permute(0, 3, 1, 2) for t, w in zip(got, want)]
    elif isinstance(model, TokenModel) and model.feature_modules:
        # as timm's, the taps are the blocks' raw (B, prefix + H * W, C) tokens; forward_intermediates
        # gives the patch tokens on the (B, C, H, W) grid (a hierarchical token model, whose blocks
        # are no levels, has the graph trace forward_intermediates itself: Hiera, MViTv2)
        h, w = model._token_grid((size, size))
        # a block's prefix: the model's, or fewer where they join later (CaiT's class token after
        # the blocks, ConViT's after its GPSA blocks)
        prefixes = [t.shape[1] - h * w for t in got]
        assert all(0 <= p <= model.num_prefix_tokens for p in prefixes), prefixes
        got = [t[:, p:].reshape(t.shape[0], h, w, -1).permute(0, 3, 1, 2) for t, p in zip(got, prefixes)]
    elif getattr(model, "output_fmt", "NCHW") == "NLC" and model.feature_modules:
        # stages on tokens (LeViT's linear layout): each level's (B, H * W, C) tokens on the grid
        # of its reduction (where the levels are labels, as Twins', the graph traced
        # forward_intermediates: maps already; a level that is still a map, before
        # EfficientFormer's last stage turns to tokens, stays as it is)
        sides = [-(-size // model.feature_info[i]["reduction"]) for i in placed]
        got = [
            t.reshape(t.shape[0], s, s, -1).permute(0, 3, 1, 2) if t.ndim == 3 else t
            for t, s in zip(got, sides)
        ]
    got = [as_nchw(t, graph) for t in got]
    assert graph.feature_info.channels() == [t.shape[1] for t in got]
    _assert_same(tuple(got), tuple(want))


@pytest.mark.parametrize("name", ["test_vit", "test_vit4", "deit_tiny_distilled_patch16_224"])
def test_dynamic_size_vit_graphs_follow_the_input_size(name):
    """With dynamic_img_size the position embedding is resampled per call: one traced (and one
    scripted) graph serves every input size, equal to eager at each."""
    model = _build(name, dynamic_img_size=True)
    traced, scripted = torch.fx.symbolic_trace(model), _script(model)
    node = [n for n in traced.graph.nodes if n.op == "call_function" and "resample" in n.name]
    assert node, "the resampling is one call_function node of the graph"
    for h, w in ((64, 64), (48, 80), (96, 32)):
        x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(h + w))
        with torch.no_grad():
            _assert_same(traced(x), model(x))
            _assert_same(scripted(x), model(x))


def test_create_model_fx_feature_cls():
    model = visionzoo.create_model("test_resnet", features_only=True, feature_cls="fx", out_indices=(1, 3))
    assert type(model).__name__ == "FeatureGraphNet"
    out = model(torch.randn(1, 3, 64, 64))
    assert [t.shape[1] for t in out] == model.feature_info.channels()
    assert [64 // t.shape[-1] for t in out] == model.feature_info.reduction()


def test_torchvision_create_feature_extractor_on_our_models():
    from torchvision.models.feature_extraction import create_feature_extractor as tv_extractor

    model = _build("cs3darknet_focus_s")
    extractor = tv_extractor(model, return_nodes={"stages.1": "c3", "stages.3": "c5"})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = extractor(x)
        want = model.forward_intermediates(x, indices=[2, 4], intermediates_only=True)
    _assert_same((out["c3"], out["c5"]), tuple(want))


# --- leaf-module / autowrap registry --------------------------------------------------------------
def test_inplace_abn_is_a_leaf_in_feature_graphs():
    assert is_notrace_module(InPlaceABN2d) and InPlaceABN2d in get_notrace_modules()
    model = _build("cspresnext50_iabn")
    _, eval_nodes = get_graph_node_names(model)
    assert "stem.conv1.bn" in eval_nodes  # one node for the whole layer
    assert not any(n.startswith("stem.conv1.bn.") for n in eval_nodes)


class _Shape(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_tensor(float(x.shape[-1])) if x.shape[-1] > 2 else x.sum()


def halve_if_wide(x: torch.Tensor) -> torch.Tensor:
    return x[..., : x.shape[-1] // 2] if x.shape[-1] > 4 else x


class _UsesFunction(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return halve_if_wide(x) * 2


def test_registered_notrace_module_and_function_trace_as_one_node():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shape = _Shape()
            self.fn = _UsesFunction()

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"s": self.shape(x), "f": self.fn(x)}

    with pytest.raises(torch.fx.proxy.TraceError):  # without the registry neither traces
        create_feature_extractor(Net(), ["fn"])
    assert register_notrace_module(_Shape) is _Shape
    assert register_notrace_function(halve_if_wide) is halve_if_wide
    assert is_notrace_function(halve_if_wide) and halve_if_wide in get_notrace_functions()
    extractor = create_feature_extractor(Net(), {"shape": "s", "fn": "f"})
    x = torch.randn(1, 2, 8)
    out = extractor(x)
    torch.testing.assert_close(out["f"], x[..., :4] * 2)
    assert float(out["s"]) == 8.0
    with pytest.raises(TypeError, match="nn.Module class"):
        register_notrace_module(halve_if_wide)  # type: ignore[type-var]


def test_same_padding_traces_as_one_node_and_matches_eager():
    conv = Conv2dSame(3, 4, 3, stride=2).eval()
    traced = torch.fx.symbolic_trace(conv)
    assert any(n.op == "call_function" and n.target.__name__ == "pad_same" for n in traced.graph.nodes)
    for size in (7, 8):
        x = torch.randn(1, 3, size, size)
        torch.testing.assert_close(traced(x), conv(x))
        torch.testing.assert_close(_script(conv)(x), conv(x))


# --- global switches ------------------------------------------------------------------------------
def test_layer_config_switches_set_and_restore():
    assert not is_scriptable()
    with set_scriptable(True):
        assert is_scriptable()
        model = visionzoo.create_model("test_resnet").eval()
    assert not is_scriptable()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(_script(model)(x), model(x))

    from visionzoo.layers import is_exportable, is_no_jit

    model = visionzoo.models.create_model(
        "test_resnet", scriptable=True, exportable=True
    ).eval()  # timm's kwargs
    assert not (is_scriptable() or is_exportable())
    torch.testing.assert_close(_script(model)(x), model(x))

    with set_layer_config(scriptable=True, exportable=True, no_jit=True):
        assert is_scriptable() and is_exportable() and is_no_jit()
        with set_layer_config(exportable=False):
            assert is_scriptable() and not is_exportable()
        assert is_exportable()
    assert not (is_scriptable() or is_exportable() or is_no_jit())
    with pytest.raises(TypeError, match="scriptable must be a bool"):
        set_layer_config(scriptable="yes")  # type: ignore[arg-type]
    assert not is_scriptable()
