"""Hierarchical transformers as detection backbones: torchvision's Faster R-CNN with an FPN over
our ``features_only`` Swin-T and MaxViT-T trains a step exactly as over timm's with the same
weights. The FPN client is the one a ResNet backbone takes (NCHW levels): ours plugs in as it is;
timm's Swin gives channels-last levels, so its side goes through a permute."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch
from timm_oracle import rel_err, timm
from torch import nn

detection = pytest.importorskip("torchvision.models.detection")
ops = pytest.importorskip("torchvision.ops")
fpn_ops = pytest.importorskip("torchvision.ops.feature_pyramid_network")

import visionzoo

pytestmark = pytest.mark.family

_FPN_CHS = 8


class _BackboneFpn(nn.Module):
    """The FPN client of a ResNet backbone: NCHW levels in, FPN maps out."""

    def __init__(self, body: nn.Module, fpn: nn.Module) -> None:
        super().__init__()
        self.body, self.fpn = body, fpn
        self.out_channels = _FPN_CHS

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(OrderedDict((str(i), t) for i, t in enumerate(self.body(x))))


class _TimmNhwcToNchw(nn.Module):
    """timm's backbone with its levels as NCHW, where timm gives them channels-last (Swin)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = self.body(x)
        if str(getattr(self.body, "output_fmt", "NCHW")).endswith("NHWC"):
            levels = [t.permute(0, 3, 1, 2) for t in levels]
        return levels


def _detector(body: nn.Module, fpn: nn.Module, heads: dict[str, nn.Module]) -> nn.Module:
    """Faster R-CNN for one 224 px image, small heads; ``heads`` copied in (both sides alike)."""
    return detection.FasterRCNN(
        _BackboneFpn(body, copy.deepcopy(fpn)),
        min_size=224,
        max_size=224,
        rpn_anchor_generator=detection.anchor_utils.AnchorGenerator(
            ((16,), (32,), (64,), (128,), (224,)), ((0.5, 1.0, 2.0),) * 5
        ),
        rpn_head=copy.deepcopy(heads["rpn"]),
        box_roi_pool=ops.MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2),
        box_head=copy.deepcopy(heads["box_head"]),
        box_predictor=copy.deepcopy(heads["box_predictor"]),
        rpn_batch_size_per_image=32,
        box_batch_size_per_image=16,
    )


def _train_step(
    model: nn.Module, image: torch.Tensor, target: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    torch.manual_seed(0)  # the RPN's and the ROI heads' sampling
    losses = model([image], [target])
    sum(losses.values()).backward()
    opt.step()
    return {k: v.detach() for k, v in losses.items()}


# the four levels at strides 4 to 32 (MaxViT's first level is its stride-2 stem)
@pytest.mark.parametrize(
    ("name", "levels"), [("swin_tiny_patch4_window7_224", (0, 1, 2, 3)), ("maxvit_tiny_tf_224", (1, 2, 3, 4))]
)
def test_faster_rcnn_over_features_matches_timm(name: str, levels: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    ours_body = visionzoo.create_model(name, features_only=True, drop_path_rate=0.0, out_indices=levels)
    timm_body = timm.create_model(name, features_only=True, drop_path_rate=0.0, out_indices=levels)
    timm_body.load_state_dict(ours_body.state_dict(), strict=True)
    assert ours_body.output_fmt == "NCHW"  # whatever the model runs inside
    theirs_body = _TimmNhwcToNchw(timm_body)
    fpn = ops.FeaturePyramidNetwork(
        ours_body.feature_info.channels(), _FPN_CHS, extra_blocks=fpn_ops.LastLevelMaxPool()
    )
    heads = dict(
        rpn=detection.rpn.RPNHead(_FPN_CHS, 3),
        box_head=detection.faster_rcnn.TwoMLPHead(_FPN_CHS * 7 * 7, 32),
        box_predictor=detection.faster_rcnn.FastRCNNPredictor(32, 3),
    )
    ours = _detector(ours_body, fpn, heads)
    theirs = _detector(theirs_body, fpn, heads)

    image = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(1))
    target = dict(
        boxes=torch.tensor([[20.0, 30.0, 120.0, 150.0], [100.0, 60.0, 200.0, 210.0]]),
        labels=torch.tensor([1, 2]),
    )
    loss_a = _train_step(ours, image, target)
    loss_b = _train_step(theirs, image, target)
    assert loss_a.keys() == loss_b.keys()
    for k in loss_a:
        assert rel_err(loss_a[k], loss_b[k]) < 1e-4, k
    # the step moved both backbones alike
    mine, ref = ours.backbone.body.state_dict(), theirs.backbone.body.body.state_dict()
    assert mine.keys() == ref.keys()
    for k, v in ref.items():
        assert rel_err(mine[k], v) < 1e-4, k
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        feats_a, feats_b = ours.backbone(image[None]), theirs.backbone(image[None])
        for k in feats_b:
            assert rel_err(feats_a[k], feats_b[k]) < 1e-4, k
        out_a, out_b = ours([image]), theirs([image])
    for a, b in zip(out_a, out_b, strict=True):
        assert a["boxes"].shape == b["boxes"].shape
        if b["boxes"].numel():
            assert rel_err(a["boxes"], b["boxes"]) < 1e-3
            assert rel_err(a["scores"], b["scores"]) < 1e-3
