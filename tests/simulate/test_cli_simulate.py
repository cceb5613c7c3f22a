"""python -m persona_core simulate: JSON summary, the run in the database, resuming, bad input."""
from __future__ import annotations

import json

import pytest

from persona_core.cli import main
from tests.test_cli import count


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_simulate_prints_json_stores_the_run_and_resumes(trained, capsys):
    url = trained.url
    ids = [q.id for q in trained.space.survey.questions[:4]]
    argv = ["simulate", "--tiny", "--db", url, "--json", "--questions", *ids, "--chunk-rows", "8",
            "--min-cohort-answers", "3"]
    assert main(argv) == 0
    out = _last_json(capsys)
    n_personas = len(trained.space.cohort_centroids) + 1
    assert out["rows"] == out["rows_scored"] == n_personas * 4 and out["engine"] == "local"
    assert {"seconds", "rows_per_second", "simulation_run", "alignment"} <= set(out)
    assert out["seconds_by_stage"]["load_model"] >= 0
    align = out["alignment"]
    assert set(align["per_question"]) <= set(ids) and 0 <= align["steered_better_share"] <= 1
    before = count(url, "simulation_row")
    assert before >= n_personas * 4

    assert main(argv) == 0  # the same arguments again: the finished run is found, nothing is scored
    again = _last_json(capsys)
    assert again["simulation_run"] == out["simulation_run"] and again["rows_scored"] == 0
    assert again["chunks_skipped"] == again["chunks"] and again["alignment"] == align
    assert count(url, "simulation_row") == before


@pytest.mark.slow
def test_simulate_new_questions_from_a_file(trained, capsys, tmp_path):
    f = tmp_path / "new.csv"
    f.write_text("question_id,text,options,ordinal\nnew1,Do you keep a garden?,Yes|No,false\n"
                 "new2,How often do you cook?,never|sometimes|often,true\n")
    assert main(["simulate", "--tiny", "--db", trained.url, "--json", "--questions", str(f), "--personas", "5"]) == 0
    out = _last_json(capsys)
    assert out["rows"] == 10 and out["questions"] == {"n": 2, "source": str(f), "new": 2}
    assert out["alignment"] is None  # no real answers to new questions


@pytest.mark.slow
def test_unknown_question_and_bad_file_are_clear_errors(trained, capsys, tmp_path):
    assert main(["simulate", "--tiny", "--db", trained.url, "--questions", "nope"]) == 2
    assert "unknown question id 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("question_id,text,options\nn1,Some text,only one\n")
    assert main(["simulate", "--tiny", "--db", trained.url, "--questions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "row 2" in err and "column 'options'" in err
    assert main(["simulate", "--tiny", "--db", trained.url, "--personas", "lots"]) == 2
    assert "personas" in capsys.readouterr().err
