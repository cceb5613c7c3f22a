"""20 threads submit 500 votes in all (each also retries some submissions with the same token,
as a rerunning page or a double click would): none is lost, none is duplicated."""
from __future__ import annotations

import random

from sqlalchemy import func, select

from db.models import Annotation
from db.session import session_scope
from persona_core.preferences import store
from tests.concurrent import run_in_threads
from tests.preferences.conftest import add_pairs

THREADS, PAIRS = 20, 25  # 20 annotators x 25 pairs = 500 votes


def test_parallel_votes_lose_and_duplicate_none(db_url):
    ids = add_pairs(db_url, PAIRS)
    created = [0] * THREADS

    def worker(t: int) -> None:
        rng = random.Random(t)
        for pid in rng.sample(ids, len(ids)):
            token = f"w{t}-p{pid}"
            for _ in range(2 if rng.random() < 0.3 else 1):  # some submissions sent twice
                r = store.submit_vote(db_url, pair_id=pid, annotator=f"annotator-{t}", choice=rng.choice("ab"),
                                      displayed_order=rng.choice(["ab", "ba"]), token=token)
                created[t] += r.created

    errors = run_in_threads(worker, THREADS)
    assert not errors, errors[:3]
    assert sum(created) == THREADS * PAIRS
    with session_scope(db_url) as s:
        total = s.execute(select(func.count()).select_from(Annotation)).scalar_one()
        keys = s.execute(select(Annotation.pair_id, Annotation.annotator, Annotation.status)).all()
    assert total == THREADS * PAIRS
    assert {(p, a) for p, a, _ in keys} == {(p, f"annotator-{t}") for p in ids for t in range(THREADS)}
    assert all(status == "current" for *_, status in keys)
