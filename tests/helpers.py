"""Test helpers: weights files and a loopback HTTP server the tests start themselves."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import save_file


def random_state_dict(name: str, **kwargs) -> dict[str, torch.Tensor]:
    """Random weights for ``name`` (built by visionzoo on meta, filled with random values)."""
    from timm_oracle import materialize_random

    import visionzoo

    model = visionzoo.create_model(name, device="meta", **kwargs)
    return {k: v.clone() for k, v in materialize_random(model).state_dict().items()}


def write_safetensors(state_dict: dict[str, torch.Tensor], path: Path) -> Path:
    save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    return path


def hashed_name(path: Path, stem: str, suffix: str = ".pth") -> str:
    """torch.hub style name carrying the sha256 prefix of the file's bytes."""
    return f"{stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}{suffix}"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, str]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body, mode = self.routes.get(self.path, (b"", "missing"))
        if mode == "missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":  # promise the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[tuple[str, dict[str, tuple[bytes, str]], list[str]]]:
    """A loopback server: yields (base URL, routes {path: (bytes, 'ok'|'cut')}, hit log)."""
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler.routes, handler.hits
    finally:
        server.shutdown()
        server.server_close()


def lay_out_hub_cache(cache_dir: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Write a Hugging Face cache entry for ``repo_id`` the way huggingface_hub stores it."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot
