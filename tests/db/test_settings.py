from pathlib import Path

from db import settings
from db.settings import get_database_url


def test_explicit_url_wins_over_env(monkeypatch):
    monkeypatch.setenv("PERSONA_DB_URL", "sqlite:///from-env.db")
    assert get_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_env_wins_over_default(monkeypatch):
    monkeypatch.setenv("PERSONA_DB_URL", "sqlite:///from-env.db")
    assert get_database_url() == "sqlite:///from-env.db"
    assert get_database_url(None) == "sqlite:///from-env.db"


def test_default_is_sqlite_file_under_repo_var(monkeypatch, tmp_path):
    monkeypatch.delenv("PERSONA_DB_URL", raising=False)
    target = tmp_path / "var" / "persona.db"
    monkeypatch.setattr(settings, "DEFAULT_SQLITE_PATH", target)
    assert get_database_url() == f"sqlite:///{target}"
    assert target.parent.is_dir()  # the folder is created


def test_default_path_is_in_repo_root():
    repo = Path(__file__).resolve().parents[2]
    assert settings.DEFAULT_SQLITE_PATH == repo / "var" / "persona.db"
