"""A ``build`` killed with SIGKILL in any stage leaves no half-stored run, and the next build works.

Each case runs ``build`` on a small CSV survey into a fresh SQLite database and artifacts folder
in a child process with one library function wrapped to SIGKILL the process at that point (see
:mod:`tests.build_killer`; the children are forked from one server process that has imported the
library and compiled UMAP's numba code, so a build takes about a second instead of ~20 s), waits
for it to exit, and checks:

* it died of SIGKILL at that point (not of something else);
* the database is intact (``PRAGMA integrity_check``) and holds no embedding run, no respondent
  vectors and no cohorts; the survey is either absent (killed before its transaction committed)
  or complete;
* the artifacts folder holds nothing, or only folders marked incomplete: a staging folder
  (``<run>.tmp-...``) or, killed between moving the folder into place and committing, the run's
  folder still holding its ``staging.json`` marker (no run points at it);
* the next ``build --if-missing`` does build (the killed run is not taken for an existing one),
  stores exactly one run whose folder loads, and removes the killed build's staging folder.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from persona_core.space import STAGING_FILE, STAGING_INFIX, PersonaSpace
from tests.build_killer import POINTS
from tests.synthetic import planted_survey

pytestmark = pytest.mark.slow  # ~20-35 s to start the server (import, compile), then ~1.5 s per kill point

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "factorization": {"n_factors": 4, "epochs": 10, "batch_size": 64, "progress": False},
    "projection": {"n_neighbors": 10},
    "cohorts": {"min_cluster_size": 10},
    "profile": {"min_answers": 5},
}
BEFORE_SURVEY_COMMIT = ("load", "store", "store:uncommitted")
TABLES = ("dataset", "question", "option", "respondent", "answer", "embedding_run", "respondent_embedding", "cohort")


def write_survey(folder: Path, n_respondents: int, seed: int):
    survey, _ = planted_survey(n_respondents=n_respondents, n_questions=12, seed=seed)
    folder.mkdir(parents=True)
    survey.to_long_frame().to_csv(folder / "answers.csv", index=False)
    import pandas as pd

    pd.DataFrame([{"question_id": q.id, "text": q.text, "options": json.dumps(list(q.options)), "ordinal": q.ordinal}
                  for q in survey.questions]).to_csv(folder / "questions.csv", index=False)
    return survey


class Killer:
    """The ``tests.build_killer --serve`` process: one request, one reply (a blocking read: the
    test waits for the child's exit, never for a time)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = open(root / "server.err", "w")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
               "NUMBA_THREADING_LAYER": "workqueue"}  # the fork-safe layer (GNU OpenMP is not)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.build_killer", "--serve"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.n = 0

    def request(self, op: str, argv: list[str], env: dict, point: str | None = None) -> dict:
        self.n += 1
        out, err = self.root / f"{self.n}.out", self.root / f"{self.n}.err"
        self.proc.stdin.write(json.dumps({"op": op, "point": point, "argv": argv, "env": env,
                                          "out": str(out), "err": str(err)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.flush()
            raise AssertionError(f"the killer server died: {(self.root / 'server.err').read_text()[-3000:]}")
        return {**json.loads(line), "stdout": out.read_text(), "stderr": err.read_text()}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        self.log.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(killer server, survey folder, config file, survey), the server warmed up by one build."""
    root = tmp_path_factory.mktemp("kill")
    survey = write_survey(root / "killsurvey", 100, seed=3)
    write_survey(root / "warmup", 60, seed=4)
    config = root / "config.json"
    config.write_text(json.dumps(CONFIG))
    killer = Killer(root)
    warm = killer.request("warm", ["build", "--dataset", "csv", "--path", str(root / "warmup"), "--db",
                                   f"sqlite:///{root / 'warmup.db'}", "--config", str(config)],
                          {"PERSONA_ARTIFACTS_DIR": str(root / "warmup-artifacts"), "PERSONA_CACHE_DIR": str(root / "cache")})
    assert warm["code"] == 0, warm["stderr"][-3000:]
    yield killer, root / "killsurvey", config, survey
    killer.close()


def _db_counts(db: Path) -> dict[str, int] | None:
    if not db.exists():
        return None
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES if t in names}
        if counts.get("dataset"):
            (n_resp, n_ans), = con.execute("select n_respondents, n_answers from dataset").fetchall()
            counts["dataset_n_respondents"], counts["dataset_n_answers"] = n_resp, n_ans
        return counts
    finally:
        con.close()


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _marked_incomplete(folder: Path) -> bool:
    return STAGING_INFIX in folder.name or (folder / STAGING_FILE).exists()


@pytest.mark.parametrize("point", POINTS)
def test_killed_build_leaves_no_half_stored_run(point, setup, tmp_path):
    killer, folder, config, survey = setup
    db, artifacts = tmp_path / "persona.db", tmp_path / "artifacts"
    env = {"PERSONA_ARTIFACTS_DIR": str(artifacts), "PERSONA_CACHE_DIR": str(tmp_path / "cache")}
    args = ["build", "--dataset", "csv", "--path", str(folder), "--db", f"sqlite:///{db}", "--config", str(config)]

    killed = killer.request("run", args, env, point)
    assert killed.get("signal") == signal.SIGKILL, (killed.get("code"), killed["stderr"][-3000:])
    assert killed["stderr"].rstrip().endswith(f"build_killer: SIGKILL at {point}"), killed["stderr"][-3000:]

    counts = _db_counts(db)
    if point in ("load", "store"):
        assert counts is None, counts  # killed before the database was opened
    else:
        assert counts["embedding_run"] == counts["respondent_embedding"] == counts["cohort"] == 0, counts
        if point in BEFORE_SURVEY_COMMIT:
            assert all(counts[t] == 0 for t in TABLES), counts  # the survey's transaction rolled back
        else:  # the survey committed whole in the store stage; no run of it
            assert counts["dataset"] == 1 and counts["respondent"] == counts["dataset_n_respondents"] == 100, counts
            assert counts["answer"] == counts["dataset_n_answers"] == survey.n_answers, counts
    left = _folders(artifacts)
    assert all(_marked_incomplete(f) for f in left), [(f.name, sorted(p.name for p in f.iterdir())) for f in left]
    if point in ("save:staging", "save:uncommitted"):
        assert len(left) == 1 and STAGING_INFIX in left[0].name, left
    elif point == "save:published":
        assert len(left) == 1 and STAGING_INFIX not in left[0].name and (left[0] / STAGING_FILE).exists(), left
    else:
        assert left == [], left

    nxt = killer.request("run", [*args, "--if-missing", "--json"], env)
    assert nxt.get("code") == 0, nxt["stderr"][-3000:]
    summary = json.loads(nxt["stdout"].strip().splitlines()[-1])
    assert summary["built"] is True and summary["respondents"] == 100
    counts = _db_counts(db)
    assert counts["dataset"] == 1 and counts["embedding_run"] == 1 and counts["respondent_embedding"] == 100, counts
    con = sqlite3.connect(db)
    (run_id, artifact_path), = con.execute("select id, artifact_path from embedding_run").fetchall()
    con.close()
    assert run_id == summary["embedding_run"] and artifact_path == summary["artifacts"]
    run_folder = Path(artifact_path)
    assert not (run_folder / STAGING_FILE).exists()
    assert PersonaSpace.load(run_folder).run_key == summary["run_key"]
    expected = {run_folder} | ({left[0]} if point == "save:published" else set())  # staging folders removed
    assert set(_folders(artifacts)) == expected, _folders(artifacts)
