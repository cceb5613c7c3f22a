"""``pairs generate`` with the real default model on the small app space: steered (by the run's
SPM checkpoint when one exists) vs unsteered per persona x question, and two personas
against each other (steered by text)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from db.session import dispose_engine, session_scope
from persona_core.cli import main
from persona_core.preferences import store
from tests.app.synthetic import build_app_space, train_tiny_spm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The app tests' small space (built once per process) with its tiny SPM, in a private
    copy of the database so stored pairs stay out of other tests' way."""
    built = build_app_space(tmp_path_factory.mktemp("app_space"))
    spm = train_tiny_spm(built)
    db = tmp_path_factory.mktemp("pairs") / "persona.db"
    with sqlite3.connect(built.root / "persona.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # the source is in WAL mode: copy through SQLite, not the file
    url = f"sqlite:///{db}"
    yield built, url, spm
    dispose_engine(url)


def test_cli_generates_steered_pairs_with_the_spm(space, monkeypatch, capsys):
    from persona_core.service.catalog import load_space_view

    built, url, spm = space
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(built.artifacts))
    label = load_space_view(url, built.run_id).cohorts[0]
    code = main(["pairs", "generate", "--personas", f"cohort:{label}", "--questions", "parks", "free:Is tea better than coffee?",
                 "--max-new-tokens", "6", "--temperature", "0", "--db", url, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["pairs"] == 2 and out["method"] == "spm" and out["spm_checkpoint"] == str(spm)
    with session_scope(url) as s:
        pairs = store.list_pairs(s, ids=out["pair_ids"])
    assert [p.source for p in pairs] == ["generate:steered"] * 2
    assert "How much should the city spend on parks?" in pairs[0].prompt and "Is tea better than coffee?" in pairs[1].prompt
    for p in pairs:
        assert p.response_a and p.response_b and p.run_id == built.run_id
        assert p.meta["steered_side"] == "b" and p.meta["method"] == "spm" and p.meta["spm_checkpoint"] == str(spm)
        assert p.meta["persona"]["kind"] == "cohort" and p.meta["persona"]["key"] == str(label)
    assert pairs[0].meta["question_id"] == "parks" and pairs[1].meta["question_id"] is None
    # the bank question's answers start with the option each side picked (answer first, the
    # default); the free-text question has no options to pick from
    survey = load_space_view(url, built.run_id).survey
    options = survey.questions[survey.question_index("parks")].options
    picked = pairs[0].meta["picked_options"]
    assert [r.startswith(f"{chr(65 + k)}. {options[k]}, because") for r, k in
            zip((pairs[0].response_a, pairs[0].response_b), picked)] == [True, True]
    assert "picked_options" not in pairs[1].meta

    assert main(["pairs", "generate", "--personas", "cohort:999", "--questions", "parks", "--db", url]) == 2
    assert "unknown persona 'cohort:999'" in capsys.readouterr().err
    assert main(["pairs", "generate", "--run", "999", "--personas", "cohort:0", "--questions", "parks", "--db", url]) == 2
    assert "no embedding run 999" in capsys.readouterr().err


def test_generate_without_a_persona_space_says_what_to_build(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["pairs", "generate", "--personas", "cohort:0", "--questions", "parks", "--db", url]) == 2
    assert "no persona space found for any dataset: run `python -m persona_core build` first" in capsys.readouterr().err
    dispose_engine(url)


def test_two_personas_against_each_other_with_the_spm(space, monkeypatch, capsys):
    from persona_core.llm import LLM, GenerationSettings
    from persona_core.service.catalog import load_space_view
    from persona_core.service.checkpoints import load_spm
    from persona_core.service.compare import Comparer
    from persona_core.service.pairs import resolve_persona

    built, url, spm_path = space
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(built.artifacts))
    view = load_space_view(url, built.run_id)
    a, b = view.cohorts[:2]
    # the run's SPM makes keys/values (suffix_kv, with adapters): each persona's answer is the
    # steered side of its own comparison, not input embeddings
    code = main(["pairs", "generate", "--mode", "personas", "--personas", f"cohort:{a}", f"cohort:{b}", "--questions", "parks",
                 "--max-new-tokens", "6", "--temperature", "0", "--db", url, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["pairs"] == 1 and out["method"] == "spm"
    with session_scope(url) as s:
        (pair,) = store.list_pairs(s, ids=out["pair_ids"])
    assert pair.source == "generate:personas" and pair.meta["steered_side"] is None
    llm = LLM.from_config()
    comparer = Comparer(llm, load_spm(spm_path, view.run_key, llm)[0], spm_path)
    question = view.survey.questions[view.survey.question_index("parks")]
    greedy = GenerationSettings(temperature=0.0, top_p=0.9, max_new_tokens=6, seed=0)
    expected = [comparer.compare(question, "spm", resolve_persona(view, f"cohort:{c}"), settings=greedy,
                                 answer_first=True) for c in (a, b)]
    assert [pair.response_a, pair.response_b] == [r.steered for r in expected]
    assert pair.meta["picked_options"] == [r.extra["picked_options"][1] for r in expected]


def test_two_personas_against_each_other(space):
    from persona_core.llm import LLM
    from persona_core.service.pairs import GenerateConfig, PairGenerator, resolve_persona, resolve_question
    from persona_core.service.catalog import load_space_view
    from persona_core.service.compare import Comparer

    built, url, _ = space
    view = load_space_view(url, built.run_id)
    a, b = view.cohorts[:2]
    generator = PairGenerator(Comparer(LLM.from_config()), view,
                              GenerateConfig(mode="personas", max_new_tokens=6, temperature=0.0))
    assert generator.method == "text"
    (pair,) = generator.generate([resolve_persona(view, str(a)), resolve_persona(view, f"cohort:{b}")],
                                 [resolve_question(view, "bus")])
    assert pair.response_a and pair.response_b and pair.meta["steered_side"] is None
    assert [p["key"] for p in pair.meta["personas"]] == [str(a), str(b)]
    assert pair.meta["question_id"] == "bus" and "Do you ride the bus" in pair.prompt
