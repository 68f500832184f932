"""Datasets: an image folder, a Hugging Face dataset, or the embedded handwritten digits.

A dataset is named by a string (``DATA`` on the command line):

* ``PATH`` - a folder with one sub-folder per class (``PATH/cat/1.jpg``). If it has ``train/``
  and ``val/`` (or ``validation/``, ``test/``) sub-folders, each is a split.
* ``hf:NAME[:SPLIT]`` - a Hugging Face dataset (Hub id, or a folder written by
  ``save_to_disk``) with an image column and a class-label column. Needs the optional
  ``datasets`` package (``pip install 'visionzoo[hf]'``), imported only when used.
* ``digits[:SPLIT]`` - the 1,797 8x8 handwritten digits (classes 0-9) that scikit-learn ships,
  so a first training run needs no download (``pip install 'visionzoo[demo]'``). Fixed splits:
  ``train`` (1,347), ``val`` (270), ``test`` (180).

Sources yield PIL images converted to the requested mode: 16-bit and float images are scaled to
8 bits, palette / CMYK / grayscale images converted, transparent images composited onto white.
Files that are not images, or that fail to decode, are skipped and counted, never fatal.

The name is parsed once, by :func:`parse_dataset_spec`, into a :class:`DatasetSpec` record that
every function here also accepts. Folder scans follow each real directory at most once (a
symbolic link to a folder already seen, such as one to its own parent, is skipped, so link
loops neither hang nor duplicate images), and a class folder without images is left out with a
warning (as in timm's ``ImageFolder``, whose classes are the labels it finds images for).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "DatasetError",
    "DatasetSpec",
    "DigitsSource",
    "EpochSampler",
    "HFSource",
    "ImageFolderSource",
    "ImageSource",
    "MissingSplitError",
    "TransformDataset",
    "UnknownClassesError",
    "check_dataset_spec",
    "collate_skipping",
    "convert_image",
    "find_images",
    "has_split",
    "load_image",
    "open_dataset",
    "parse_dataset_spec",
    "save_image_folder",
    "train_val_split",
]

_log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".jfif"}
)
_SPLIT_DIRS = {"train": ("train", "training"), "val": ("val", "validation", "valid"), "test": ("test",)}
_DIGITS_SPLITS = ("train", "val", "test", "all")


class DatasetError(ValueError):
    """A dataset that cannot be used as named (missing, empty, malformed); the message says why."""


class MissingSplitError(DatasetError):
    """The dataset exists but has no such split (callers may fall back to a hold-out)."""


class UnknownClassesError(DatasetError):
    """The dataset has classes that are not among the expected ones (e.g. a model's)."""


SpecKind = Literal["digits", "hf", "folder"]


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed dataset name: ``digits[:SPLIT]``, ``hf:NAME[:SPLIT]`` or a folder ``PATH``.

    ``split`` is the split written in the name (None: the caller's choice); ``path`` is the
    expanded folder of a ``folder`` spec (None otherwise).
    """

    kind: SpecKind
    name: str
    split: str | None = None
    path: Path | None = None

    def __str__(self) -> str:
        if self.kind == "folder":
            return str(self.path)
        head = "digits" if self.kind == "digits" else f"hf:{self.name}"
        return f"{head}:{self.split}" if self.split else head

    def with_split(self, split: str) -> DatasetSpec:
        """The same dataset at ``split`` (a folder picks its split sub-folder when opened)."""
        return self if self.kind == "folder" else dataclasses.replace(self, split=split)

    def absolute(self) -> DatasetSpec:
        """With a folder's path made absolute (a run's saved spec must not depend on the cwd)."""
        if self.path is None:
            return self
        return dataclasses.replace(self, path=self.path.absolute())


def parse_dataset_spec(spec: str | DatasetSpec) -> DatasetSpec:
    """Parse a dataset name (the one parser every entry point uses).

    Raises:
        DatasetError: an empty name, ``hf:`` without a name, an unknown digits split.
    """
    if isinstance(spec, DatasetSpec):
        return spec
    if not isinstance(spec, str) or not spec:
        raise DatasetError(f"dataset must be a folder, 'hf:NAME' or 'digits', got {spec!r}")
    if spec == "digits" or spec.startswith("digits:"):
        split = spec.partition(":")[2] or None
        if split is not None and split not in _DIGITS_SPLITS:
            raise DatasetError(f"unknown digits split {split!r}; valid: {', '.join(_DIGITS_SPLITS)}")
        return DatasetSpec("digits", "digits", split)
    if spec.startswith("hf:"):
        name, _, split = spec[3:].partition(":")
        if not name:
            raise DatasetError("hf: needs a dataset name, e.g. hf:uoft-cs/cifar10")
        return DatasetSpec("hf", name, split or None)
    path = Path(spec).expanduser()
    return DatasetSpec("folder", spec, None, path)


# --- images ---------------------------------------------------------------------------------------
def convert_image(img: Image.Image, mode: str = "RGB") -> Image.Image:
    """Convert any PIL image to 8-bit ``RGB`` or ``L``.

    16-bit (``I;16``, ``I``) and float (``F``) images are rescaled to 0-255 rather than clipped;
    images with transparency are composited onto white (dropping alpha instead would expose
    whatever colour the transparent pixels happen to hold, often black).
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16"):
            top = 65535.0
        elif img.mode == "F" and arr.size and arr.max() <= 1.0:
            top = 1.0
        else:
            top = 65535.0 if arr.size and arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).round().astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img if img.mode == mode else img.convert(mode)


