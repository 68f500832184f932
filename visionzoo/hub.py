"""Weight sources and formats.

Sources, by priority: an in-memory ``state_dict``, a local ``file`` (or folder), the Hugging Face
Hub (``hf_hub_id``), then a plain ``url``. Formats: safetensors (memory-mapped) and PyTorch
``.pth``/``.bin`` files read with ``torch.load(weights_only=True)``, which never runs code from the
file. Downloads land in a temporary file, are checked, and are renamed into place, so a cut or
corrupt download never leaves a file that later loads.

Offline-first: a cached file is used without any network call; with ``HF_HUB_OFFLINE=1`` (or
``VISIONZOO_OFFLINE=1``) nothing is fetched and a missing file is an error that says how to
provide it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .pretrained import PretrainedCfg

__all__ = [
    "WeightsError",
    "clean_state_dict",
    "download_url",
    "hf_split",
    "is_offline",
    "load_checkpoint_file",
    "load_config_json",
    "load_state_dict",
    "load_state_dict_for_cfg",
    "overlay_cfg",
    "weights_cache_dir",
]

SAFE_WEIGHTS_NAME = "model.safetensors"
TORCH_WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
# torch.hub convention: "name-<sha256 prefix>.ext"
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")
_CHECKPOINT_KEYS = ("state_dict", "model", "module")
_EMA_KEYS = ("state_dict_ema", "model_ema", "ema", "state_dict_ema_orig")


class WeightsError(RuntimeError):
    """Weights that cannot be found, read or trusted; the message says what to do."""


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``VISIONZOO_OFFLINE`` is set to a true value."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(v, "").strip().lower() in truthy for v in ("HF_HUB_OFFLINE", "VISIONZOO_OFFLINE")
    )


def weights_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where URL downloads go: ``cache_dir``, ``$VISIONZOO_CACHE``, else torch hub's checkpoints
    folder (shared with timm and torchvision, so their downloads are reused)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("VISIONZOO_CACHE")
    if env:
        return Path(env)
    return Path(torch.hub.get_dir()) / "checkpoints"


# --- formats ------------------------------------------------------------------------------------
def clean_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` prefix DataParallel/DDP training adds."""
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state_dict.items()}


def _unwrap_checkpoint(obj: Any, path: Path, use_ema: bool) -> dict[str, torch.Tensor]:
    """Find the state dict inside a training checkpoint (``{"state_dict": ..., "optimizer": ...}``)."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict")
    keys = (_EMA_KEYS + _CHECKPOINT_KEYS) if use_ema else _CHECKPOINT_KEYS
    for key in keys:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    else:
        if use_ema:
            raise WeightsError(f"{path} has no EMA weights (looked for keys {', '.join(_EMA_KEYS)})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path} contains no tensors; is it a model checkpoint?")
    return clean_state_dict(tensors)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(
            f"expected a weights file but {path} is a folder; pass the file inside it, "
            f"or create_model('local-dir:{path}') for a folder saved by save_pretrained"
        )
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes); re-download or re-save it")


def load_checkpoint_file(path: str | os.PathLike[str], *, use_ema: bool = False) -> dict[str, torch.Tensor]:
    """Read a state dict from a safetensors or PyTorch file, unwrapping training checkpoints.

    Raises:
        WeightsError: missing, empty, truncated or corrupt files, and pickles that would need to
            run code to load (those are refused, never executed).
    """
    path = Path(path)
    _check_file(path)
    if path.suffix == ".npz":  # JAX/Flax (big_vision) arrays under their parameter paths
        return _load_npz(path)
    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return clean_state_dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(
                f"{path} is not a valid safetensors file (truncated or corrupt: {e}); "
                "delete it and download or save it again"
            ) from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        imports = _pickle_imports(path)
        if not imports:
            raise WeightsError(
                f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
                f"{_unpickling_detail(e)}); delete it and download or save it again"
            ) from None
        raise WeightsError(
            f"refusing to load {path}: it needs arbitrary unpickling, which can run code hidden in the "
            f"file (it imports {', '.join(sorted(imports)[:5])}). Only plain tensor checkpoints are "
            "loaded. If you trust the file, convert it once: `sd = torch.load(path, weights_only=False)`, "
            "then `safetensors.torch.save_file(sd, 'model.safetensors')`"
        ) from None
    except Exception as e:  # a damaged stream fails in many ways (IndexError, struct.error...)
        raise WeightsError(
            f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
            f"{_first_line(e)}); delete it and download or save it again"
        ) from e
    return _unwrap_checkpoint(obj, path, use_ema)


def _load_npz(path: Path) -> dict[str, torch.Tensor]:
    """Arrays of a ``.npz`` archive as tensors, keys unchanged; object arrays (pickles) refused."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: torch.from_numpy(np.array(archive[key])) for key in archive.files}
    except ValueError as e:  # numpy's refusal of object arrays
        raise WeightsError(
            f"refusing to load {path}: it holds pickled objects ({e}); only arrays are read"
        ) from e
    except (OSError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path} is not a valid .npz archive (truncated or corrupt: {e})") from e


