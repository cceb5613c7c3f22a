from __future__ import annotations

from persona_core.pipeline import PIPELINE_STAGES, build_and_store
from persona_core.space import PersonaSpace
from tests.app.synthetic import app_survey, fast_config


def test_build_and_store_records_the_run_and_saves_the_space(tmp_path):
    from db.session import dispose_engine, session_scope
    from db.store import latest_embedding_run

    url = f"sqlite:///{tmp_path / 'p.db'}"
    stages = []
    result = build_and_store(app_survey(n_respondents=80, seed=5), db_url=url, config=fast_config(),
                             on_stage=stages.append, artifact_dir=tmp_path / "space", seconds={"load": 0.5})
    assert tuple(stages) == PIPELINE_STAGES
    with session_scope(url) as s:
        run = latest_embedding_run(s, "app-test")
    dispose_engine(url)
    assert run.id == result.run_id and run.params["run_key"] == result.space.run_key
    assert run.artifact_path == str(tmp_path / "space") and set(run.seconds) >= {"load", "store", "embed"}
    assert "save" in result.seconds
    assert [c["label"] for c in run.cohorts] == sorted(result.space.profiles)
    loaded = PersonaSpace.load(result.artifact_dir)
    assert loaded.run_key == result.space.run_key and loaded.survey.n_respondents == 80
