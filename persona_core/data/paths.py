"""Where things live: repository root, shared data, artifacts and caches (each overridable by env;
a variable set empty counts as unset).

The one place that reads these settings; the database's own location is ``db.settings``.
"""
from __future__ import annotations

import os
from pathlib import Path

from db.settings import REPO_ROOT, VAR_DIR

__all__ = ["REPO_ROOT", "artifacts_dir", "cache_dir", "shared_dir", "worker_pythonpath"]


def shared_dir() -> Path:
    """The shared data folder beside the checkout (``PERSONA_SHARED_DIR`` overrides)."""
    return Path(os.environ.get("PERSONA_SHARED_DIR") or REPO_ROOT.parent / "shared")


def artifacts_dir() -> Path:
    """Saved persona spaces and checkpoints (``PERSONA_ARTIFACTS_DIR`` overrides), made if missing."""
    path = Path(os.environ.get("PERSONA_ARTIFACTS_DIR") or VAR_DIR / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Caches that outlive a checkout: parsed data, converted models (``PERSONA_CACHE_DIR``
    overrides ``~/.cache/persona_explorer``). Not created here: its users make the folders they write."""
    return Path(os.environ.get("PERSONA_CACHE_DIR") or "~/.cache/persona_explorer").expanduser()


def worker_pythonpath() -> str:
    """``PYTHONPATH`` for a worker process (a Ray task or actor): this repository, so that it
    imports this package, then the caller's own ``PYTHONPATH``."""
    return os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
