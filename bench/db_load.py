"""Benchmark: store the GSS 2016 wave (~2,867 respondents, ~910,000 answers) in SQLite and in
PostgreSQL, then read it back. Prints one JSON object.

    python bench/db_load.py [--synthetic] [--respondents N [--questions Q] [--density D]] [--no-postgres]

Runs the real wave (``persona_core.data.loaders.load_survey("gss", wave="2016")``, when the
shared data are there) and a synthetic survey with the wave's nominal size (2,867 x 600,
~911,000 answers), each labelled in the output. ``--synthetic`` runs only the latter;
``--respondents`` only a synthetic survey of that size (``--questions``, ``--density``).
PostgreSQL is a throwaway server started for the run (``db.pgserver``, fsync on); SQLite is a
file in a temp folder. Timings: ``save_s`` (one transaction, bulk insert), ``save_again_s``
(idempotent re-save: fingerprint check only), ``load_s`` (back to a ``Survey``);
``save_peak_rss_mb``: how far this process's resident memory rose above where it stood before the
save, sampled every 10 ms while saving.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.pgserver import PostgresUnavailable, TemporaryPostgres  # noqa: E402
from db.session import dispose_engines, session_scope, upgrade_database  # noqa: E402
from persona_core.data.survey_db import load_survey, save_survey  # noqa: E402
from persona_core.data.errors import DataError  # noqa: E402
from persona_core.data.survey import Answers, Question, Survey  # noqa: E402


def synthetic_survey(
    n_respondents: int = 2867, n_questions: int = 600, density: float = 0.53, seed: int = 0, name: str = "synthetic"
) -> Survey:
    """A random survey shaped like the GSS 2016 wave (2-7 options per question, sparse answers,
    a dozen categorical/numeric attributes)."""
    rng = np.random.default_rng(seed)
    n_opt = rng.integers(2, 8, size=n_questions)
    questions = [
        Question(id=f"q{j:03d}", text=f"Synthetic question {j}?", options=tuple(f"option {k}" for k in range(n_opt[j])))
        for j in range(n_questions)
    ]
    mask = rng.random((n_respondents, n_questions)) < density
    r, q = np.nonzero(mask)
    o = rng.integers(0, n_opt[q])
    attributes = pd.DataFrame({
        "age": rng.integers(18, 90, n_respondents).astype(float),
        "sex": pd.Categorical(rng.choice(["male", "female"], n_respondents)),
        "degree": pd.Categorical(rng.choice(["lt high school", "high school", "bachelor", "graduate"], n_respondents),
                                 categories=["lt high school", "high school", "bachelor", "graduate"], ordered=True),
        **{f"attr{k}": pd.Categorical(rng.choice(list("abcdef"), n_respondents)) for k in range(9)},
    }, index=[str(100000 + i) for i in range(n_respondents)])
    return Survey.from_codes(name, questions, attributes.index, Answers(r, q, o), attributes, {"kind": "synthetic"})


def real_survey() -> Survey | None:
    try:
        from persona_core.data.loaders import load_survey as load
    except ImportError:
        return None
    try:
        return load("gss", wave="2016")
    except (FileNotFoundError, DataError) as exc:  # no shared data here: say why, bench the rest
        print(f"GSS 2016 wave not available ({exc}); synthetic survey only", file=sys.stderr)
        return None


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """The highest resident memory seen, sampled every 10 ms on a thread, inside a ``with``."""

    def __enter__(self) -> "PeakRSS":
        self.start_mb = self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


def measure(url: str, survey: Survey) -> dict:
    upgrade_database(url)
    t0 = time.perf_counter()
    with PeakRSS() as memory, session_scope(url) as s:
        save_survey(s, survey)
    t_save = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(url) as s:
        save_survey(s, survey)  # idempotent: fingerprint check only
    t_again = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(url) as s:
        back = load_survey(s, survey.name)
    t_load = time.perf_counter() - t0
    assert back.fingerprint() == survey.fingerprint()
    return {"save_s": round(t_save, 2), "save_again_s": round(t_again, 3), "load_s": round(t_load, 2),
            "save_peak_rss_mb": round(memory.peak_mb - memory.start_mb, 1)}


def bench_survey(survey: Survey, label: str, postgres: bool = True) -> dict:
    out: dict = {
        "survey": label, "respondents": survey.n_respondents, "questions": survey.n_questions,
        "answers": survey.n_answers,
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", survey)
        out["sqlite"]["file_mb"] = round(sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20, 1)
        dispose_engines()
    if not postgres:
        return out
    try:
        with TemporaryPostgres(fsync=True) as pg:
            out["postgresql"] = measure(pg.create_database("bench"), survey)
            dispose_engines()
    except PostgresUnavailable as exc:
        out["postgresql"] = {"error": str(exc)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip())
    parser.add_argument("--synthetic", action="store_true", help="only the synthetic survey of ~910,000 answers")
    parser.add_argument("--respondents", type=int, default=None, help="only a synthetic survey of this many respondents")
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--density", type=float, default=0.53, help="share of the questions each respondent answers")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()

    if args.respondents is not None:
        survey = synthetic_survey(args.respondents, args.questions, args.density)
        print(json.dumps({"runs": [bench_survey(survey, f"synthetic-{args.respondents}", postgres=not args.no_postgres)]}))
        return
    results = []
    survey = None if args.synthetic else real_survey()
    if survey is not None:
        results.append(bench_survey(survey, "gss-2016"))
    results.append(bench_survey(synthetic_survey(), "synthetic"))
    print(json.dumps({"runs": results}))


if __name__ == "__main__":
    main()
