"""The pairs CLI: import, list, vote, export (DPO and CSV), stats, and error messages."""
from __future__ import annotations

import csv
import json

from persona_core.cli import main


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_import_vote_export_stats(db_url, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"prompt": f"P{i}", "response_a": f"A{i}", "response_b": f"B{i}",
                                         "steered_side": "b", "persona": {"title": "Cohort 3"}}) for i in range(3)))
    assert main(["pairs", "import", str(src), "--db", db_url, "--json"]) == 0
    ids = _json(capsys)["pair_ids"]
    assert len(ids) == 3
    for who, pid, choice in [("ana", ids[0], "a"), ("ana", ids[1], "b"), ("ana", ids[2], "tie"), ("bo", ids[0], "a")]:
        assert main(["pairs", "vote", "--pair", str(pid), "--annotator", who, "--choice", choice, "--db", db_url, "--json"]) == 0
    assert main(["pairs", "vote", "--pair", str(ids[1]), "--annotator", "ana", "--choice", "a", "--db", db_url, "--json"]) == 0
    assert _json(capsys)["replaced"] is not None

    assert main(["pairs", "list", "--db", db_url, "--json"]) == 0
    assert [r["votes"] for r in _json(capsys)["pairs"]] == [2, 1, 1]

    out = tmp_path / "dpo.jsonl"
    assert main(["pairs", "export", "--format", "dpo", "--out", str(out), "--db", db_url, "--json"]) == 0
    assert _json(capsys) == {"format": "dpo", "written": 3, "left_out_ties": 1, "left_out_both_bad": 0, "out": str(out)}
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [{"prompt": "P0", "chosen": "A0", "rejected": "B0"}, {"prompt": "P0", "chosen": "A0", "rejected": "B0"},
                       {"prompt": "P1", "chosen": "A1", "rejected": "B1"}]

    out_csv = tmp_path / "all.csv"
    assert main(["pairs", "export", "--format", "csv", "--out", str(out_csv), "--db", db_url]) == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 5 and sorted(r["status"] for r in rows).count("replaced") == 1

    assert main(["pairs", "stats", "--db", db_url, "--json", "--n-boot", "200"]) == 0
    stats = _json(capsys)
    assert stats["votes_per_annotator"]["ana"]["votes"] == 3
    assert stats["agreement"]["pairs"] == 1 and stats["agreement"]["raw"] == 1.0
    (rate,) = stats["win_rates"]
    assert rate["persona"] == "Cohort 3" and (rate["wins"], rate["losses"], rate["ties"]) == (0, 3, 1)
    assert main(["pairs", "stats", "--db", db_url]) == 0
    assert "Krippendorff's alpha undefined" in capsys.readouterr().out


def test_errors_are_messages(db_url, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "response_a": "a", "response_b": "b"}\n{oops}\n')
    assert main(["pairs", "import", str(bad), "--db", db_url]) == 2
    err = capsys.readouterr().err
    assert "line 2: not valid JSON" in err and "nothing was imported" in err
    assert main(["pairs", "vote", "--pair", "12345", "--annotator", "x", "--choice", "a", "--db", db_url]) == 2
    assert "no preference pair with id 12345" in capsys.readouterr().err
    assert main(["personas", "induce", "--annotator", "nobody", "--db", db_url]) == 2
    assert "has 0 decided pairs" in capsys.readouterr().err
