"""Where things live: each location's default, and the variable that moves it."""
from __future__ import annotations

import os
from pathlib import Path

from db import settings
from persona_core.data import paths

REPO = Path(__file__).resolve().parents[2]


def test_repository_root_and_var_folder_are_the_databases(monkeypatch):
    assert paths.REPO_ROOT == REPO == settings.REPO_ROOT
    monkeypatch.delenv("PERSONA_ARTIFACTS_DIR", raising=False)
    assert paths.artifacts_dir() == REPO / "var" / "artifacts"
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", "")  # set empty: as unset, not the working directory
    assert paths.artifacts_dir() == REPO / "var" / "artifacts"
    assert settings.DEFAULT_SQLITE_PATH.parent == REPO / "var"


def test_artifacts_dir_from_environment_is_made(monkeypatch, tmp_path):
    target = tmp_path / "a" / "b"
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(target))
    assert paths.artifacts_dir() == target and target.is_dir()


def test_shared_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PERSONA_SHARED_DIR", raising=False)
    assert paths.shared_dir() == REPO.parent / "shared"
    monkeypatch.setenv("PERSONA_SHARED_DIR", str(tmp_path))
    assert paths.shared_dir() == tmp_path
    monkeypatch.setenv("PERSONA_SHARED_DIR", "")  # set empty: as unset, not the working directory
    assert paths.shared_dir() == REPO.parent / "shared"


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONA_CACHE_DIR", str(tmp_path / "c"))
    assert paths.cache_dir() == tmp_path / "c"
    assert not (tmp_path / "c").exists()  # its users make the folders they write
    monkeypatch.setenv("PERSONA_CACHE_DIR", "")
    assert paths.cache_dir() == Path.home() / ".cache" / "persona_explorer"
    monkeypatch.delenv("PERSONA_CACHE_DIR")
    assert paths.cache_dir() == Path.home() / ".cache" / "persona_explorer"


def test_worker_pythonpath_puts_this_repository_first(monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert paths.worker_pythonpath() == str(REPO)
    monkeypatch.setenv("PYTHONPATH", "/x")
    assert paths.worker_pythonpath().split(os.pathsep) == [str(REPO), "/x"]
