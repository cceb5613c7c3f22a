"""Import is all or nothing with bad lines named; DPO and CSV exports match the votes."""
from __future__ import annotations

import csv
import io
import json

import pytest

from db.session import session_scope
from persona_core.data.errors import DataError
from persona_core.preferences import store
from persona_core.preferences.io import csv_rows, dpo_records, import_pairs, write_csv


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"prompt": "Best pet?", "response_a": "Cats.", "response_b": "Dogs.", "conversation_id": "c1"})


def test_import_rejects_bad_lines_and_stores_nothing(db_url, tmp_path):
    path = _write(tmp_path / "pairs.jsonl", [
        GOOD,
        '{"prompt": "x", "response_a": "y"',  # 2: broken JSON
        json.dumps({"prompt": "Q", "response_a": "A"}),  # 3: missing response_b
        "",
        json.dumps({"prompt": "Q", "response_a": "A", "response_b": "B", "winner": "model_c", "judge": "j"}),  # 5
        json.dumps(["not", "an", "object"]),  # 6
        GOOD,
    ])
    with pytest.raises(DataError) as err:
        import_pairs(db_url, path)
    msg = str(err.value)
    assert "4 bad line(s), nothing was imported" in msg
    for line, problem in [(2, "not valid JSON"), (3, "'response_b' is missing"), (5, "unknown choice 'model_c'"),
                          (6, "expected a JSON object")]:
        assert f"line {line}: {problem}" in msg
    assert "line 1:" not in msg and "line 7:" not in msg and err.value.row == 2
    with session_scope(db_url) as s:
        assert store.count_pairs(s) == 0


def test_import_pairs_with_arena_style_votes(db_url, tmp_path):
    path = _write(tmp_path / "arena.jsonl", [
        GOOD,
        json.dumps({"prompt": "2+2?", "response_a": "4", "response_b": "5", "winner": "model_a", "judge": "arena_1",
                    "model_a": "m1", "model_b": "m2"}),
        json.dumps({"prompt": "Hi", "response_a": "Hello", "response_b": "Yo", "choice": "tie (bothbad)",
                    "annotator": "prism_7", "rationale": "both rude"}),
    ])
    result = import_pairs(db_url, path, source="arena")
    assert (result.pairs, result.votes) == (3, 2)
    with session_scope(db_url) as s:
        pairs = store.list_pairs(s, source="arena")
        votes = store.list_votes(s)
    assert [p.prompt for p in pairs] == ["Best pet?", "2+2?", "Hi"]
    assert pairs[0].meta["conversation_id"] == "c1" and pairs[0].meta["import"] == {"file": "arena.jsonl", "line": 1}
    assert pairs[1].meta["model_a"] == "m1" and "winner" not in pairs[1].meta
    assert [(v.annotator, v.choice) for v in votes] == [("arena_1", "a"), ("prism_7", "both_bad")]
    assert votes[1].rationale == "both rude" and votes[1].facts["imported"] is True


def test_dpo_export_matches_votes_and_counts_left_out(pairs):
    url, ids = pairs
    plan = [(ids[0], "ana", "a"), (ids[1], "ana", "b"), (ids[2], "ana", "tie"), (ids[3], "ana", "both_bad"),
            (ids[0], "bo", "b"), (ids[4], "bo", "a")]
    for pid, who, choice in plan:
        store.submit_vote(url, pair_id=pid, annotator=who, choice=choice, displayed_order="ba", token=store.new_token())
    store.submit_vote(url, pair_id=ids[4], annotator="bo", choice="b", displayed_order="ab", token=store.new_token())
    with session_scope(url) as s:
        export = dpo_records(s)
        only_ana = dpo_records(s, annotator="ana")
        pairs_by_id = {p.id: p for p in store.list_pairs(s)}
    expected = []
    for pid, who, choice in [p for p in plan if p[2] in ("a", "b") and p[:2] != (ids[4], "bo")] + [(ids[4], "bo", "b")]:
        p = pairs_by_id[pid]
        chosen, rejected = (p.response_a, p.response_b) if choice == "a" else (p.response_b, p.response_a)
        expected.append({"prompt": p.prompt, "chosen": chosen, "rejected": rejected})
    assert export.records == expected
    assert export.counts == {"written": 4, "left_out_ties": 1, "left_out_both_bad": 1}
    assert only_ana.counts == {"written": 2, "left_out_ties": 1, "left_out_both_bad": 1}
    assert all(set(r) == {"prompt", "chosen", "rejected"} for r in export.records)


def test_csv_has_every_annotation_with_hidden_facts(pairs):
    url, ids = pairs
    store.submit_vote(url, pair_id=ids[0], annotator="ana", choice="b", displayed_order="ba", token="t1",
                      rationale='says "hi", then, stops', seconds=3.25)
    store.submit_vote(url, pair_id=ids[0], annotator="ana", choice="a", displayed_order="ab", token="t2")
    with session_scope(url) as s:
        rows = csv_rows(s)
    buf = io.StringIO()
    write_csv(rows, buf)
    back = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [(r["status"], r["choice"], r["shown_choice"]) for r in back] == [("replaced", "b", "left"), ("current", "a", "left")]
    assert back[0]["rationale"] == 'says "hi", then, stops' and back[0]["seconds"] == "3.25"
    assert back[0]["steered_side"] == "b" and back[0]["steered_shown"] == "left" and back[1]["steered_shown"] == "right"
    assert back[0]["persona"] == "Cohort 1" and back[0]["checkpoint"] == "/ckpt/spm-1"
    assert back[1]["replaces_id"] == back[0]["annotation_id"]
