"""Shared fixtures: configs composed from the real configs/ directory, and an
isolated build cache per test session so tests never reuse a developer's cache."""

from __future__ import annotations

import os

import pytest

from transfertune.cli import load_config


@pytest.fixture(scope="session", autouse=True)
def _build_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["TRANSFERTUNE_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def config():
    """Compose a command's config with overrides: ``config("verify", "size=MINI")``."""
    return lambda command, *overrides: load_config(command, list(overrides))


REDUCED = bool(os.environ.get("TT_REDUCED"))
"""CI runs the slow checks on fewer kernels."""
