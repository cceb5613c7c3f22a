"""Bad input, measured: corrupted CSV long-format, OpinionQA and preference-pair JSONL files.

Each (format, corruption kind) draws a few cases from :mod:`tests.data.corrupt` with Hypothesis
(derandomized, no example database: the same cases on every machine). A bad input must raise
``DataError`` naming its file, line and column, and the import command must exit 2 with the
database file byte for byte unchanged; an input the corruption left valid must load exactly as
the same content written cleanly. The number of cases run is printed at the end of the session
and checked per test.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.data.corrupt import FILES, FORMATS, KINDS, Tally, cases, check, make_template_db

EXAMPLES = 12  # per (format, kind); the one-case-per-file kinds stop earlier: ~320 cases in all

TALLY = Tally()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("fuzz")
        mp.setenv("PERSONA_ARTIFACTS_DIR", str(root / "artifacts"))  # a wrongly accepted build stays here
        mp.setenv("PERSONA_CACHE_DIR", str(root / "cache"))
        yield make_template_db(root / "template")


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    per_format = {fmt: sum(sum(o.values()) for o in kinds.values()) for fmt, kinds in TALLY.counts.items()}
    outcomes: dict[str, int] = {}
    for kinds in TALLY.counts.values():
        for o in kinds.values():
            for name, n in o.items():
                outcomes[name] = outcomes.get(name, 0) + n
    line = f"fuzz inputs: {TALLY.total()} cases {per_format} {outcomes}"
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(line)
    else:
        print(line)


@pytest.mark.parametrize("fmt,kind", [(f, k) for f in FORMATS for k in KINDS[f]])
def test_corrupted_input_is_rejected_with_its_location_or_loads_like_clean(fmt, kind, template_db):
    results: list[str] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=cases(fmt, kind))
    def run(case):
        with tempfile.TemporaryDirectory() as d:
            result = check(case, Path(d), template_db)
        results.append(result)
        TALLY.add(case, result)

    run()
    # Hypothesis stops early only when it has run every distinct case: these kinds have one per file
    assert len(results) >= (len(FILES[fmt]) if kind in ("utf16", "utf16_nobom", "bom", "line_ends") else EXAMPLES)
    print(f"{fmt}/{kind}: {len(results)} cases: {sorted(set(results))}")
