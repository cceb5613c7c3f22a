"""Where things live: repository root, shared data, artifacts and caches (each overridable by env)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared data folder beside the checkout (``PERSONA_SHARED_DIR`` overrides)."""
    return Path(os.environ.get("PERSONA_SHARED_DIR", REPO_ROOT.parent / "shared"))


def var_dir() -> Path:
    """Local state of this checkout (database file, artifacts): ``<repo>/var``."""
    return Path(os.environ.get("PERSONA_VAR_DIR", REPO_ROOT / "var"))


def artifacts_dir() -> Path:
    """Saved persona spaces and checkpoints (``PERSONA_ARTIFACTS_DIR`` overrides)."""
    path = Path(os.environ.get("PERSONA_ARTIFACTS_DIR", var_dir() / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Caches that outlive a checkout: parsed data, converted models (``PERSONA_CACHE_DIR``)."""
    path = Path(os.environ.get("PERSONA_CACHE_DIR", Path.home() / ".cache" / "persona_explorer"))
    path.mkdir(parents=True, exist_ok=True)
    return path