def load_image(path: str | os.PathLike[str], mode: str = "RGB") -> Image.Image:
    """Open, decode, apply EXIF orientation and convert an image file (see :func:`convert_image`).

    Raises:
        OSError / PIL.UnidentifiedImageError: the file is not an image or fails to decode.
    """
    with Image.open(path) as f:
        f.load()
        img: Image.Image = ImageOps.exif_transpose(f) or f
        return convert_image(img, mode)


def _is_image_file(path: Path) -> bool:
    """Header check: cheap (no decode), catches files that are not images at all."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path):
                return True
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False


def find_images(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """Image files among ``paths`` (folders searched recursively, in sorted order).

    Returns:
        ``(images, skipped)``: files that open as images, and files that do not (hidden files and
        folders are ignored).
    """
    images: list[Path] = []
    skipped: list[Path] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise DatasetError(f"no such file or folder: {p}")
        files = [p] if p.is_file() else sorted(_walk_files(p, seen))
        for f in files:
            (images if _is_image_file(f) else skipped).append(f)
    return images, skipped


def _walk_files(folder: Path, seen: set[str] | None = None) -> list[Path]:
    """Files under ``folder``; each real directory is entered at most once (``seen`` holds the
    real paths already walked, shared across calls of one scan), so a link back to a parent ends
    the descent instead of looping, and two links to one folder do not double its images."""
    seen = set() if seen is None else seen
    out = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) not in seen
        )
        out += [Path(root) / f for f in sorted(files) if not f.startswith(".")]
    return out


# --- sources --------------------------------------------------------------------------------------
@dataclass
class ImageSource:
    """Base of the dataset sources: ``len``, ``classes`` and ``load(i) -> (PIL image, label)``."""

    name: str
    classes: list[str]
    targets: list[int]
    skipped: dict[str, int] = field(default_factory=dict)
    native_channels: int = 3

    def __len__(self) -> int:
        return len(self.targets)

    def load(self, index: int, mode: str = "RGB") -> Image.Image:
        raise NotImplementedError

    def item_name(self, index: int) -> str:
        return f"{self.name}[{index}]"

    def describe(self) -> str:
        text = f"{self.name}: {len(self)} images in {len(self.classes)} classes"
        problems = ", ".join(f"{n} {why}" for why, n in self.skipped.items() if n)
        return f"{text} (skipped {problems})" if problems else text


class ImageFolderSource(ImageSource):
    """Images in one sub-folder per class; class index = position in sorted folder names."""

    def __init__(self, root: str | os.PathLike[str], *, classes: Sequence[str] | None = None) -> None:
        root = Path(root)
        if not root.exists():
            raise DatasetError(f"data folder not found: {root}")
        if not root.is_dir():
            raise DatasetError(f"data must be a folder with one sub-folder per class, got the file {root}")
        found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not found:
            raise DatasetError(
                f"no class sub-folders in {root}: put images in one folder per class, e.g. {root}/cat/1.jpg"
            )
        if classes is not None:
            unknown = [c for c in found if c not in set(classes)]
            if unknown:
                raise UnknownClassesError(
                    f"{root} has class folders {unknown[:5]} that are not among the expected classes "
                    f"({len(classes)}: {', '.join(classes[:8])}{'...' if len(classes) > 8 else ''})"
                )
        per_class: dict[str, list[Path]] = {}
        not_images = 0
        seen: set[str] = set()  # shared: a class folder linked into another is not walked twice
        for c in found:
            imgs: list[Path] = []
            bad: list[Path] = []
            for f in _walk_files(root / c, seen):
                (imgs if _is_image_file(f) else bad).append(f)
            not_images += len(bad)
            per_class[c] = imgs
        if not any(per_class.values()):
            raise DatasetError(f"data folder {root} has no images in its {len(found)} class folder(s)")
        empty = [c for c, imgs in per_class.items() if not imgs]
        if empty:
            kept = "" if classes is not None else f"; left out, {len(found) - len(empty)} classes remain"
            _log.warning(
                "data folder %s: class folder(s) %s hold no images%s", root, ", ".join(empty[:10]), kept
            )
        class_list = list(classes) if classes is not None else [c for c in found if per_class[c]]
        index = {c: i for i, c in enumerate(class_list)}
        self.paths: list[Path] = []
        targets: list[int] = []
        for c in found:
            if c in index:
                self.paths += per_class[c]
                targets += [index[c]] * len(per_class[c])
        super().__init__(
            name=str(root), classes=class_list, targets=targets, skipped={"non-image files": not_images}
        )

    def load(self, index: int, mode: str = "RGB") -> Image.Image:
        return load_image(self.paths[index], mode)

    def item_name(self, index: int) -> str:
        return str(self.paths[index])


class DigitsSource(ImageSource):
    """scikit-learn's 8x8 handwritten digits (UCI ML hand-written digits, 1,797 images, 16 grey
    levels), as 8-bit grayscale images; the splits are a fixed permutation (seed 0)."""

    def __init__(self, split: str = "train") -> None:
        if split not in _DIGITS_SPLITS:
            raise DatasetError(f"unknown digits split {split!r}; valid: {', '.join(_DIGITS_SPLITS)}")
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DatasetError(
                "the embedded 'digits' dataset comes from scikit-learn, which is not installed: "
                "pip install 'visionzoo[demo]' (or scikit-learn)"
            ) from None
        import numpy as np

        digits = load_digits()
        images = np.round(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
        order = np.random.default_rng(0).permutation(len(images))
        n_test, n_val = len(images) // 10, (len(images) * 15) // 100
        parts = {
            "test": order[:n_test],
            "val": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        idx = np.sort(order) if split == "all" else parts[split]
        self._images = images[idx]
        super().__init__(
            name=f"digits:{split}",
            classes=[str(i) for i in range(10)],
            targets=[int(t) for t in digits.target[idx]],
            native_channels=1,
        )

    def load(self, index: int, mode: str = "RGB") -> Image.Image:
        return convert_image(Image.fromarray(self._images[index], mode="L"), mode)


class HFSource(ImageSource):
    """One split of a Hugging Face dataset with an ``Image`` column and a ``ClassLabel`` column."""

    def __init__(self, name: str, split: str = "train") -> None:
        try:
            import datasets
        except ImportError:
            raise DatasetError(
                f"hf:{name} needs the Hugging Face 'datasets' package: pip install 'visionzoo[hf]'"
            ) from None
        try:
            if Path(name).is_dir() and (
                (Path(name) / "dataset_dict.json").exists() or (Path(name) / "dataset_info.json").exists()
            ):
                ds = datasets.load_from_disk(name)
                if isinstance(ds, datasets.DatasetDict):
                    ds = ds[self._pick_split(name, list(ds), split)]
            else:
                splits = datasets.get_dataset_split_names(name)
                ds = datasets.load_dataset(name, split=self._pick_split(name, splits, split))
        except DatasetError:
            raise
        except Exception as e:  # the library raises many types for a missing / private / offline dataset
            raise DatasetError(f"could not load Hugging Face dataset {name!r}: {e}") from e
        feats = ds.features
        image_cols = [k for k, f in feats.items() if isinstance(f, datasets.Image)]
        label_cols = [k for k, f in feats.items() if isinstance(f, datasets.ClassLabel)]
        if not image_cols or not label_cols:
            raise DatasetError(
                f"hf:{name} needs an Image column and a ClassLabel column; its columns are "
                f"{', '.join(f'{k} ({type(f).__name__})' for k, f in feats.items())}"
            )
        self._ds, self._image_col = ds, image_cols[0]
        targets = [int(t) for t in ds[label_cols[0]]]
        super().__init__(
            name=f"hf:{name}:{ds.split}", classes=list(feats[label_cols[0]].names), targets=targets
        )

    @staticmethod
    def _pick_split(name: str, available: list[str], split: str) -> str:
        for candidate in (split, *_SPLIT_DIRS.get(split, ())):
            if candidate in available:
                return candidate
        raise MissingSplitError(f"hf:{name} has no {split!r} split; it has {', '.join(available)}")

    def load(self, index: int, mode: str = "RGB") -> Image.Image:
        return convert_image(self._ds[index][self._image_col], mode)


def _split_folder(root: Path, split: str) -> Path | None:
    for name in _SPLIT_DIRS.get(split, (split,)):
        if (root / name).is_dir():
            return root / name
    return None


def check_dataset_spec(spec: str | DatasetSpec) -> DatasetSpec:
    """Cheap early check of a dataset name (before any model is built): a folder must exist
    and be a folder; ``hf:`` needs a name; ``digits`` needs a known split.

    Returns:
        The parsed spec.
    """
    parsed = parse_dataset_spec(spec)
    root = parsed.path
    if root is not None:
        if not root.exists():
            raise DatasetError(f"data folder not found: {root}")
        if not root.is_dir():
            raise DatasetError(f"data must be a folder with one sub-folder per class, got the file {root}")
    return parsed


def has_split(spec: str | DatasetSpec, split: str) -> bool:
    """Whether dataset ``spec`` has its own ``split`` (otherwise a hold-out is needed); for
    ``hf:`` the library answers when the split is opened (:class:`MissingSplitError`)."""
    parsed = parse_dataset_spec(spec)
    if parsed.path is None:
        return True
    return parsed.path.is_dir() and _split_folder(parsed.path, split) is not None


def open_dataset(
    spec: str | DatasetSpec, *, split: str = "train", classes: Sequence[str] | None = None
) -> ImageSource:
    """Open a dataset by name (see the module docstring) for ``split``.

    Args:
        spec: ``PATH``, ``hf:NAME[:SPLIT]`` or ``digits[:SPLIT]``, or its parsed
            :class:`DatasetSpec`; a split in the name wins.
        split: ``train``, ``val`` or ``test``. A folder without split sub-folders is used whole.
        classes: class names to index by (a folder's classes must be among them), e.g. the ones
            a model was trained with.

    Raises:
        DatasetError: missing or empty folders, unknown splits (:class:`MissingSplitError`),
            missing optional packages.
    """
    parsed = parse_dataset_spec(spec)
    root = parsed.path
    if root is not None:
        check_dataset_spec(parsed)
        sub = _split_folder(root, split)
        if sub is None and any(_split_folder(root, s) for s in _SPLIT_DIRS):
            raise MissingSplitError(
                f"{root} has split folders but no {split!r} one "
                f"({'/'.join(_SPLIT_DIRS.get(split, (split,)))})"
            )
        return ImageFolderSource(sub or root, classes=classes)
    if parsed.kind == "digits":
        source: ImageSource = DigitsSource(parsed.split or split)
    else:
        source = HFSource(parsed.name, parsed.split or split)
    if classes is not None and list(classes) != source.classes:
        missing = [c for c in source.classes if c not in set(classes)]
        if missing:
            raise UnknownClassesError(
                f"{source.name} has classes {missing[:5]} that are not among the expected ones"
            )
        index = {c: i for i, c in enumerate(classes)}
        source.targets = [index[source.classes[t]] for t in source.targets]
        source.classes = list(classes)
    return source


def train_val_split(n: int, val_fraction: float, *, seed: int = 0) -> tuple[list[int], list[int]]:
    """A seeded random hold-out: ``(train indices, val indices)``, both sorted."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise DatasetError(f"cannot hold out {val_fraction:.0%} of only {n} images for validation")
    return sorted(order[n_val:]), sorted(order[:n_val])


# --- torch datasets ---------------------------------------------------------------------------------
class TransformDataset(torch.utils.data.Dataset):
    """A view of a source (all of it, or ``indices``) with a transform.

    A sample that fails to decode comes back as ``None`` for :func:`collate_skipping` to drop and
    count; with ``replace_failed`` (training) the next decodable sample stands in for it and the
    item carries a 1 in third place to be counted, so every batch keeps its size (replicas under
    DistributedDataParallel must all run the same number of equal steps).

    An item may be asked for as ``(i, seed)`` (what :class:`EpochSampler` yields): the random
    generators (``random``, ``numpy``, ``torch``) are seeded with ``seed`` for that sample's
    loading and augmentation, and restored after. An augmented sample then depends only on the
    sampler's (seed, epoch), not on which loader process draws it or on what that process drew
    before, which is what lets a resumed run match an uninterrupted one for any worker count.
    """

    def __init__(
        self,
        source: ImageSource,
        transform: Callable[[Image.Image], Any] | None = None,
        *,
        indices: Sequence[int] | None = None,
        mode: str = "RGB",
        replace_failed: bool = False,
    ) -> None:
        self.source = source
        self.transform = transform
        self.indices = list(range(len(source))) if indices is None else list(indices)
        self.mode = mode
        self.replace_failed = replace_failed

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def targets(self) -> list[int]:
        return [self.source.targets[i] for i in self.indices]

    def _load(self, index: int) -> Image.Image | None:
        try:
            return self.source.load(index, self.mode)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            _log.warning("skipping %s: %s", self.source.item_name(index), e)
            return None

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[Any, ...] | None:
        if isinstance(item, tuple):
            i, seed = item
            with _seeded(seed):
                return self._get(i)
        return self._get(item)

    def _get(self, i: int) -> tuple[Any, ...] | None:
        index = self.indices[i]
        img = self._load(index)
        replaced = 0
        if img is None:
            if not self.replace_failed:
                return None
            for step in range(1, len(self.indices)):
                index = self.indices[(i + step) % len(self.indices)]
                img = self._load(index)
                if img is not None:
                    replaced = 1
                    break
            else:
                raise DatasetError(f"no image of {self.source.name} could be decoded")
        if self.transform is not None:
            img = self.transform(img)
        label = self.source.targets[index]
        return (img, label, replaced) if self.replace_failed else (img, label)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators for one sample, then restore them."""
    import numpy as np

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)  # the CPU generator only: CUDA's stays the model's
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


class EpochSampler(torch.utils.data.Sampler[tuple[int, int]]):
    """This rank's share of a seeded shuffle of ``n`` samples, each with its augmentation seed.

    Yields ``(position, sample seed)`` for :class:`TransformDataset`. Both the order and the
    seeds are a function of ``(seed, epoch)`` alone (call :meth:`set_epoch` before each epoch),
    so nothing about the data loading needs saving to resume a run exactly. Under several
    processes the order is padded to a multiple of ``world_size`` (as ``DistributedSampler``
    does) and rank ``r`` takes every ``world_size``-th sample from ``r``.
    """

    def __init__(
        self, n: int, *, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True
    ) -> None:
        if n < 1:
            raise ValueError(f"EpochSampler needs at least one sample, got n={n}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.n, self.seed, self.rank, self.world_size, self.shuffle = n, seed, rank, world_size, shuffle
        self.epoch = 0
        self.per_rank = -(-n // world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch * 7_919) % 2**63)
        order = torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)
        seeds = torch.randint(0, 2**62, (self.n,), generator=g)
        total = self.per_rank * self.world_size
        positions = (order.tolist() * -(-total // self.n))[:total]
        for pos in positions[self.rank :: self.world_size]:
            yield pos, int(seeds[pos])


def collate_skipping(batch: list[tuple[Any, ...] | None]) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Stack a batch, dropping samples that failed to load (``None``).

    Returns:
        ``(images (B, C, H, W), labels (B,), number skipped or replaced)``; B may be 0.
    """
    good = [b for b in batch if b is not None]
    skipped = len(batch) - len(good) + sum(b[2] for b in good if len(b) > 2)
    if not good:
        return torch.empty(0), torch.empty(0, dtype=torch.long), skipped
    images = torch.stack([torch.as_tensor(b[0]) for b in good])
    labels = torch.tensor([b[1] for b in good], dtype=torch.long)
    return images, labels, skipped


def save_image_folder(
    source: ImageSource | str,
    folder: str | os.PathLike[str],
    *,
    limit: int | None = None,
    upscale: int = 1,
) -> list[Path]:
    """Write a source's images as PNG files in one sub-folder per class (the folder layout
    :class:`ImageFolderSource` reads), e.g. to get held-out files to run ``visionzoo predict`` on.

    Args:
        source: a source, or a dataset name for :func:`open_dataset`.
        folder: destination (created).
        limit: write at most this many images.
        upscale: enlarge by this integer factor (nearest), so tiny images are viewable.

    Returns:
        The written paths.
    """
    if isinstance(source, str):
        source = open_dataset(source, split="test")
    if upscale < 1:
        raise ValueError(f"upscale must be >= 1, got {upscale}")
    folder = Path(folder)
    written = []
    count = len(source) if limit is None else min(limit, len(source))
    mode = "L" if source.native_channels == 1 else "RGB"
    for i in range(count):
        img = source.load(i, mode)
        if upscale > 1:
            img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)
        path = folder / source.classes[source.targets[i]] / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        written.append(path)
    return written
