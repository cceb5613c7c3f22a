"""The language models and comparers that every session of one app process shares, each loaded
once, and a warm-up that loads them in the background before a page needs them.

A page asking for a model that the warm-up is still loading waits for that load rather than
starting a second one (:class:`~persona_core.memo.LockedLRU`). The language model takes about
6 s to import and load on a 2-core machine, so without the warm-up a user's first visit to
Compare (or Ask everyone) waits that long; with it, the load happens while they look at the map.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from persona_core.env import env_flag
from persona_core.llm_name import resolve_model_name
from persona_core.memo import LockedLRU

if TYPE_CHECKING:  # the language-model stack is imported only when a model is loaded
    from persona_core.llm import LLM
    from persona_core.service.compare import Comparer

WARM_UP_ENV = "PERSONA_WARM_UP"
WARM_UP_THREAD = "persona-warm-up"
MODELS_KEPT = 2
COMPARERS_KEPT = 4

_log = logging.getLogger(__name__)
_models: LockedLRU["LLM"] = LockedLRU(MODELS_KEPT)
_comparers: LockedLRU["Comparer"] = LockedLRU(COMPARERS_KEPT)
_warmed: set[tuple] = set()  # the keys a warm-up was started for
_warm_ups_lock = threading.Lock()


def _comparer_key(model: str | None, spm_path: str | Path | None, run_key: str) -> tuple:
    return resolve_model_name(model), None if spm_path is None else str(spm_path), run_key


def language_model(model: str | None = None) -> "LLM":
    """The language model ``model`` (``None``: ``PERSONA_MODEL`` or the embedded default),
    loaded once per process."""
    from persona_core.llm import LLM, LLMConfig

    key = resolve_model_name(model)
    return _models.get_or_compute(key, lambda: LLM.from_config(LLMConfig(model=key)))


def comparer(model: str | None, spm_path: str | Path | None, run_key: str) -> "Comparer":
    """The comparer over ``model`` steered by the SPM checkpoint at ``spm_path`` (``None``: text
    steering only), which must belong to the embedding run ``run_key``; loaded once per process."""
    from persona_core.service.checkpoints import load_spm
    from persona_core.service.compare import Comparer

    def load() -> Comparer:
        llm = language_model(model)
        spm = load_spm(spm_path, run_key, llm)[0] if spm_path else None
        return Comparer(llm, spm=spm, spm_path=spm_path)

    return _comparers.get_or_compute(_comparer_key(model, spm_path, run_key), load)


def model_loaded(model: str | None = None) -> bool:
    return _models.get(resolve_model_name(model)) is not None


def comparer_loaded(model: str | None, spm_path: str | Path | None, run_key: str) -> bool:
    return _comparers.get(_comparer_key(model, spm_path, run_key)) is not None


def warm_up_enabled() -> bool:
    """On unless ``PERSONA_WARM_UP`` turns it off (:func:`persona_core.env.env_flag`; the tests do,
    so that no test loads a model it does not use)."""
    return env_flag(WARM_UP_ENV, default=True)


def warm_up(model: str | None, spm_path: str | Path | None, run_key: str) -> threading.Thread | None:
    """Load :func:`comparer`'s comparer in a background thread, once per process and key. Returns
    the thread, or ``None`` when it is loaded already, was tried before, or warm-up is off. A
    failed load is logged; the page that needs the model then loads it and shows the error."""
    key = _comparer_key(model, spm_path, run_key)
    if not warm_up_enabled() or _comparers.get(key) is not None:
        return None
    with _warm_ups_lock:
        if key in _warmed:
            return None
        _warmed.add(key)

        def load() -> None:
            try:
                comparer(model, spm_path, run_key)
            except Exception:  # noqa: BLE001 - a background load must not die loudly; the page reports it
                _log.warning("warm-up of the language model %s failed", key, exc_info=True)

        thread = threading.Thread(target=load, name=WARM_UP_THREAD, daemon=True)
    thread.start()
    return thread


def clear() -> None:
    """Forget every loaded model and comparer (and which warm-ups ran)."""
    _models.clear()
    _comparers.clear()
    with _warm_ups_lock:
        _warmed.clear()
