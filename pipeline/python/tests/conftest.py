"""Fixtures: the oracle in ../shared beside the checkout (the tests fail, never skip, without it),
and the models and videos the tests share."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("MARLIN_SHARED", REPO.parent / "shared"))


def _shared() -> Path:
    if not (SHARED / "oracle" / "README.md").is_file():
        pytest.fail(f"{SHARED}: the oracle (../shared beside the checkout) is missing; the tests need it")
    return SHARED


@pytest.fixture(scope="session")
def oracle() -> Path:
    return _shared() / "oracle"


@pytest.fixture(scope="session")
def media() -> Path:
    return _shared() / "media"


@pytest.fixture(scope="session")
def detector() -> Path:
    return _shared() / "models" / "facexzoo_retinaface" / "face_detection_retina.pkl"


@pytest.fixture(scope="session")
def tiny(oracle):
    """The oracle's tiny MARLIN, opened as the official `from_file` opens a checkpoint."""
    import marlin_rs

    return marlin_rs.Marlin.from_file(str(oracle / "marlin_tiny.yaml"), str(oracle / "models" / "marlin_tiny.encoder.pt"))


@pytest.fixture(scope="session")
def vit_small(oracle):
    """The released vit_small architecture with the oracle's random weights."""
    import marlin_rs

    return marlin_rs.Marlin.load(oracle / "models" / "marlin_vit_small_random.encoder.f16.safetensors")


@pytest.fixture
def serve(tmp_path):
    """Serves files over HTTP on 127.0.0.1 (a release or detector address in miniature):
    `serve({"name": bytes})` returns the base URL; the server stops after the test."""
    import functools
    import http.server
    import threading

    servers = []

    def start(files):
        root = tmp_path / f"served{len(servers)}"
        root.mkdir()
        for name, body in files.items():
            (root / name).write_bytes(body)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
