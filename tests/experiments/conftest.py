"""Shared output folders for the experiment and notebook tests (notebooks read them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """results/ and figures/ in a temporary folder, announced through the environment."""
    root = tmp_path_factory.mktemp("experiments")
    saved = {k: os.environ.get(k) for k in ("CAPSIM_RESULTS", "CAPSIM_FIGURES")}
    os.environ["CAPSIM_RESULTS"] = str(root / "results")
    os.environ["CAPSIM_FIGURES"] = str(root / "figures")
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
