"""Where the database lives: one setting, resolved in one place.

Order of precedence: an explicit URL argument (e.g. a ``--db`` CLI flag), then the
``PERSONA_DB_URL`` environment variable, then a SQLite file ``<repo root>/var/persona.db``.
Any SQLAlchemy URL works (``sqlite:///...``, ``postgresql+psycopg://user@host/db``).
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "PERSONA_DB_URL"
REPO_ROOT = Path(__file__).resolve().parents[1]
VAR_DIR = REPO_ROOT / "var"  # this checkout's local state: the database file, saved artifacts
DEFAULT_SQLITE_PATH = VAR_DIR / "persona.db"


def get_database_url(url: str | None = None) -> str:
    """Return the database URL to use: ``url`` if given, else ``$PERSONA_DB_URL``, else the
    default SQLite file (its folder is created)."""
    if url:
        return str(url)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"
