"""OpinionQA loader: the W99 fixture in the release layout, and bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from persona_core.data.errors import DataError
from persona_core.data.opinionqa import load_opinionqa, resolve_wave_dir
from tests.data.conftest import OPINIONQA_ROOT, OPINIONQA_W99, assert_data_error


@pytest.fixture
def wave_copy(tmp_path) -> Path:
    """A writable copy of the fixture wave, for breaking one file per test."""
    d = tmp_path / "human_resp" / "American_Trends_Panel_W99"
    shutil.copytree(OPINIONQA_W99, d)
    return d


def responses(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "responses.csv", dtype=str, keep_default_na=False)


def test_fixture_loads():
    s = load_opinionqa(OPINIONQA_ROOT, wave="W99")
    assert s.name == "opinionqa-W99"
    assert s.source == {"kind": "opinionqa", "wave": "W99", "path": str(OPINIONQA_W99)}
    assert [q.id for q in s.questions] == ["SATIS_W99", "LOCALCLIM_W99", "ROBOTNEWS_W99", "NEWSSRC_W99", "LIBRARY_W99"]
    assert s.questions[0].text.startswith("All in all, are you satisfied")
    # 30 rows; the last one answered nothing but "Refused" and blanks
    assert s.n_respondents == 29 and "200303" not in s.respondent_ids
    raw = responses(OPINIONQA_W99)
    qcols = [q.id for q in s.questions]
    substantive = raw[qcols].apply(lambda c: (c != "") & (c != "Refused")).to_numpy().sum()
    assert s.n_answers == substantive


def test_options_follow_option_ordinal_and_refused_is_missing():
    s = load_opinionqa(OPINIONQA_W99)
    q = {x.id: x for x in s.questions}
    assert q["SATIS_W99"].options == ("Satisfied", "Dissatisfied")  # "Refused" is not an option
    # option_ordinal [1.0, 2.0, 1.5]: "A mix of both" sits between the two ends
    assert q["ROBOTNEWS_W99"].options == ("Mostly positive", "A mix of both", "Mostly negative")
    assert q["ROBOTNEWS_W99"].ordinal
    # all-equal positions [1, 1, 1, 1, 1]: nominal, release order kept
    assert q["NEWSSRC_W99"].options[-1] == "Other" and not q["NEWSSRC_W99"].ordinal
    raw = responses(OPINIONQA_W99).set_index("QKEY")
    refused = raw.index[raw["SATIS_W99"] == "Refused"]
    assert len(refused) == 3  # two refusals + the respondent who answered nothing
    for rid in refused[:2]:
        assert "SATIS_W99" not in s.answers_of(rid)
    rid = s.respondent_ids[1]
    assert s.answers_of(rid)["ROBOTNEWS_W99"] == raw.loc[rid, "ROBOTNEWS_W99"]
    counts = s.option_counts("SATIS_W99")
    assert counts.sum() == (raw["SATIS_W99"].isin(["Satisfied", "Dissatisfied"])).sum()


def test_demographics_become_categorical_attributes():
    s = load_opinionqa(OPINIONQA_W99)
    a = s.attributes
    assert list(a.columns) == ["CREGION", "AGE", "SEX", "POLPARTY", "POLIDEOLOGY"]
    assert "WEIGHT_W99" not in a.columns
    assert list(a["AGE"].cat.categories) == ["18-29", "30-49", "50-64", "65+"]
    raw = responses(OPINIONQA_W99).set_index("QKEY")
    assert a.loc[s.respondent_ids[0], "POLPARTY"] == raw.loc[s.respondent_ids[0], "POLPARTY"]
    assert a["POLIDEOLOGY"].isna().sum() == 1  # the one "Refused"


@pytest.mark.parametrize("wave", ["W99", "w99", "99", 99])
def test_wave_spellings(wave):
    assert resolve_wave_dir(OPINIONQA_ROOT, wave) == OPINIONQA_W99


def test_wave_dir_with_single_wave_and_parent_of_human_resp(wave_copy):
    assert resolve_wave_dir(wave_copy.parent) == wave_copy  # human_resp with one wave
    assert resolve_wave_dir(wave_copy.parent.parent) == wave_copy  # its parent


def test_several_waves_need_a_choice(wave_copy):
    shutil.copytree(wave_copy, wave_copy.parent / "American_Trends_Panel_W100")
    with pytest.raises(ValueError, match="W99, W100"):
        load_opinionqa(wave_copy.parent)
    assert load_opinionqa(wave_copy.parent, wave="W100").name == "opinionqa-W100"


def test_unknown_wave(wave_copy):
    with pytest.raises(DataError, match="wave W7 not found \\(available: W99\\)"):
        load_opinionqa(wave_copy.parent, wave="W7")


def test_wave_dir_does_not_match_requested_wave():
    with pytest.raises(DataError, match="this is wave W99, not W26"):
        load_opinionqa(OPINIONQA_W99, wave="W26")


# ------------------------------------------------------------- bad input
def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="directory not found"):
        load_opinionqa(tmp_path / "nothing")


def test_missing_responses_file(wave_copy):
    (wave_copy / "responses.csv").unlink()
    with pytest.raises(DataError, match="file not found") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", None, None)


def test_missing_qkey_column(wave_copy):
    raw = responses(wave_copy).rename(columns={"QKEY": "ID"})
    raw.to_csv(wave_copy / "responses.csv", index=False)
    with pytest.raises(DataError, match="missing column") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", 1, "QKEY")


def test_question_key_missing_from_responses(wave_copy):
    responses(wave_copy).drop(columns=["LIBRARY_W99"]).to_csv(wave_copy / "responses.csv", index=False)
    with pytest.raises(DataError, match="missing column") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", 1, "LIBRARY_W99")


def test_missing_info_column(wave_copy):
    info = pd.read_csv(wave_copy / "info.csv", dtype=str).drop(columns=["option_mapping"])
    info.to_csv(wave_copy / "info.csv", index=False)
    with pytest.raises(DataError, match="missing column") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "info.csv", 1, "option_mapping")


def test_answer_not_among_options(wave_copy):
    raw = responses(wave_copy)
    raw.loc[6, "LOCALCLIM_W99"] = "Quite a bit"
    raw.to_csv(wave_copy / "responses.csv", index=False)
    with pytest.raises(DataError, match="'Quite a bit' is not among the options") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", 8, "LOCALCLIM_W99")  # data row 6 = line 8


def test_duplicate_respondent(wave_copy):
    raw = responses(wave_copy)
    raw.loc[9, "QKEY"] = raw.loc[2, "QKEY"]
    raw.to_csv(wave_copy / "responses.csv", index=False)
    with pytest.raises(DataError, match="duplicate respondent key .* \\(first on line 4\\)") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", 11, "QKEY")


def test_unreadable_option_mapping(wave_copy):
    text = (wave_copy / "info.csv").read_text().replace("{1.0: 'A great deal'", "{1.0: A great deal'")
    (wave_copy / "info.csv").write_text(text)
    with pytest.raises(DataError, match="cannot read") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "info.csv", 3, "option_mapping")


def test_too_many_ordinal_positions(wave_copy):
    text = (wave_copy / "info.csv").read_text().replace('"[1.0, 2.0]"', '"[1.0, 2.0, 3.0, 4.0]"')
    (wave_copy / "info.csv").write_text(text)
    with pytest.raises(DataError, match="4 positions for 3 references") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "info.csv", 2, "option_ordinal")


def test_non_utf8_responses(wave_copy):
    raw = (wave_copy / "responses.csv").read_bytes()
    lines = raw.split(b"\n")
    lines[3] = lines[3].replace(b"Female", b"F\xe9male", 1).replace(b"Male", b"M\xe0le", 1)
    (wave_copy / "responses.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match="not valid UTF-8") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "responses.csv", 4, "SEX")


def test_empty_info(wave_copy):
    (wave_copy / "info.csv").write_text("")
    with pytest.raises(DataError, match="file is empty") as e:
        load_opinionqa(wave_copy)
    assert_data_error(e, "info.csv", None, None)


def test_every_answer_blank(wave_copy):
    raw = responses(wave_copy)
    for c in ["SATIS_W99", "LOCALCLIM_W99", "ROBOTNEWS_W99", "NEWSSRC_W99", "LIBRARY_W99"]:
        raw[c] = ""
    raw.to_csv(wave_copy / "responses.csv", index=False)
    with pytest.raises(DataError, match="no answers"):
        load_opinionqa(wave_copy)


def test_answers_are_codes_into_options():
    s = load_opinionqa(OPINIONQA_W99)
    n_opt = s.n_options_per_question
    assert (s.answers.option < n_opt[s.answers.question]).all()
    assert np.unique(s.answers.respondent).size == s.n_respondents
