"""Cohort names through the service: written once per (space, model, prompt), then read from the
database without the model; the headless command does the same."""
from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import delete

from db.models import CohortName
from db.session import session_scope
from persona_core.cli import main
from persona_core.naming import CohortNamingConfig
from persona_core.service import cohort_names


def _no_model():
    raise AssertionError("the model was loaded though every name is cached")


def test_names_are_written_once_then_read_without_the_model(built_space, no_cohort_names, view, llm):
    url = built_space.url
    assert cohort_names.stored(url, view.run_id) == {}
    loads: list[int] = []
    first = cohort_names.ensure(url, view, lambda: loads.append(1) or llm)  # a loader, called once
    assert sorted(first) == view.cohorts and loads == [1]
    assert cohort_names.stored(url, view.run_id) == first
    assert cohort_names.ensure(url, view, _no_model) == first  # all cached: the model is not loaded
    assert cohort_names.ensure(url, view, lambda: loads.append(1) or llm) == first and loads == [1]  # nor loaded
    assert cohort_names.stored(url, view.run_id, model="another-model") == {}
    assert cohort_names.stored(url, view.run_id, config=CohortNamingConfig(evidence_items=5)) == {}


def test_only_the_cohorts_without_a_name_are_written(built_space, no_cohort_names, view, llm):
    url = built_space.url
    everything = cohort_names.ensure(url, view, lambda: llm)
    with session_scope(url) as s:  # forget one cohort's name
        s.execute(delete(CohortName).where(CohortName.id == s.query(CohortName.id).order_by(CohortName.id).limit(1).scalar_subquery()))
    calls: list[tuple[int, int]] = []
    again = cohort_names.ensure(url, view, lambda: llm, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)]
    assert again == everything


def test_cohorts_without_distinctive_answers_are_stored_without_loading_the_model(built_space, no_cohort_names, view):
    from dataclasses import replace

    bare = replace(view, profiles={label: {**view.profiles[label], "distinctive_questions": []} for label in view.cohorts})
    names = cohort_names.ensure(built_space.url, bare, _no_model)
    assert sorted(names) == view.cohorts
    assert all(r.name is None and r.reason == "the cohort has no distinctive answers" for r in names.values())
    assert cohort_names.stored(built_space.url, view.run_id) == names


def test_the_command_names_the_cohorts_and_then_reads_them_from_the_cache(built_space, no_cohort_names, capsys):
    args = ["name-cohorts", "--db", built_space.url, "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["embedding_run"] == built_space.run_id and first["written"] == first["cohorts"] >= 2
    assert first["named"] == sum(v["name"] is not None for v in first["names"].values())
    assert all(len(v["evidence"]) == 3 for v in first["names"].values())
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["written"] == 0 and second["names"] == first["names"]
    assert main(["name-cohorts", "--db", built_space.url, "--run", "999"]) == 2
    assert "no embedding run 999" in capsys.readouterr().err


def test_the_cache_key_of_the_model_needs_no_language_model_stack():
    """The Cohorts page reads the names' cache on every run: naming the model must not import
    torch and transformers (2.35 s on a page's first run)."""
    code = ("import os, sys\n"
            "os.environ.pop('PERSONA_MODEL', None)\n"
            "from persona_core.service import cohort_names\n"
            "print(cohort_names.model_key(None), cohort_names.model_key('/models/x'), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["smollm2-135m-instruct", "/models/x", "False"], out.stderr
