"""Bad input, measured: run N corrupted inputs per format through the loaders and the import
commands (the strategies and checks of tests/data/test_fuzz_inputs.py) and print one JSON object
with the counts per corruption kind and per outcome.

    python bench/fuzz_inputs.py [--cases 300] [--formats csv opinionqa jsonl] [--seed 0]

Outcomes: ``rejected`` (bad input: DataError naming file, line and column; the command exited 2
and the database file stayed byte for byte the same), ``accepted`` (the corruption left a valid
input, which loaded exactly like the same content written cleanly), ``rejected_like_clean`` (the
clean content is rejected the same way), ``failed`` (anything else: listed under ``failures``;
the exit status is then 1). Deterministic: Hypothesis runs derandomized from ``--seed``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.data.corrupt import FORMATS, Tally, cases, check, make_template_db  # noqa: E402


def run(fmt: str, n: int, template: Path, tally: Tally, failures: list, rng_seed: int) -> None:
    @seed(rng_seed)
    @settings(max_examples=n, derandomize=rng_seed == 0, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=cases(fmt))
    def one(case):
        with tempfile.TemporaryDirectory() as d:
            try:
                result = check(case, Path(d), template)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
                result = "failed"
                failures.append({"case": repr(case), "error": f"{type(exc).__name__}: {exc}"[:2000],
                                 "where": traceback.format_exc(limit=-3)[-1500:]})
        tally.add(case, result)

    one()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per format")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--seed", type=int, default=0, help="0: derandomized (the same cases everywhere)")
    args = parser.parse_args()
    tally, failures, seconds = Tally(), [], {}
    with tempfile.TemporaryDirectory() as root:
        os.environ["PERSONA_ARTIFACTS_DIR"] = str(Path(root) / "artifacts")
        os.environ["PERSONA_CACHE_DIR"] = str(Path(root) / "cache")
        template = make_template_db(Path(root) / "template")
        for fmt in args.formats:
            t = time.perf_counter()
            run(fmt, args.cases, template, tally, failures, args.seed)
            seconds[fmt] = round(time.perf_counter() - t, 2)
    per_outcome: dict[str, int] = {}
    for kinds in tally.counts.values():
        for outcomes in kinds.values():
            for name, count in outcomes.items():
                per_outcome[name] = per_outcome.get(name, 0) + count
    print(json.dumps({
        "cases": tally.total(),
        "per_format": {f: sum(sum(o.values()) for o in k.values()) for f, k in tally.counts.items()},
        "per_outcome": per_outcome,
        "per_kind": tally.counts,
        "seconds": seconds,
        "failures": failures[:20],
        "n_failures": len(failures),
    }, indent=1, sort_keys=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
