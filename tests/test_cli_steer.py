"""python -m persona_core train / eval on a small CSV survey, into a fresh database."""
import json

import pytest

from persona_core.cli import main
from tests.test_cli import count, env, write_csv_survey  # noqa: F401  (env is a fixture)


@pytest.mark.slow
def test_train_then_eval_prints_json_and_stores_the_run(env, capsys):  # noqa: F811
    tmp, url, config = env
    write_csv_survey(tmp / "survey", n_respondents=120)
    assert main(["build", "--dataset", "csv", "--path", str(tmp / "survey"), "--db", url, "--config", config]) == 0
    capsys.readouterr()

    assert main(["train", "--tiny", "--db", url, "--json"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["steps"] == 20 and trained["mode"] == "suffix_kv"
    assert trained["free_text_targets_seconds"] == 0.0  # the tiny configuration has no free-text term to sample for
    assert [p["step"] for p in trained["learning_curve"]] == [10, 20]
    # the default steering model adapts the LLM: the adapter is saved beside the SPM, as safetensors
    assert trained["config"]["adapter"]["r"] == 4
    from pathlib import Path

    assert (Path(trained["checkpoint"]) / "adapter.safetensors").is_file()
    assert any("subsampled" in n or "questions" in n for n in trained["notes"])

    # a second train with the same config resumes the finished run: nothing left to do
    assert main(["train", "--tiny", "--db", url, "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["resumed_from_epoch"] == 1 and again["steps"] == 20

    assert main(["eval", "--tiny", "--db", url, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    from persona_core.evaluate.run import METHODS

    assert set(result["methods"]) == set(METHODS) and result["spm"]["adapter"] is True
    for m in result["methods"].values():
        low, high = m["accuracy_ci95"]
        assert low <= m["accuracy"] <= high and m["loglik"] <= 0.0
    assert {"cohort_alignment", "spm_relative_improvement", "n_respondents", "n_heldout"} <= set(result)
    assert any(line.startswith("spm_individual") for line in out[:-1])  # the table
    assert count(url, "evaluation_run") == 1

    # an unknown method name is refused before any work
    assert main(["eval", "--tiny", "--db", url, "--methods", "oracle"]) == 2
    assert "unknown method" in capsys.readouterr().err
