"""Swin as a detection backbone: torchvision's Faster R-CNN with an FPN over our
``features_only`` Swin-T trains a step exactly as over timm's with the same weights."""

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

_NAME = "swin_tiny_patch4_window7_224"
_FPN_CHS = 8


class _SwinFpn(nn.Module):
    """Swin's channels-last levels (as timm's ``features_only`` gives them) as NCHW maps into an FPN."""

    def __init__(self, body: nn.Module, fpn: nn.Module) -> None:
        super().__init__()
        self.body, self.fpn = body, fpn
        self.out_channels = _FPN_CHS

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        levels = self.body(x)
        return self.fpn(OrderedDict((str(i), t.permute(0, 3, 1, 2)) for i, t in enumerate(levels)))


def _detector(body: nn.Module, fpn: nn.Module, heads: dict[str, nn.Module]) -> nn.Module:
    """Faster R-CNN for one 224 px image, small heads; ``heads`` copied in (both sides alike)."""
    return detection.FasterRCNN(
        _SwinFpn(body, copy.deepcopy(fpn)),
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


def test_faster_rcnn_over_swin_features_matches_timm():
    torch.manual_seed(0)
    ours_body = visionzoo.create_model(_NAME, features_only=True, drop_path_rate=0.0)
    theirs_body = timm.create_model(_NAME, features_only=True, drop_path_rate=0.0)
    theirs_body.load_state_dict(ours_body.state_dict(), strict=True)
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
    mine, ref = ours.backbone.body.state_dict(), theirs.backbone.body.state_dict()
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
