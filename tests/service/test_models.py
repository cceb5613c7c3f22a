"""The models and comparers the app's sessions share, and their background warm-up (on the real
embedded model; each test uses an embedding-run key of its own, so no test sees another's comparer)."""
from __future__ import annotations

import logging
import uuid

import pytest

from persona_core.service import models


@pytest.fixture
def warm_up_on(monkeypatch):
    monkeypatch.setenv(models.WARM_UP_ENV, "1")


def _run_key() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def test_the_warm_up_loads_the_comparer_once_in_the_background(warm_up_on):
    run_key = _run_key()
    assert not models.comparer_loaded(None, None, run_key)
    thread = models.warm_up(None, None, run_key)
    assert thread is not None and thread.daemon
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert models.comparer_loaded(None, None, run_key) and models.model_loaded(None)
    loaded = models.comparer(None, None, run_key)
    assert loaded is models.comparer(None, None, run_key), "loaded once, then shared"
    assert loaded.llm is models.language_model(None) and loaded.spm is None
    assert models.warm_up(None, None, run_key) is None, "nothing left to warm"
    # the default model named by its alias is the same model
    assert models.language_model(models.resolve_model_name(None)) is loaded.llm


def test_no_warm_up_when_it_is_turned_off(monkeypatch):
    monkeypatch.setenv(models.WARM_UP_ENV, "0")
    run_key = _run_key()
    assert models.warm_up(None, None, run_key) is None
    assert not models.comparer_loaded(None, None, run_key)


def test_a_failed_warm_up_is_logged_once_and_the_page_gets_the_error(warm_up_on, tmp_path, caplog):
    missing, run_key = str(tmp_path / "no-model-here"), _run_key()
    with caplog.at_level(logging.WARNING, logger=models.__name__):
        thread = models.warm_up(missing, None, run_key)
        thread.join(timeout=120)
    assert not thread.is_alive() and not models.comparer_loaded(missing, None, run_key)
    assert "warm-up of the language model" in caplog.text
    assert models.warm_up(missing, None, run_key) is None, "a failed warm-up is not retried on every rerun"
    with pytest.raises(Exception, match="no-model-here"):
        models.comparer(missing, None, run_key)
