"""persona_core.env: on/off switches from the environment."""
from __future__ import annotations

import pytest

from persona_core.env import env_flag


@pytest.mark.parametrize("raw, expected", [("1", True), (" TRUE ", True), ("yes", True), ("On", True),
                                           ("0", False), ("false", False), ("NO", False), ("off", False)])
def test_env_flag_reads_on_and_off_words(monkeypatch, raw, expected):
    monkeypatch.setenv("PERSONA_TEST_FLAG", raw)
    assert env_flag("PERSONA_TEST_FLAG", default=not expected) is expected


def test_env_flag_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.delenv("PERSONA_TEST_FLAG", raising=False)
    assert env_flag("PERSONA_TEST_FLAG", default=True) is True
    monkeypatch.setenv("PERSONA_TEST_FLAG", "  ")
    assert env_flag("PERSONA_TEST_FLAG", default=False) is False


def test_env_flag_names_the_variable_of_a_value_it_cannot_read(monkeypatch):
    monkeypatch.setenv("PERSONA_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match=r"PERSONA_TEST_FLAG='maybe'.*expected one of 1, true, yes, on"):
        env_flag("PERSONA_TEST_FLAG", default=True)
