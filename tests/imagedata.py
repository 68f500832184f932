"""Small image datasets the data and CLI tests write themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Two colour classes a tiny model separates in a few steps.
COLOURS = {"blue": (30, 40, 210), "red": (210, 40, 30)}


def noisy_square(colour: tuple[int, int, int], size: int, rng: np.random.Generator) -> np.ndarray:
    base = np.array(colour, dtype=np.float64)
    return np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)


def make_image_folder(
    root: Path,
    *,
    per_class: int = 8,
    size: int = 20,
    seed: int = 0,
    splits: tuple[str, ...] = ("train", "val"),
) -> Path:
    """``root/<split>/<class>/<i>.png`` for the colour classes; returns ``root``."""
    rng = np.random.default_rng(seed)
    for split in splits:
        for name, colour in COLOURS.items():
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                Image.fromarray(noisy_square(colour, size, rng)).save(folder / f"{i}.png")
    return root


def add_awkward_files(folder: Path, colour: tuple[int, int, int], *, size: int = 20) -> dict[str, Path]:
    """Images in modes that need converting, plus files that must be skipped."""
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(noisy_square(colour, size, rng))
    paths = {
        "gray": folder / "gray.png",
        "rgba": folder / "rgba.png",
        "cmyk": folder / "cmyk.jpg",
        "sixteen_bit": folder / "sixteen.png",
        "corrupt": folder / "corrupt.jpg",
        "truncated": folder / "truncated.png",
        "text": folder / "notes.txt",
    }
    rgb.convert("L").save(paths["gray"])
    rgb.convert("RGBA").save(paths["rgba"])
    rgb.convert("CMYK").save(paths["cmyk"])
    gray16 = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(paths["sixteen_bit"])
    paths["corrupt"].write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    # a valid header with the pixel data cut off: opens, fails to decode
    full = folder / "full.tmp.png"
    Image.fromarray(noisy_square(colour, 64, rng)).save(full)
    data = full.read_bytes()
    full.unlink()
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["text"].write_text("not an image\n")
    return paths
