"""The small built persona space of the app tests, loaded as a SpaceView, and the default LLM."""
from __future__ import annotations

import pytest

from persona_core.llm import LLM
from persona_core.service.catalog import SpaceView, load_space_view
from tests.app.synthetic import BuiltSpace, build_app_space


@pytest.fixture(scope="session")
def built_space(tmp_path_factory) -> BuiltSpace:
    return build_app_space(tmp_path_factory.mktemp("app_space"))


@pytest.fixture(scope="session")
def view(built_space) -> SpaceView:
    return load_space_view(built_space.url, built_space.run_id)


@pytest.fixture(scope="session")
def llm() -> LLM:
    return LLM.from_config()
