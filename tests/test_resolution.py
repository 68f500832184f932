"""A model name is resolved once: ``registry.resolve`` returns the record (architecture, tag,
recipe, pretrained config) that the builder and the loaders take, and nothing below it looks the
name up again. Offline: weights come from a laid-out Hub cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import lay_out_hub_cache, random_state_dict

import visionzoo
from visionzoo import registry
from visionzoo.models import _index

ARCH = "resnet18"


def _count(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Wrap ``registry.<name>`` so each call is recorded (behaviour unchanged)."""
    calls: list[str] = []
    real: Callable[..., Any] = getattr(registry, name)

    def counted(model_name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(model_name)
        return real(model_name, *args, **kwargs)

    monkeypatch.setattr(registry, name, counted)
    return calls


@pytest.fixture
def hub_cache(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    import safetensors.torch

    weights = random_state_dict(ARCH)
    repo = visionzoo.get_pretrained_cfg(ARCH).hf_hub_id
    assert repo == "timm/resnet18.a1_in1k"
    lay_out_hub_cache(tmp_path, repo, {"model.safetensors": safetensors.torch.save(weights)})
    return tmp_path, weights


@pytest.mark.parametrize("via", ["create_model", "entrypoint"])
def test_create_model_pretrained_resolves_the_name_once(
    monkeypatch: pytest.MonkeyPatch,
    hub_cache: tuple[Path, dict[str, torch.Tensor]],
    no_network: None,
    via: str,
) -> None:
    cache, weights = hub_cache
    from visionzoo.models.resnet import resnet18

    resolved = _count(monkeypatch, "resolve")
    looked_up = _count(monkeypatch, "_resolve_name")  # the lookup itself: family, alias, tag
    if via == "create_model":
        model = visionzoo.create_model(ARCH, pretrained=True, cache_dir=cache)
    else:
        model = resnet18(pretrained=True, cache_dir=cache)
    assert resolved == [ARCH]
    assert looked_up == [ARCH]
    assert torch.equal(model.state_dict()["fc.weight"], weights["fc.weight"])
    assert model.pretrained_cfg.name == "resnet18.a1_in1k"


def test_the_record_holds_what_the_builder_needs() -> None:
    record = registry.resolve("resnet18.tv_in1k", pretrained_cfg_overlay=dict(crop_pct=0.5))
    assert (record.arch, record.tag, record.name) == ("resnet18", "tv_in1k", "resnet18.tv_in1k")
    assert record.recipe is registry.get_recipe("resnet18")
    assert record.pretrained_cfg.tag == "tv_in1k" and record.pretrained_cfg.crop_pct == 0.5
    # pretrained_cfg as a tag picks that tag's config; an unknown one lists the valid tags
    assert registry.resolve("resnet18", pretrained_cfg="a2_in1k").pretrained_cfg.tag == "a2_in1k"
    with pytest.raises(
        visionzoo.UnknownModelError, match="unknown pretrained tag 'nope'.*valid tags: a1_in1k"
    ):
        registry.resolve("resnet18", pretrained_cfg="nope")
    with pytest.raises(visionzoo.UnknownModelError, match="unknown model 'resnet1x'; did you mean"):
        registry.resolve("resnet1x")


def test_pretrained_without_weights_names_the_tags_that_have_some() -> None:
    with pytest.raises(
        visionzoo.UnknownModelError, match=r"resnet18 has no pretrained weights; tags with weights: "
    ):
        registry.resolve("resnet18", pretrained=True, pretrained_cfg=dict(num_classes=10))
    with pytest.raises(visionzoo.UnknownModelError, match="resnet18 has no pretrained weights"):
        visionzoo.create_model("resnet18", pretrained=True, pretrained_cfg=dict(num_classes=10))


def test_the_public_lookups_agree_with_the_record() -> None:
    record = registry.resolve("resnet50")
    assert registry.resolve_model_name("resnet50") == (record.arch, record.tag)
    assert visionzoo.get_pretrained_cfg("resnet50") == record.pretrained_cfg
    assert registry.resolve_pretrained_cfg("resnet50") == record.pretrained_cfg
    # a user's own, unregistered variant gets a bare config naming it
    assert registry.resolve_pretrained_cfg("my_net.v1").architecture == "my_net"


def test_the_family_index_file_is_what_the_families_register() -> None:
    """``_data/model_index.json`` (names, aliases, model classes) equals a fresh render; regenerate
    with ``python -m visionzoo.models._index``."""
    assert _index.render() == _index.INDEX_PATH.read_text(), "run `python -m visionzoo.models._index`"
    index = registry.builtin_index()
    assert (
        "efficientnet" in index.families and index.classes["EfficientNet"] == "visionzoo.models.efficientnet"
    )
