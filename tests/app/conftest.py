"""A small built persona space (SQLite + artifacts in a temporary folder) and AppTest runners."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.session import dispose_engines
from tests.app.synthetic import BuiltSpace, build_app_space

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")


@pytest.fixture(scope="session")
def built_space(tmp_path_factory) -> BuiltSpace:
    space = build_app_space(tmp_path_factory.mktemp("app_space"))
    yield space
    dispose_engines()


@pytest.fixture
def app_env(built_space, monkeypatch) -> BuiltSpace:
    """Point the app at the built space (database URL and artifacts folder by environment)."""
    monkeypatch.setenv("PERSONA_DB_URL", built_space.url)
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(built_space.artifacts))
    monkeypatch.setenv("PERSONA_ALLOW_DB_URL_FIELD", "1")  # the tests below switch databases through it
    st.cache_data.clear()
    return built_space


@pytest.fixture
def app(app_env) -> AppTest:
    """The app, not yet run, against the built space, steering by text: the browser test trains an
    SPM into the same (session-wide) space, and these tests must not depend on test order."""
    from app_pages import common

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[common.SPM_PATH] = common.NO_SPM
    return at
