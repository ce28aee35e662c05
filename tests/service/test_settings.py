"""Settings: defaults, environment parsing (SCALE_* and REDIS_URL), validation errors naming the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.registry import MemoryRegistry, make_registry
from service.settings import Settings, SettingsError, env_name, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set (CI may export SCALE_SHARED_DATA etc.)."""
    for name in list(os.environ):
        if name.startswith("SCALE_") or name == "REDIS_URL":
            monkeypatch.delenv(name)


def test_defaults_are_the_documented_ones() -> None:
    s = load_settings()
    assert (s.host, s.port, s.redis_url, s.api_key, s.bundle_path) == ("127.0.0.1", 8000, None, None, None)
    assert (s.max_body_bytes, s.max_frames, s.max_sequences, s.max_classes) == (8 * 2**20, 600, 64, 1000)
    assert (s.max_text_chars, s.max_classes_per_request, s.top_k) == (300, 100, 5)
    assert (s.max_batch_size, s.max_wait_ms, s.queue_size, s.device) == (64, 5.0, 1024, "auto")
    assert s.redis_key_prefix == "scale" and s.demo_dir == Path.home() / ".cache/scale/demo-bundle"


def test_every_field_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "registry.md").read_text()
    missing = [env_name(f).split()[0] for f in Settings.model_fields if env_name(f).split()[0] not in doc]
    assert not missing


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCALE_PORT", "9001")
    monkeypatch.setenv("SCALE_MAX_WAIT_MS", "2.5")
    monkeypatch.setenv("SCALE_DEVICE", "CPU")
    monkeypatch.setenv("SCALE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("SCALE_BUNDLE_PATH", str(tmp_path))
    monkeypatch.setenv("SCALE_API_KEY", "s3cret-key-123")
    monkeypatch.setenv("SCALE_SHARED_DATA", "/elsewhere")  # unrelated SCALE_ variables are ignored
    s = load_settings()
    assert (s.port, s.max_wait_ms, s.device, s.log_level, s.bundle_path) == (9001, 2.5, "cpu", "warning", tmp_path)
    assert s.api_key is not None and s.api_key.get_secret_value() == "s3cret-key-123"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize("var", ["REDIS_URL", "SCALE_REDIS_URL"])
def test_redis_url_with_and_without_prefix(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "redis://cache:6379/2")
    assert load_settings().redis_url == "redis://cache:6379/2"


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("SCALE_BUNDLE_PATH", " ")
    s = load_settings()
    assert s.redis_url is None and s.bundle_path is None


@pytest.mark.parametrize("var,value,needle", [
    ("SCALE_PORT", "0", "SCALE_PORT"),
    ("SCALE_PORT", "70000", "SCALE_PORT"),
    ("SCALE_PORT", "eighty", "SCALE_PORT"),
    ("REDIS_URL", "http://cache:6379", "REDIS_URL"),
    ("SCALE_REDIS_TIMEOUT_S", "-1", "SCALE_REDIS_TIMEOUT_S"),
    ("SCALE_DEVICE", "tpu", "SCALE_DEVICE"),
    ("SCALE_LOG_LEVEL", "loud", "SCALE_LOG_LEVEL"),
    ("SCALE_MAX_WAIT_MS", "5000", "SCALE_MAX_WAIT_MS"),
    ("SCALE_MAX_BODY_BYTES", "10", "SCALE_MAX_BODY_BYTES"),
    ("SCALE_REDIS_KEY_PREFIX", "a b{c}", "SCALE_REDIS_KEY_PREFIX"),
    ("SCALE_QUEUE_SIZE", "0", "SCALE_QUEUE_SIZE"),
    ("SCALE_MAX_CLASSES", "10", "SCALE_MAX_CLASSES_PER_REQUEST=100 must not exceed SCALE_MAX_CLASSES=10"),
])
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                          needle: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert needle in str(info.value)


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_API_KEY", "short")
    monkeypatch.setenv("REDIS_URL", "http://:hunter2@cache")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert "SCALE_API_KEY" in text and "REDIS_URL" in text
    assert "short" not in text.replace("shorter", "") and "hunter2" not in text


def test_all_errors_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_PORT", "-5")
    monkeypatch.setenv("SCALE_TOP_K", "0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "SCALE_PORT" in str(info.value) and "SCALE_TOP_K" in str(info.value)


def test_keyword_overrides_and_make_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.registry.redis_registry import RedisRegistry

    assert isinstance(make_registry(load_settings()), MemoryRegistry)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert isinstance(make_registry(load_settings()), RedisRegistry)
    assert load_settings(redis_url=None).redis_url is None
