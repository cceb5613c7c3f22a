"""Pairs in a migrated database (SQLite and PostgreSQL through ``db_url``)."""
from __future__ import annotations

import pytest

from db.session import session_scope
from persona_core.preferences import store


def add_pairs(url: str, n: int, *, steered: bool = True, persona: str = "Cohort 1") -> list[int]:
    """``n`` pairs; with ``steered`` the Compare page's convention (response_b steered)."""
    ids = []
    with session_scope(url, write_lock=True) as s:
        for i in range(n):
            meta = {"steered_side": "b", "persona": {"kind": "cohort", "key": "1", "title": persona},
                    "model": "smollm2-135m-instruct", "spm_checkpoint": "/ckpt/spm-1", "method": "spm"} if steered else {}
            ids.append(store.add_pair(s, prompt=f"Question {i}?", response_a=f"plain answer {i}",
                                      response_b=f"steered answer {i}", source="test", meta=meta))
    return ids


@pytest.fixture
def pairs(db_url):
    """(url, five pair ids)."""
    return db_url, add_pairs(db_url, 5)
