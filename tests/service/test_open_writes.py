"""Open writes (no API key): always a warning; never on a non-loopback address without the explicit switch."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from service.security import is_loopback
from service.settings import SettingsError, load_settings
from tests.live_server import REPO, clean_env
from tests.service.svc_support import running_app

KEY = "a-long-enough-key"


@pytest.mark.unit
@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.org", False), ("localhost.evil", False),
])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.unit
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10"])
def test_open_writes_on_an_exposed_host_are_refused(host: str) -> None:
    with pytest.raises(SettingsError, match="SCALE_ALLOW_OPEN_WRITES=true") as err:
        load_settings(host=host)
    assert "SCALE_API_KEY" in str(err.value) and host in str(err.value)


@pytest.mark.unit
def test_exposed_host_starts_with_a_key_or_the_explicit_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(host="0.0.0.0", api_key=KEY).api_key is not None
    monkeypatch.setenv("SCALE_ALLOW_OPEN_WRITES", "true")
    assert load_settings(host="0.0.0.0").allow_open_writes is True
    assert load_settings().host == "127.0.0.1"  # the default stays loopback and open


@pytest.mark.integration
def test_scale_serve_refuses_open_writes_on_all_interfaces() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--host", "0.0.0.0"], cwd=REPO,
                          env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "SCALE_ALLOW_OPEN_WRITES=true" in proc.stderr and "not a loopback address" in proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize(("key", "warned"), [(None, True), (KEY, False)])
def test_startup_warns_when_writes_are_open(caplog: pytest.LogCaptureFixture, key: str | None,
                                            warned: bool) -> None:
    with caplog.at_level(logging.WARNING, logger="service"), running_app(api_key=key):
        pass
    assert any("WRITES ARE OPEN" in rec.getMessage() for rec in caplog.records) is warned
