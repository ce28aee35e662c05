"""A live service on 127.0.0.1 (tiny bundle, API key set) and a headless system Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from service.app import create_app
from tests.service.svc_support import settings, text_encoder

API_KEY = "playground-test-key"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """The system Chromium; skip without one, except in CI (CI=true), where it must be there."""
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    missing = "headless chromium not installed (apt-get install chromium)" if found is None else None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright (Python) not installed: pip install -e '.[dev]'"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_service() -> Iterator[str]:
    """The real app (lifespan run, tiny bundle, SCALE_API_KEY set) served by uvicorn on a free port."""
    port = free_port()
    app = create_app(settings(api_key=API_KEY, max_wait_ms=2.0), text_encoder=text_encoder())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the service did not become ready"
        try:
            if server.started and httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(20)


@dataclass
class Traffic:
    """Every request and WebSocket the page opened, to prove it never leaves the service's host."""

    urls: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        """URLs whose host:port is not the service's (data: and blob: URLs never leave the page)."""
        host = urlsplit(origin).netloc
        return [u for u in self.urls if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != host]
