"""Downloads: URLs into a cache of their own, and files of Hugging Face Hub repos.

Offline-first: a cached file is used without any network call; with ``HF_HUB_OFFLINE=1`` (or
``VISIONZOO_OFFLINE=1``) nothing is fetched and a missing file raises :class:`WeightsUnavailable`,
whose ``advice`` says how to provide it. A URL download is streamed under a temporary name,
checked (length, the sha256 prefix in its name, the format its name says) and only then renamed
into the cache (:func:`visionzoo.fileio.atomic_write`), within an overall deadline.

Above :mod:`.formats` (it verifies what it downloads), below :mod:`.sources`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..fileio import atomic_write
from ..save import CONFIG_NAME, SAFE_WEIGHTS_NAME
from .formats import TORCH_WEIGHTS_NAME, WeightsError, read_checkpoint, verify_weights_file

__all__ = [
    "DEADLINE_ENV",
    "WeightsUnavailable",
    "advice_from",
    "download_url",
    "hf_download",
    "hf_split",
    "hf_weights_file",
    "is_offline",
    "load_config_json",
    "load_state_dict_from_hf",
    "read_config",
    "weights_cache_dir",
]

# torch.hub convention: "name-<sha256 prefix>.ext"
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")
DEADLINE_ENV = "VISIONZOO_DOWNLOAD_DEADLINE"
DEFAULT_DEADLINE = 3600.0


class WeightsUnavailable(WeightsError):
    """Weights that cannot be fetched here (offline, or the server unreachable).

    ``advice`` says how to provide them without the network; it is part of the message too, and
    is what a caller (the CLI) adds its own options to. ``reason`` is the message without it;
    ``place_at`` (where a download would be cached) and ``fill_cache`` (a Hub cache that a run
    with network access fills) are what the advice says, so a caller that knows more ways to
    provide weights (the table of sources) can give the whole advice.
    """

    def __init__(
        self, message: str, *, advice: str, place_at: Path | None = None, fill_cache: bool = False
    ) -> None:
        super().__init__(f"{message}. {advice}")
        self.reason = message
        self.advice = advice
        self.place_at = place_at
        self.fill_cache = fill_cache


def advice_from(ways: Sequence[str]) -> str:
    """The advice of a :class:`WeightsUnavailable`: the ways to provide the weights, in turn."""
    ways_text = ", or ".join(ways)
    return f"Provide the weights yourself: {ways_text}; set HF_HUB_OFFLINE=1 to never try the network"


def _own_ways(*, place_at: Path | None = None, fill_cache: bool = False) -> list[str]:
    """The ways a download knows of (the sources add theirs: :func:`visionzoo.hub.offline_advice`)."""
    ways = ["run once with network access to fill the cache"] if fill_cache else []
    return ways + ([f"place it at {place_at}"] if place_at is not None else [])


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


def _deadline_seconds(deadline: float | None) -> float:
    if deadline is not None:
        value = float(deadline)
    else:
        env = os.environ.get(DEADLINE_ENV, "").strip()
        try:
            value = float(env) if env else DEFAULT_DEADLINE
        except ValueError:
            raise ValueError(f"{DEADLINE_ENV}={env!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"download deadline must be a positive number of seconds, got {value!r}")
    return value


def download_url(
    url: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    check_hash: bool = True,
    progress: bool = True,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` into the cache (once) and return the local path.

    The file is streamed to a temporary name in the cache folder and checked before it is
    renamed into place: its length against Content-Length, its sha256 against a hash prefix in
    the file name (torch.hub style), and its content against the format the name says (see
    :func:`verify_weights_file`), so a cut stream or an HTML page never reaches the cache. On any
    failure the temporary file is removed.

    Args:
        timeout: seconds one network read may wait.
        deadline: seconds the whole download may take (default ``$VISIONZOO_DOWNLOAD_DEADLINE``,
            else one hour), so a server that drips bytes cannot hang it.
    """
    folder = weights_cache_dir(cache_dir)
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise WeightsError(f"cannot derive a file name from URL {url!r}")
    dest = folder / name
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    if is_offline():
        raise WeightsUnavailable(
            f"offline mode (HF_HUB_OFFLINE/VISIONZOO_OFFLINE) and {name} is not cached in {folder}",
            advice=advice_from(_own_ways(place_at=dest)),
            place_at=dest,
        )
    limit = _deadline_seconds(deadline)
    folder.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(name)

    def fetch(tmp: Path) -> None:  # raising here leaves nothing in the cache
        digest = hashlib.sha256()
        started = time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "visionzoo"})
        with tmp.open("wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _progress_bar(total, name, progress)
            received = 0
            while chunk := resp.read1(1 << 20):  # returns what has arrived: the deadline is checked often
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                if time.monotonic() - started > limit:
                    raise WeightsError(
                        f"download of {url} took longer than its {limit:g} s deadline ({received} bytes "
                        f"received); nothing was kept. Raise it with deadline= or {DEADLINE_ENV}"
                    )
            if bar is not None:
                bar.close()
            if total is not None and received != total:
                raise WeightsError(
                    f"download of {url} was cut short: got {received} of {total} bytes; try again"
                )
        if check_hash and expected:
            prefix = expected.group(1)
            if not digest.hexdigest().startswith(prefix):
                raise WeightsError(
                    f"download of {url} is corrupt: sha256 {digest.hexdigest()[:16]}... does not "
                    f"start with {prefix} from the file name; nothing was kept, try again"
                )
        try:
            verify_weights_file(tmp, name=name)
        except WeightsError as e:
            raise WeightsError(
                f"download of {url} is not a usable {name}: {e}; nothing was kept, try again"
            ) from None

    try:
        atomic_write(dest, fetch)
    except (OSError, http.client.HTTPException) as e:
        network = isinstance(
            e, (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)
        )
        if network:
            raise WeightsUnavailable(
                f"could not download {url}: {e}", advice=advice_from(_own_ways(place_at=dest)), place_at=dest
            ) from e
        raise WeightsError(f"could not download {url}: {e}") from e
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
        raise WeightsUnavailable(
            f"{filename} of {hub_id} is not in the Hugging Face cache and {why}",
            advice=advice_from(_own_ways(fill_cache=True)),
            fill_cache=True,
        ) from e


def hf_weights_file(hub_id: str, filename: str | None, cache_dir: Any) -> Path:
    """The weights file of a Hub repo: ``filename``, or ``model.safetensors`` before
    ``pytorch_model.bin`` when it is ``None``."""
    names = [filename] if filename else [SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME]
    return _first_hf_file(hub_id, names, cache_dir)


def _first_hf_file(hub_id: str, names: Sequence[str], cache_dir: Any) -> Path:
    """The first of ``names`` the repo has (cached, or fetched unless offline)."""
    from huggingface_hub.errors import EntryNotFoundError

    errors: list[Exception] = []
    for name in names:
        try:
            return hf_download(hub_id, name, cache_dir)
        except (EntryNotFoundError, WeightsError) as e:
            errors.append(e)
    # "not cached / unreachable" names the preferred file; "not in the repo" the last one tried
    raise next((e for e in errors if isinstance(e, WeightsError)), errors[-1])


def _safe_alternatives(filename: str) -> list[str]:
    """The safetensors twin(s) of a pickle file name that timm tries first."""
    if filename == TORCH_WEIGHTS_NAME:
        return [SAFE_WEIGHTS_NAME]
    if filename == "open_clip_pytorch_model.bin":
        return ["open_clip_model.safetensors"]
    return [filename.removesuffix(".bin") + ".safetensors"] if filename.endswith(".bin") else []


def load_state_dict_from_hf(
    model_id: str,
    filename: str = TORCH_WEIGHTS_NAME,
    weights_only: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """What a weights file of a Hub repo holds (timm's ``_hub`` call, its arguments and choice):
    a ``*.bin`` name is read from its safetensors twin where the repo has one
    (``pytorch_model.bin`` -> ``model.safetensors``), so safetensors is preferred as in timm.

    Args:
        model_id: ``"org/repo"`` or ``"org/repo@revision"``.
        filename: the file in the repo.
        weights_only: accepted for timm's signature; pickles are always read weights-only, so one
            that would run code is refused either way (see :func:`.formats.read_torch_checkpoint`).
        cache_dir: the Hugging Face cache to use (its default when ``None``).

    Returns:
        The file's contents, as saved (timm neither unwraps nor cleans them here).

    Raises:
        WeightsUnavailable: none of the files is cached and the Hub cannot be asked (offline).
        WeightsError: damaged or unsafe files, or a file that holds no dict.
    """
    if not isinstance(filename, str) or not filename:
        raise TypeError(f"filename must be a file name in the repo, got {filename!r}")
    if not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be a bool, got {weights_only!r}")
    names = [*_safe_alternatives(filename), filename]
    path = _first_hf_file(model_id, names, cache_dir)
    state = read_checkpoint(path)
    if not isinstance(state, dict):
        raise WeightsError(f"{filename} of {model_id} ({path}) holds a {type(state).__name__}, not a dict")
    return state


def load_config_json(source: str, cache_dir: Any = None) -> dict[str, Any]:
    """``config.json`` of a Hub repo (``org/repo[@rev]``) or of a local folder."""
    path = Path(source)
    if path.is_dir():
        path = path / CONFIG_NAME
        if not path.is_file():
            raise WeightsError(f"{source} has no {CONFIG_NAME}; save it with visionzoo.save_pretrained")
    else:
        path = hf_download(source, CONFIG_NAME, cache_dir)
    return read_config(path)


def read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise WeightsError(
            f"{path} holds a JSON {type(config).__name__}, not an object with 'architecture' and "
            "'pretrained_cfg'; save the model again with save_pretrained"
        )
    return config
