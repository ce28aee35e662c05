"""/docs and /redoc work offline: every asset they reference is served by the app itself, and a headless
Chromium (no network besides 127.0.0.1) renders every API operation on the Swagger UI page."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


def app_without_lifespan():
    """The real app; /docs, /redoc and /openapi.json need no bundle, so the lifespan is not run."""
    return create_app(Settings())


def referenced(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.unit
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_reference_only_assets_the_app_serves(page: str) -> None:
    client = TestClient(app_without_lifespan())  # not entered: no lifespan, no bundle
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assets = referenced(html.text)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in assets:
        assert not urlsplit(asset).netloc, f"{page} loads {asset} from another host"
        answer = client.get(urljoin(f"http://testserver{page}", asset))
        assert answer.status_code == 200 and answer.content, asset
        if asset.endswith(".js"):
            assert len(answer.content) > 100_000  # the real bundle, not a stub or an error page
    assert "/openapi.json" in assets or "/openapi.json" in html.text


@pytest.fixture(scope="module")
def live_docs_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app_without_lifespan(), host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.integration
@pytest.mark.skipif(chromium() is None, reason="headless chromium not installed (apt-get install chromium)")
def test_headless_chromium_renders_every_operation_on_the_swagger_page(live_docs_url: str, tmp_path) -> None:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path}", "--proxy-server=127.0.0.1:9", f"--proxy-bypass-list={live_docs_url}",
           "--virtual-time-budget=15000", "--dump-dom", f"{live_docs_url}/docs"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert done.returncode == 0 and "swagger-ui" in dom, done.stderr[-2000:]
    spec = app_without_lifespan().openapi()
    for path, operations in spec["paths"].items():
        for method in operations:
            # the method badge and the path of one operation summary, with no other operation in between
            pattern = (rf'opblock-summary-method">{method.upper()}</span>'
                       rf'(?:(?!opblock-summary-method).)*?data-path="{re.escape(path)}"')
            assert re.search(pattern, dom, re.S), f"{method.upper()} {path} not rendered by Swagger UI"
    assert spec["info"]["title"] in dom
