"""Fixtures of the untrimmed tests: an app with every test label registered, and the real PKU-MMD sample."""

from __future__ import annotations

import pytest

from model.pkummd import read_pkummd_skeleton
from tests.service.svc_support import LABELS, register, running_app


@pytest.fixture(scope="module")
def client():
    """A started app with LABELS registered (one per test module)."""
    with running_app() as c:
        register(c, list(LABELS))
        yield c


@pytest.fixture(scope="session")
def pkummd_sample(shared_data):
    """(path, (2,1040,25,3) joints) of the real PKU-MMD sample A10N08-L."""
    path = shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt"
    return path, read_pkummd_skeleton(path)