_SAFE_PICKLE_MODULES = ("torch", "collections", "numpy", "builtins", "_codecs")


def _pickle_imports(path: Path) -> set[str]:
    """Non-tensor ``module.name`` globals a pickle would import, read without unpickling it."""
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                data = zf.read(name)
        else:
            data = path.read_bytes()
        found, strings = set(), []
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.add(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # unparseable stream: corrupt, not malicious-looking
        return set()
    return {g for g in found if not g.startswith(_SAFE_PICKLE_MODULES)}


def _unpickling_detail(e: BaseException) -> str:
    """The specific reason inside torch's long weights-only error message."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if "GLOBAL" in ln or "global" in ln or "Unsupported" in ln or "load key" in ln:
            return ln
    return lines[-1] if lines else type(e).__name__


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    if path.suffix in (".pth", ".pt", ".bin", ".ckpt", ".tar"):
        return False
    # unknown suffix: safetensors starts with an 8-byte header length then '{'
    with path.open("rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _weights_in_folder(folder: Path) -> Path:
    for name in (SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME, "open_clip_pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise WeightsError(f"no {SAFE_WEIGHTS_NAME} or {TORCH_WEIGHTS_NAME} in folder {folder}")


def load_state_dict(path: str | os.PathLike[str], *, use_ema: bool = False) -> dict[str, torch.Tensor]:
    """A state dict from a weights file, or from the weights file in a saved-model folder."""
    path = Path(path)
    if path.is_dir():
        path = _weights_in_folder(path)
    return load_checkpoint_file(path, use_ema=use_ema)


# --- URL downloads -------------------------------------------------------------------------------
def _progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
        return None
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not enabled or None,
        file=sys.stderr,
    )


def download_url(
    url: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    check_hash: bool = True,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    The file is streamed to a temporary name in the cache folder, checked (length against
    Content-Length; sha256 against a hash prefix in the file name, torch.hub style), fsynced and
    renamed; on any failure the temporary file is removed.
    """
    folder = weights_cache_dir(cache_dir)
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise WeightsError(f"cannot derive a file name from URL {url!r}")
    dest = folder / name
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    if is_offline():
        raise WeightsError(
            f"offline mode (HF_HUB_OFFLINE/VISIONZOO_OFFLINE) and {name} is not cached in {folder}. "
            "Provide the weights file yourself: create_model(..., pretrained=True, "
            "pretrained_cfg_overlay=dict(file='path/to/weights')), or place it at "
            f"{dest}, or load a saved folder with create_model('local-dir:PATH')"
        )
    advice = (
        "Without network access, provide the weights file yourself: create_model(..., pretrained=True, "
        f"pretrained_cfg_overlay=dict(file='path/to/weights')), or place it at {dest}, or load a saved "
        "folder with create_model('local-dir:PATH'); set HF_HUB_OFFLINE=1 to never try the network"
    )
    folder.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "visionzoo"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _progress_bar(total, name, progress)
            received = 0
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
            if total is not None and received != total:
                raise WeightsError(
                    f"download of {url} was cut short: got {received} of {total} bytes; try again"
                )
            out.flush()
            os.fsync(out.fileno())
        if check_hash and expected:
            prefix = expected.group(1)
            if not digest.hexdigest().startswith(prefix):
                raise WeightsError(
                    f"download of {url} is corrupt: sha256 {digest.hexdigest()[:16]}... does not "
                    f"start with {prefix} from the file name; nothing was kept, try again"
                )
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as e:
        tmp.unlink(missing_ok=True)
        network = isinstance(
            e, (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
        )
        raise WeightsError(f"could not download {url}: {e}" + (f". {advice}" if network else "")) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


# --- Hugging Face Hub ----------------------------------------------------------------------------
def hf_split(hub_id: str) -> tuple[str, str | None]:
    """``"org/repo@rev"`` -> ``("org/repo", "rev")``."""
    repo, _, revision = hub_id.partition("@")
    if not repo or repo.count("/") != 1:
        raise ValueError(f"Hugging Face Hub id must look like 'org/repo[@revision]', got {hub_id!r}")
    return repo, revision or None


def hf_download(hub_id: str, filename: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """One file of a Hub repo: from the local cache without any network call when present,
    otherwise downloaded (unless offline)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo, revision = hf_split(hub_id)
    cache = None if cache_dir is None else Path(cache_dir)
    cached = try_to_load_from_cache(repo, filename, cache_dir=cache, revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    offline = is_offline()
    try:
        return Path(
            hf_hub_download(repo, filename, revision=revision, cache_dir=cache, local_files_only=offline)
        )
    except LocalEntryNotFoundError as e:  # (a subclass of EntryNotFoundError: catch it first)
        why = (
            "offline mode is on (HF_HUB_OFFLINE)"
            if offline
            else "the Hub could not be reached (set HF_HUB_OFFLINE=1 to skip the network)"
        )
        raise WeightsError(
            f"{filename} of {hub_id} is not in the Hugging Face cache and {why}. Provide the "
            "weights: run once with network access to fill the cache, or pass "
            "pretrained_cfg_overlay=dict(file='path/to/model.safetensors'), or use "
            "create_model('local-dir:PATH') for a folder saved with save_pretrained"
        ) from e


def _hf_weights(hub_id: str, filename: str | None, cache_dir: Any) -> Path:
    from huggingface_hub.errors import EntryNotFoundError

    names = [filename] if filename else [SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME]
    errors: list[Exception] = []
    for name in names:
        try:
            return hf_download(hub_id, name, cache_dir)
        except (EntryNotFoundError, WeightsError) as e:
            errors.append(e)
    # "not cached / unreachable" names the preferred file; "not in the repo" the last one tried
    raise next((e for e in errors if isinstance(e, WeightsError)), errors[-1])


def load_config_json(source: str, cache_dir: Any = None) -> dict[str, Any]:
    """``config.json`` of a Hub repo (``org/repo[@rev]``) or of a local folder."""
    path = Path(source)
    if path.is_dir():
        path = path / CONFIG_NAME
        if not path.is_file():
            raise WeightsError(f"{source} has no {CONFIG_NAME}; save it with visionzoo.save_pretrained")
    else:
        path = hf_download(source, CONFIG_NAME, cache_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path} is not valid JSON: {e}") from e


# --- one entry point per config ------------------------------------------------------------------
def load_state_dict_for_cfg(
    cfg: PretrainedCfg, cache_dir: str | os.PathLike[str] | None = None, *, progress: bool = True
) -> dict[str, torch.Tensor]:
    """Fetch the weights a config points at, by source priority."""
    if cfg.state_dict is not None:  # copied: the model must not alias the caller's tensors
        return {k: v.clone() for k, v in clean_state_dict(cfg.state_dict).items()}
    if cfg.file:
        return load_state_dict(cfg.file)
    if cfg.hf_hub_id:
        return load_checkpoint_file(_hf_weights(cfg.hf_hub_id, cfg.hf_hub_filename, cache_dir))
    if cfg.url:
        return load_checkpoint_file(download_url(cfg.url, cache_dir, progress=progress))
    raise WeightsError(
        f"{cfg.name or 'this model'} has no pretrained weights (no file, Hub id or URL); "
        "use pretrained=False, pick a tag from list_pretrained(), or pass "
        "pretrained_cfg_overlay=dict(file='path/to/weights')"
    )


def overlay_cfg(cfg: PretrainedCfg, overlay: Mapping[str, Any]) -> PretrainedCfg:
    """``cfg`` with ``overlay``'s fields; an overlay naming a weight source replaces the config's
    sources, so the one the user gave is the one loaded."""
    overlay = dict(overlay)
    if any(overlay.get(k) for k in ("url", "file", "state_dict", "hf_hub_id")):
        for k in ("url", "file", "hf_hub_id", "state_dict"):
            overlay.setdefault(k, None)
    return cfg.replace(**overlay)
