"""The headless pipeline: python -m persona_core build, on a CSV survey, into a fresh database."""
import json

import pytest
from sqlalchemy import create_engine, text

from persona_core.cli import main
from tests.synthetic import planted_survey

SMALL_CONFIG = {
    "factorization": {"n_factors": 4, "epochs": 20, "batch_size": 64, "learning_rate": 0.05, "respondent_l2": 3.0, "option_l2": 3.0},
    "cohorts": {"min_cluster_size": 15},
}


def write_csv_survey(folder, n_respondents=200):
    survey, _ = planted_survey(n_respondents=n_respondents, n_questions=25, seed=5)
    folder.mkdir()
    long = survey.to_long_frame()
    long.to_csv(folder / "answers.csv", index=False)
    rows = [{"question_id": q.id, "text": q.text, "options": json.dumps(list(q.options)), "ordinal": q.ordinal} for q in survey.questions]
    import pandas as pd

    pd.DataFrame(rows).to_csv(folder / "questions.csv", index=False)
    survey.attributes.reset_index().to_csv(folder / "respondents.csv", index=False)
    return survey


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    config = tmp_path / "small.json"
    config.write_text(json.dumps(SMALL_CONFIG))
    return tmp_path, f"sqlite:///{tmp_path / 'p.db'}", str(config)


def count(url, table):
    with create_engine(url).connect() as c:
        return c.execute(text(f"select count(*) from {table}")).scalar()


def test_build_csv_prints_json_and_stores_everything(env, capsys):
    tmp, url, config = env
    survey = write_csv_survey(tmp / "survey")
    argv = ["build", "--dataset", "csv", "--path", str(tmp / "survey"), "--db", url, "--config", config, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("respondents", "questions", "answers", "heldout_accuracy", "majority_accuracy", "bias_only_accuracy", "cohorts", "outlier_share", "shown_outlier_share", "seconds"):
        assert key in out
    assert 0.0 <= out["shown_outlier_share"] <= out["outlier_share"]  # the map's grey: at most HDBSCAN's outliers
    assert {"load", "embed", "project", "cluster", "profile"} <= set(out["seconds"])
    assert out["respondents"] == 200 and out["answers"] == survey.n_answers
    assert out["heldout_accuracy"] > out["majority_accuracy"]
    assert count(url, "dataset") == 1 and count(url, "answer") == survey.n_answers
    assert count(url, "respondent_embedding") == 200

    # same data again: no second dataset; --if-missing: no second run either
    assert main(argv) == 0
    assert count(url, "dataset") == 1 and count(url, "embedding_run") == 2
    capsys.readouterr()
    assert main(argv[:-1] + ["--if-missing", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["built"] is False
    assert count(url, "embedding_run") == 2


def test_bad_answer_is_reported_and_nothing_is_stored(env, capsys):
    tmp, url, config = env
    write_csv_survey(tmp / "survey", n_respondents=50)
    answers = (tmp / "survey" / "answers.csv").read_text().splitlines()
    rid, qid, _ = answers[30].split(",")
    answers[30] = f"{rid},{qid},not an option"
    (tmp / "survey" / "answers.csv").write_text("\n".join(answers) + "\n")
    code = main(["build", "--dataset", "csv", "--path", str(tmp / "survey"), "--db", url, "--config", config])
    err = capsys.readouterr().err
    assert code == 2
    assert "answers.csv" in err and "row 31" in err and "answer" in err
    from db.session import upgrade_database

    upgrade_database(url)
    assert count(url, "dataset") == 0


def test_missing_path_for_csv_is_a_clear_error(env):
    _, url, _ = env
    with pytest.raises(SystemExit, match="needs --path"):
        main(["build", "--dataset", "csv", "--db", url])


def test_build_opinionqa_layout(env, capsys):
    tmp, url, config = env
    from pathlib import Path

    fixture = Path(__file__).parent / "data" / "fixtures" / "opinionqa"
    assert main(["build", "--dataset", "opinionqa", "--path", str(fixture), "--wave", "W99", "--db", url, "--config", config, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    from persona_core.data.loaders import load_survey

    n = load_survey("opinionqa", path=fixture, wave="W99").n_respondents
    assert out["respondents"] == n and out["dataset"].startswith("opinionqa")
    assert count(url, "respondent_embedding") == n
