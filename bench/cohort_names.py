"""How well LLM-written cohort names tell the cohorts apart; prints one JSON object.

Names every cohort of the newest stored persona space (or ``--run``) afresh with
:func:`persona_core.naming.name_cohorts` (the cache is neither read nor written), then scores,
with the same model, how well each kind of label points at its own cohort
(:func:`persona_core.naming.name_identifiability`: the cohort whose evidence the label makes
most likely, against a neutral label; chance is one in the number of cohorts):

- ``rule``: the answer-based label the map shows (it quotes the evidence, so it is the ceiling
  on ``shown``);
- ``llm_unchecked``: the LLM-written name where it is one (:func:`persona_core.naming.clean_name`,
  and no other cohort got it), before the identifiability check;
- ``llm``: the names the app keeps, those of ``llm_unchecked`` that pass the check. The check is
  ``shown`` identifiability itself, so ``llm``'s ``shown`` is 1 by construction; ``held_out`` is
  the honest figure;
- ``constant``: the same word for every cohort (chance).

``shown`` is the evidence the model named the cohort from (its top ``evidence_items`` distinctive
answers); ``held_out`` is the cohort's next ``--held-out`` distinctive answers, which no label
quotes: a name that captures the cohort beyond the lines it was shown should still point at it.

    python bench/cohort_names.py [--db URL] [--dataset gss-2016] [--run ID] [--held-out 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from persona_core.llm import LLM  # noqa: E402
from persona_core.naming import (  # noqa: E402
    CohortNamingConfig, cohort_evidence, identified_share, name_cohorts, name_identifiability,
)
from persona_core.profile import answer_phrase  # noqa: E402
from persona_core.service.catalog import load_space_view, stored_run_id  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None)
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--run", type=int, default=None)
    ap.add_argument("--held-out", type=int, default=5, help="distinctive answers after the shown ones, for held_out")
    args = ap.parse_args()
    view = load_space_view(args.db, stored_run_id(args.db, args.dataset, args.run))
    config = CohortNamingConfig()
    t = time.perf_counter()
    llm = LLM.from_config()
    load_seconds = time.perf_counter() - t
    t = time.perf_counter()
    names = name_cohorts(llm, view.profiles, config)
    name_seconds = time.perf_counter() - t
    unchecked = name_cohorts(llm, view.profiles, replace(config, check_identifies=False))

    labels = [c for c in view.cohorts if cohort_evidence(view.profiles[c], config)]
    shown = [cohort_evidence(view.profiles[c], config) for c in labels]
    held = [tuple(answer_phrase(d, config.evidence_chars) for d in
                  view.profiles[c]["distinctive_questions"][config.evidence_items : config.evidence_items + args.held_out])
            for c in labels]
    has_held = [i for i, h in enumerate(held) if h]
    kinds = {"rule": [view.cohort_names[c] for c in labels], "llm_unchecked": [unchecked[c].name for c in labels],
             "llm": [names[c].name for c in labels],
             "constant": ["people"] * len(labels)}
    t = time.perf_counter()
    scores: dict[str, dict] = {}
    for kind, texts in kinds.items():
        rows = [i for i, text in enumerate(texts) if text]
        out: dict = {"labels": len(rows)}
        for split, sets, cols in (("shown", shown, list(range(len(labels)))), ("held_out", held, has_held)):
            rows_here = [i for i in rows if i in cols]  # a cohort without held-out answers cannot be found by them
            pmi = name_identifiability(llm, [texts[i] for i in rows_here], [sets[j] for j in cols])
            out[split] = round(identified_share(pmi, [cols.index(i) for i in rows_here]), 4) if rows_here else None
        scores[kind] = out
    score_seconds = time.perf_counter() - t
    print(json.dumps({
        "dataset": view.dataset_name, "embedding_run": view.run_id, "cohorts": len(view.cohorts),
        "model": os.environ.get("PERSONA_MODEL") or "default", "prompt_key": config.prompt_key,
        "named": sum(r.name is not None for r in names.values()),
        "chance": round(1 / max(len(labels), 1), 4), "identified": scores,
        "seconds": {"load_model": round(load_seconds, 2), "name": round(name_seconds, 2), "score": round(score_seconds, 2)},
        "names": {str(c): {"name": r.name, "raw": r.raw, "reason": r.reason, "evidence": list(r.evidence)}
                  for c, r in names.items()},
    }))


if __name__ == "__main__":
    main()
