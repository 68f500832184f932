"""visionzoo.data: configs and eval transforms at parity with timm, training transforms, label
sets, image conversion and the dataset sources."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from imagedata import COLOURS, add_awkward_files, make_image_folder
from PIL import Image

import visionzoo
from visionzoo.data import (
    DatasetError,
    DigitsSource,
    ImageFolderSource,
    TransformDataset,
    collate_skipping,
    convert_image,
    create_mixup,
    create_transform,
    eval_resize_size,
    imagenet_label_names,
    imagenet_lemmas,
    imagenet_subset_for,
    model_label_names,
    open_dataset,
    parse_auto_augment,
    resolve_data_config,
    resolve_model_data_config,
    save_image_folder,
    train_val_split,
)

timm = pytest.importorskip("timm")
from timm.data import create_transform as timm_create_transform
from timm.data import resolve_data_config as timm_resolve_data_config

pytestmark = pytest.mark.loading


def _norm(cfg: dict) -> dict:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in cfg.items()}


# --- data config ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet50", "resnet50.tv_in1k", "resnet10t", "test_resnet"])
@pytest.mark.parametrize(
    "args",
    [{}, {"img_size": 160}, {"crop_pct": 1.0, "interpolation": "bilinear"}, {"input_size": (3, 128, 96)}],
    ids=["defaults", "img_size", "crop+interp", "input_size"],
)
@pytest.mark.parametrize("use_test_size", [False, True])
def test_resolve_data_config_matches_timm(name: str, args: dict, use_test_size: bool) -> None:
    cfg = visionzoo.get_pretrained_cfg(name)
    ours = resolve_data_config(args, pretrained_cfg=cfg, use_test_size=use_test_size)
    theirs = timm_resolve_data_config(dict(args), pretrained_cfg=cfg.to_dict(), use_test_size=use_test_size)
    assert _norm(ours) == _norm(theirs)


def test_resolve_model_data_config_follows_adapted_channels() -> None:
    model = visionzoo.create_model("test_resnet", in_chans=1, num_classes=4)
    cfg = resolve_model_data_config(model)
    assert cfg["input_size"][0] == 1
    mean = visionzoo.get_pretrained_cfg("test_resnet").mean
    assert cfg["mean"] == pytest.approx((sum(mean) / 3,))


def test_resolve_data_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="interpolation"):
        resolve_data_config({"interpolation": "cubic-ish"})
    with pytest.raises(ValueError, match="crop_mode"):
        resolve_data_config({"crop_mode": "middle"})
    with pytest.raises(ValueError, match="mean"):
        resolve_data_config({"mean": (0.5, 0.5)})
    with pytest.raises(ValueError, match="at least one"):
        resolve_data_config()


# --- eval transforms: the same pixels as timm's --------------------------------------------------
def _photo(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    # smooth content, so resampling differences would show but the image is not pure noise
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("crop_mode", ["center", "squash", "border"])
@pytest.mark.parametrize(
    ("input_size", "crop_pct", "interpolation", "wh"),
    [
        ((3, 64, 64), 0.875, "bicubic", (97, 73)),
        ((3, 56, 48), 0.95, "bilinear", (60, 90)),
        ((3, 32, 32), 1.0, "bicubic", (40, 40)),
    ],
)
def test_eval_transform_matches_timm(
    crop_mode: str, input_size: tuple, crop_pct: float, interpolation: str, wh: tuple
) -> None:
    img = _photo(*wh)
    kwargs = dict(input_size=input_size, interpolation=interpolation, crop_pct=crop_pct, crop_mode=crop_mode)
    ours = create_transform(**kwargs)(img)
    theirs = timm_create_transform(**kwargs)(img)
    assert ours.shape == theirs.shape == (3, *input_size[1:])
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_eval_resize_rule() -> None:
    assert eval_resize_size(224, 0.875) == (256, 256)
    assert eval_resize_size((3, 288, 224), 0.95) == (math.floor(288 / 0.95), math.floor(224 / 0.95))
    with pytest.raises(ValueError):
        eval_resize_size(224, 0)


# --- training transforms ------------------------------------------------------------------------
def test_train_transform_full_crop_without_augmentation_is_a_resize() -> None:
    img = _photo(40, 40)
    train = create_transform(
        32,
        is_training=True,
        scale=(1.0, 1.0),
        ratio=(1.0, 1.0),
        hflip=0.0,
        color_jitter=0,
        interpolation="bilinear",
    )
    plain = create_transform(32, crop_pct=1.0, interpolation="bilinear")
    torch.testing.assert_close(train(img), plain(img))


def test_train_transform_augments_and_is_seeded() -> None:
    img = _photo(50, 40)
    tf = create_transform(
        (3, 32, 32), is_training=True, auto_augment="rand-m9-n2", re_prob=1.0, re_mode="pixel"
    )
    torch.manual_seed(3)
    a = tf(img)
    torch.manual_seed(3)
    b = tf(img)
    c = tf(img)
    assert a.shape == (3, 32, 32)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("rand-m7-n3", "RandAugment"),
        ("autoaug", "AutoAugment"),
        ("trivial", "TrivialAugmentWide"),
        ("augmix", "AugMix"),
    ],
)
def test_auto_augment_policies(spec: str, cls: str) -> None:
    op = parse_auto_augment(spec)
    assert type(op).__name__ == cls
    if cls == "RandAugment":
        assert (op.num_ops, op.magnitude) == (3, 7)
    out = op(_photo(32, 32))
    assert out.size == (32, 32)


def test_auto_augment_refuses_what_torchvision_lacks() -> None:
    with pytest.raises(ValueError, match="mstd"):
        parse_auto_augment("rand-m9-mstd0.5-inc1")
    with pytest.raises(ValueError, match="unknown auto_augment"):
        parse_auto_augment("fancy")


def test_mixup_cutmix_give_soft_targets() -> None:
    assert create_mixup(5) is None
    fn = create_mixup(5, mixup_alpha=0.8, cutmix_alpha=1.0)
    x, y = torch.rand(6, 3, 16, 16), torch.tensor([0, 1, 2, 3, 4, 0])
    mixed, soft = fn(x, y)
    assert mixed.shape == x.shape and soft.shape == (6, 5)
    torch.testing.assert_close(soft.sum(-1), torch.ones(6))


# --- labels -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("subset", "timm_subset"),
    [
        ("imagenet-1k", "imagenet-1k"),
        ("in12k", "imagenet-12k"),
        ("imagenet-22k", "imagenet-22k"),
        ("imagenet-21k-goog", "imagenet-21k-goog"),
    ],
)
def test_imagenet_label_sets_match_timm(subset: str, timm_subset: str) -> None:
    from timm.data import ImageNetInfo

    info = ImageNetInfo(timm_subset)
    ours = imagenet_label_names(subset)
    assert list(ours) == list(info.label_names())
    lemmas = imagenet_lemmas()
    for i in (0, len(ours) // 2, len(ours) - 1):
        assert lemmas[ours[i]] == info.index_to_description(i)
    assert imagenet_subset_for(len(ours)) is not None


def test_model_label_names() -> None:
    in1k = visionzoo.create_model("test_resnet")
    names = model_label_names(in1k)
    assert names[0] == "tench, Tinca tinca" and len(names) == 1000
    assert model_label_names(in1k, readable=False)[0] == "n01440764"
    assert model_label_names(visionzoo.create_model("test_resnet", num_classes=7)) is None
    with pytest.raises(KeyError, match="imagenet-5k"):
        imagenet_label_names("imagenet-5k")


# --- images and sources --------------------------------------------------------------------------
def test_convert_image_modes() -> None:
    assert convert_image(Image.new("RGBA", (4, 4), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)
    assert convert_image(Image.new("LA", (4, 4), (0, 255)), "L").getpixel((0, 0)) == 0
    arr16 = np.full((4, 4), 65535, dtype=np.uint16)
    assert convert_image(Image.fromarray(arr16), "L").getpixel((0, 0)) == 255
    assert convert_image(Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32)), "L").getpixel((0, 0)) == 128
    assert convert_image(Image.new("CMYK", (4, 4), (0, 255, 255, 0))).getpixel((0, 0)) == (255, 0, 0)
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([10, 20, 30] * 256)
    assert convert_image(pal).getpixel((0, 0)) == (10, 20, 30)
    with pytest.raises(ValueError, match="mode"):
        convert_image(pal, "CMYK")


def test_image_folder_skips_and_converts(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "data", per_class=3, splits=("",))
    add_awkward_files(root / "red", COLOURS["red"])
    (root / ".hidden").mkdir()
    source = ImageFolderSource(root)
    assert source.classes == ["blue", "red"]
    # 3 + 3 plain, + gray, rgba, cmyk, 16-bit and the truncated png (its header is fine)
    assert len(source) == 11
    assert source.skipped == {"non-image files": 2}
    assert "skipped 2 non-image files" in source.describe()
    ds = TransformDataset(source, create_transform(16, crop_pct=1.0))
    items = [ds[i] for i in range(len(ds))]
    assert sum(item is None for item in items) == 1  # the truncated file fails to decode
    images, labels, skipped = collate_skipping(items)
    assert images.shape == (10, 3, 16, 16) and skipped == 1
    assert labels.tolist().count(1) == 7
    # training views stand a decodable image in for the broken one, so batches keep their size
    train = TransformDataset(source, create_transform(16, crop_pct=1.0), replace_failed=True)
    images, labels, replaced = collate_skipping([train[i] for i in range(len(train))])
    assert images.shape[0] == 11 and replaced == 1


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        open_dataset(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        open_dataset(str(tmp_path / "empty"))
    (tmp_path / "empty" / "cat").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        open_dataset(str(tmp_path / "empty"))
    root = make_image_folder(tmp_path / "d", per_class=1)
    with pytest.raises(DatasetError, match="no 'test'"):
        open_dataset(str(root), split="test")
    with pytest.raises(DatasetError, match="not among the expected"):
        open_dataset(str(root), split="val", classes=["cat", "dog"])


def test_class_names_index_like_the_model(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=1)
    source = open_dataset(str(root), split="val", classes=["green", "red", "blue"])
    assert source.classes == ["green", "red", "blue"]
    assert sorted(source.targets) == [1, 2]


def test_digits_splits_are_disjoint_and_faithful() -> None:
    sklearn = pytest.importorskip("sklearn.datasets")
    digits = sklearn.load_digits()
    parts = {s: DigitsSource(s) for s in ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == len(digits.images)
    seen = {}
    for split, src in parts.items():
        assert src.classes == [str(i) for i in range(10)] and src.native_channels == 1
        for i in range(len(src)):
            key = src._images[i].tobytes() + bytes([src.targets[i]])
            seen.setdefault(key, []).append(split)
    # every digit image lands in exactly one split (duplicated images in the data aside)
    expected = {}
    for img, t in zip(np.round(digits.images * 255 / 16).astype(np.uint8), digits.target):
        k = img.tobytes() + bytes([int(t)])
        expected[k] = expected.get(k, 0) + 1
    assert {k: len(v) for k, v in seen.items()} == expected
    img = parts["test"].load(0, "L")
    assert img.size == (8, 8) and img.mode == "L"
    with pytest.raises(DatasetError, match="split"):
        DigitsSource("holdout")


def test_save_image_folder_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    written = save_image_folder("digits:test", tmp_path / "held", limit=5)
    assert len(written) == 5
    source = ImageFolderSource(tmp_path / "held", classes=[str(i) for i in range(10)])
    test = DigitsSource("test")
    for path, label in zip(source.paths, source.targets):
        i = int(path.stem)
        assert label == test.targets[i]
        assert np.array_equal(np.asarray(Image.open(path)), test._images[i])


def test_train_val_split() -> None:
    a, b = train_val_split(50, 0.2, seed=1)
    assert len(b) == 10 and not set(a) & set(b) and sorted(a + b) == list(range(50))
    assert (a, b) == train_val_split(50, 0.2, seed=1)
    assert b != train_val_split(50, 0.2, seed=2)[1]
    with pytest.raises(ValueError):
        train_val_split(10, 1.5)


def test_hf_datasets(tmp_path: Path) -> None:
    try:
        import datasets
    except ImportError:
        with pytest.raises(DatasetError, match=r"visionzoo\[hf\]"):
            open_dataset("hf:some/dataset")
        return
    feats = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=["blue", "red"])})
    rng = np.random.default_rng(0)
    images = [Image.fromarray(np.full((8, 8, 3), c, dtype=np.uint8)) for c in (0, 255, 0)]
    del rng
    ds = datasets.Dataset.from_dict({"img": images, "label": [0, 1, 0]}, features=feats)
    datasets.DatasetDict({"train": ds, "validation": ds}).save_to_disk(str(tmp_path / "hfds"))
    source = open_dataset(f"hf:{tmp_path / 'hfds'}", split="val")
    assert source.classes == ["blue", "red"] and source.targets == [0, 1, 0]
    assert source.load(1, "L").getpixel((0, 0)) == 255


# --- ImageNetInfo / infer_imagenet_subset: timm's label-set API (issue 25) ---------------------


@pytest.mark.parametrize(
    "subset", ["imagenet-1k", "imagenet12k", "ImageNet_22k", "imagenet-21k-goog", "imagenet21k"]
)
def test_imagenet_info_matches_timm(subset: str) -> None:
    from timm.data import ImageNetInfo as TimmImageNetInfo

    ours, ref = visionzoo.data.ImageNetInfo(subset), TimmImageNetInfo(subset)
    assert ours.num_classes() == ref.num_classes()
    assert ours.label_names() == ref.label_names()
    assert ours.label_indices() == ref.label_indices()
    assert ours.label_descriptions() == ref.label_descriptions()
    assert ours.label_descriptions(as_dict=True) == ref.label_descriptions(as_dict=True)
    for i in (0, 1, ref.num_classes() // 2, ref.num_classes() - 1):
        assert ours.index_to_label_name(i) == ref.index_to_label_name(i)
        assert ours.index_to_description(i) == ref.index_to_description(i)
        assert ours.has_label(i) and not ours.has_label(ref.num_classes())


def test_imagenet_info_rejects_bad_input() -> None:
    info = visionzoo.data.ImageNetInfo()
    with pytest.raises(KeyError, match="imagenet-5k"):
        visionzoo.data.ImageNetInfo("imagenet-5k")
    with pytest.raises(IndexError, match="1000"):
        info.index_to_label_name(1000)
    with pytest.raises(NotImplementedError, match="definitions"):
        info.index_to_description(0, detailed=True)


@pytest.mark.parametrize("num_classes", [0, 10, 1000, 11221, 11821, 21841, 21842, 21843])
def test_infer_imagenet_subset_matches_timm(num_classes: int) -> None:
    from timm.data import infer_imagenet_subset as timm_infer

    ours = visionzoo.data.infer_imagenet_subset
    assert ours({"num_classes": num_classes}) == timm_infer({"num_classes": num_classes})
    model = torch.nn.Linear(1, 1)
    model.num_classes = num_classes  # type: ignore[assignment]
    assert ours(model) == timm_infer(model)


def test_infer_imagenet_subset_reads_pretrained_cfg() -> None:
    from timm.data import infer_imagenet_subset as timm_infer

    model = visionzoo.create_model("resnet18", num_classes=0)
    assert visionzoo.data.infer_imagenet_subset(model) == timm_infer(model) == "imagenet-1k"
