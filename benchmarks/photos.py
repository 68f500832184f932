"""Real photographs for accuracy checks, from sample images that installed packages ship.

No ImageNet images are available offline, so the bf16-vs-fp32 agreement is measured on random
crops (scales, positions, flips) of the photos found here: scikit-learn's ``china.jpg`` and
``flower.jpg``, matplotlib's ``grace_hopper.jpg`` and scikit-image's bundled photos, whichever
are installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

__all__ = ["find_photos", "photo_batch"]

_CANDIDATES = {
    "sklearn": ["datasets/images/china.jpg", "datasets/images/flower.jpg"],
    "matplotlib": ["mpl-data/sample_data/grace_hopper.jpg"],
    "skimage": [
        "data/astronaut.png",
        "data/chelsea.png",
        "data/coffee.png",
        "data/rocket.jpg",
        "data/motorcycle_left.png",
        "data/hubble_deep_field.jpg",
    ],
}


def find_photos() -> list[Path]:
    """Paths of the sample photos present in this environment (without importing the packages)."""
    found = []
    for package, rel_paths in _CANDIDATES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        found += [root / p for p in rel_paths if (root / p).is_file()]
    return found


def photo_batch(
    count: int,
    size: int,
    *,
    mean: tuple[float, ...] = (0.485, 0.456, 0.406),
    std: tuple[float, ...] = (0.229, 0.224, 0.225),
    seed: int = 0,
) -> torch.Tensor:
    """``(count, 3, size, size)`` normalised random crops of the sample photos.

    Raises:
        FileNotFoundError: no sample photo is installed.
    """
    from PIL import Image
    from torchvision.transforms import v2

    paths = find_photos()
    if not paths:
        raise FileNotFoundError(
            "no sample photos found: install scikit-learn, matplotlib or scikit-image (they ship some)"
        )
    images = [v2.functional.to_image(Image.open(p).convert("RGB")) for p in paths]
    crop = v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        return torch.stack([crop(images[i % len(images)]) for i in range(count)])
    finally:
        torch.set_rng_state(state)
