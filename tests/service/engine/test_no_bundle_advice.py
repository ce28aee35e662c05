"""A configured but empty bundle folder (an unmounted volume) fails start-up with advice, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine.loading import StartupError, resolve_bundle_path
from service.settings import Settings

pytestmark = pytest.mark.unit


def test_empty_bundle_folder_names_the_setting_and_how_to_get_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(StartupError) as info:
        resolve_bundle_path(Settings(bundle_path=tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message and "SCALE_BUNDLE_PATH" in message
    assert "scale export" in message and "--profile demo" in message and "docs/deploy.md" in message


def test_a_folder_with_a_manifest_is_returned_unchanged(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert resolve_bundle_path(Settings(bundle_path=tmp_path)) == tmp_path
