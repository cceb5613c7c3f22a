from __future__ import annotations

import pytest

from persona_core.service.annotation import store_comparison
from persona_core.service.compare import ComparisonResult


def test_a_comparison_is_stored_as_a_pair_with_its_hidden_facts(tmp_path):
    from db.session import dispose_engine, session_scope
    from db.store import list_preference_pairs

    url = f"sqlite:///{tmp_path / 'pairs.db'}"
    result = ComparisonResult(prompt="Question: Why?", unsteered="Because.", steered="Because I say so.", method="text",
                              persona_kind="cohort", persona_key="2", persona_title="Cohort 2", question_id=None,
                              settings={"temperature": 0.7, "seed": 3}, extra={"description": "We are..."})
    first = store_comparison(url, None, result, model=None)
    second = store_comparison(url, None, result, model="/models/x")
    assert second == first + 1
    with session_scope(url) as s:
        pairs = list_preference_pairs(s)
    dispose_engine(url)
    assert [(p.prompt, p.response_a, p.response_b, p.source) for p in pairs] == [
        ("Question: Why?", "Because.", "Because I say so.", "compare")] * 2
    meta = pairs[0].meta
    assert meta["steered_side"] == "b" and meta["persona"] == {"kind": "cohort", "key": "2", "title": "Cohort 2"}
    assert meta["model"] == "smollm2-135m-instruct" and pairs[1].meta["model"] == "/models/x"
    assert meta["description"] == "We are..." and meta["settings"]["seed"] == 3


def test_the_queue_as_the_annotate_page_reads_it(tmp_path):
    from db.session import dispose_engine
    from db.store import NotFoundError
    from persona_core.preferences import store
    from persona_core.service.annotation import annotator_progress, load_pair, prepare_database

    url = prepare_database(f"sqlite:///{tmp_path / 'queue.db'}")
    assert prepare_database(url) == url  # idempotent
    result = ComparisonResult(prompt="Q?", unsteered="no", steered="yes", method="text", persona_kind="cohort",
                              persona_key="1", persona_title="Cohort 1", question_id=None, settings={})
    ids = [store_comparison(url, None, result) for _ in range(2)]
    store.submit_vote(url, pair_id=ids[0], annotator="ana", choice="a", displayed_order="ab", token="t1")
    progress = annotator_progress(url, "ana")
    assert (progress.done, progress.total, progress.pending) == (1, 2, [ids[1]])
    pair = load_pair(url, ids[1])
    assert (pair.prompt, pair.response_a, pair.response_b) == ("Q?", "no", "yes")
    with pytest.raises(NotFoundError):
        load_pair(url, 999)
    dispose_engine(url)
