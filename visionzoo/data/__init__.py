"""Data: configs from models, transforms, datasets and label names.

>>> from visionzoo.data import resolve_model_data_config, create_transform
>>> cfg = resolve_model_data_config(model)            # doctest: +SKIP
>>> transform = create_transform(**cfg)                # eval: resize, centre crop, normalise
>>> train_tf = create_transform(**cfg, is_training=True, auto_augment="rand-m9-n2")
"""

from .config import (
    CROP_MODES,
    DEFAULT_CROP_MODE,
    DEFAULT_CROP_PCT,
    fit_channels,
    resolve_data_config,
    resolve_input_data_config,
    resolve_model_data_config,
)
from .datasets import (
    IMAGE_EXTENSIONS,
    DatasetError,
    DatasetSpec,
    DigitsSource,
    EpochSampler,
    HFSource,
    ImageFolderSource,
    ImageSource,
    MissingSplitError,
    TransformDataset,
    UnknownClassesError,
    check_dataset_spec,
    collate_skipping,
    convert_image,
    find_images,
    has_split,
    load_image,
    open_dataset,
    parse_dataset_spec,
    save_image_folder,
    train_val_split,
)
from .imagenet_info import ImageNetInfo, infer_imagenet_subset
from .labels import (
    IMAGENET_SUBSETS,
    imagenet_label_names,
    imagenet_lemmas,
    imagenet_subset_for,
    model_label_names,
)
from .transforms import CenterCropOrPad, create_mixup, create_transform, eval_resize_size, parse_auto_augment

__all__ = [
    "CROP_MODES",
    "DEFAULT_CROP_MODE",
    "DEFAULT_CROP_PCT",
    "IMAGENET_SUBSETS",
    "IMAGE_EXTENSIONS",
    "CenterCropOrPad",
    "DatasetError",
    "DatasetSpec",
    "DigitsSource",
    "EpochSampler",
    "HFSource",
    "ImageFolderSource",
    "ImageNetInfo",
    "ImageSource",
    "MissingSplitError",
    "TransformDataset",
    "UnknownClassesError",
    "check_dataset_spec",
    "collate_skipping",
    "convert_image",
    "create_mixup",
    "create_transform",
    "eval_resize_size",
    "find_images",
    "fit_channels",
    "has_split",
    "imagenet_label_names",
    "imagenet_lemmas",
    "imagenet_subset_for",
    "infer_imagenet_subset",
    "load_image",
    "model_label_names",
    "open_dataset",
    "parse_auto_augment",
    "parse_dataset_spec",
    "resolve_data_config",
    "resolve_input_data_config",
    "resolve_model_data_config",
    "save_image_folder",
    "train_val_split",
]
