"""`first-run` (train -> eval -> starter pairs in the background) on a database with nothing built."""
from __future__ import annotations

import json

from db.session import dispose_engine
from persona_core.cli import main
from persona_core.service.first_run import start_first_run
from persona_core.service.jobs import list_jobs


def test_first_run_without_a_persona_space_starts_nothing_and_says_what_to_build(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    done = start_first_run(url)
    assert not done.started and done.space is None and done.job_ids == []
    assert done.reason == "no persona space found for any dataset: run `python -m persona_core build` first"
    assert main(["first-run", "--db", url, "--dataset", "gss-2016", "--json"]) == 0
    captured = capsys.readouterr()
    assert "nothing to start (no persona space found for dataset 'gss-2016': run `python -m persona_core build`" \
        in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["started"] is False
    assert list_jobs(url) == []
    dispose_engine(url)
