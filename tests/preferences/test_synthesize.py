"""SynthesizeMe: the 50/20/30 split, the accuracy rule (both orders, ties wrong), and the whole
induction end to end with the real default model (no stubs) on a small set of pairs."""
from __future__ import annotations

import numpy as np
import pytest

from db.session import session_scope
from persona_core.preferences import store
from persona_core.preferences.judge import Example, Judge, JudgeConfig, debiased_correct, pairwise_accuracy
from persona_core.preferences.personas import induce, induced_persona_text, latest_induced_persona
from persona_core.preferences.synthesize import SynthesizeMeConfig, split_examples


def _examples(n):
    return [Example(i, f"q{i}", f"c{i}", f"r{i}") for i in range(n)]


@pytest.mark.parametrize("n,sizes", [(3, (1, 1, 1)), (5, (2, 1, 2)), (10, (5, 2, 3)), (20, (10, 4, 6))])
def test_split_is_50_20_30_and_disjoint(n, sizes):
    ctx, val, test = split_examples(_examples(n), seed=1)
    assert (len(ctx), len(val), len(test)) == sizes
    ids = [e.pair_id for e in ctx + val + test]
    assert sorted(ids) == list(range(n))
    assert split_examples(_examples(n), seed=1) == (ctx, val, test)
    with pytest.raises(ValueError, match="at least 3"):
        split_examples(_examples(2))


def test_accuracy_counts_both_orders_and_ties_wrong():
    first = np.array([0.9, 0.5, 0.2])  # P(chosen) when shown first
    second = np.array([0.6, 0.7, 0.4])  # ... when shown second
    assert pairwise_accuracy(first, second) == pytest.approx(3 / 6)  # 0.5 is a tie: wrong
    assert debiased_correct(first, second).tolist() == [True, True, False]
    always_a = np.array([0.8, 0.8]), np.array([0.2, 0.2])  # pure position bias
    assert pairwise_accuracy(*always_a) == 0.5


@pytest.fixture(scope="module")
def llm():
    from persona_core.llm import LLM

    return LLM.from_config()


HEALTHY = [
    ("What should I eat for breakfast?", "Oatmeal with berries.", "Bacon and fried eggs."),
    ("How should I get to work?", "By bicycle.", "By car."),
    ("What is a good weekend plan?", "A hike in the forest.", "Watching TV all day."),
    ("What drink do you recommend?", "Green tea.", "A large soda."),
    ("What should I cook tonight?", "A vegetable stir-fry.", "Frozen pizza."),
    ("How do I relax after work?", "Go for a run.", "Play video games."),
]


@pytest.fixture
def sqlite_url(tmp_path):
    """Induction does nothing backend-specific: SQLite only, to keep CI time down."""
    from db.session import dispose_engine, upgrade_database

    url = upgrade_database(f"sqlite:///{tmp_path / 'pairs.db'}")
    yield url
    dispose_engine(url)


@pytest.mark.slow
def test_induction_end_to_end_with_the_default_model(sqlite_url, llm):
    db_url = sqlite_url
    with session_scope(db_url, write_lock=True) as s:
        for i, (prompt, healthy, other) in enumerate(HEALTHY):
            a, b = (healthy, other) if i % 2 else (other, healthy)
            pid = store.add_pair(s, prompt=prompt, response_a=a, response_b=b, source="test")
            store.submit(s, pair_id=pid, annotator="ana", choice="a" if i % 2 else "b", displayed_order="ab",
                         token=store.new_token())
        tie = store.add_pair(s, prompt="Tea or coffee?", response_a="Tea.", response_b="Coffee.", source="test")
        store.submit(s, pair_id=tie, annotator="ana", choice="tie", displayed_order="ba", token=store.new_token())
    config = SynthesizeMeConfig(reasoning_tokens=24, persona_tokens=32, max_demos=1, n_demo_sets=1,
                                judge=JudgeConfig(max_chars=120))
    result = induce(db_url, "ana", llm, config, model_name="default")

    assert result.pairs == 6  # the tie carries no preference
    assert result.split == {"context": 3, "validation": 1, "test": 2}
    assert result.persona.strip() and result.persona_source in ("reasoning", "choices")
    assert 0 <= result.kept_reasoning <= 3
    assert result.demo_search[0]["demo_pairs"] == [] and len(result.demo_search) <= 2
    m = result.metrics
    for judge in ("synthesizeme", "default_judge"):
        acc = m[judge]["accuracy"]
        assert acc in {0.0, 0.25, 0.5, 0.75, 1.0}  # 2 test pairs x 2 orders
        assert m[judge]["ci95"][0] <= acc <= m[judge]["ci95"][1]
    assert m["random"] == 0.5 and m["test_pairs"] == 2
    with session_scope(db_url) as s:
        stored = latest_induced_persona(s, "ana")
    assert stored.id == result.persona_id and stored.text == result.persona
    assert stored.metrics["split"] == [3, 1, 2] and stored.model_name == "default"
    assert induced_persona_text(db_url, "ana") == result.persona and induced_persona_text(db_url, "bo") is None

    # the judge gives real probabilities in both presentation orders
    judge = Judge(llm, persona=result.persona, config=config.judge)
    p_first, p_second = judge.both_orders([Example(0, "Is tea good?", "Yes.", "No.")])
    assert 0 < p_first[0] < 1 and 0 < p_second[0] < 1
