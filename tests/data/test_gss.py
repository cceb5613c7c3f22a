"""GSS panel loader: the classification rule on synthetic column metadata, the reader on
a tiny synthetic ``.rda`` panel, and bad input. The real file is tested in
``test_gss_real.py``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from persona_core.data import gss
from persona_core.data.errors import DataError
from persona_core.data.gss import (
    ATTRIBUTE, DROPPED, QUESTION, R_DESIGN, R_EMPTY, R_INTERVIEWER, R_LINKED, R_NO_LABELS,
    R_ROSTER, R_TOO_FEW_ANSWERS, R_TOO_FEW_OPTIONS, R_TOO_MANY_OPTIONS, R_UNLABELLED, R_VERBATIM,
    R_WEIGHT, ColumnDecision, ColumnSummary, GSSConfig, classification_counts, classify_column,
    format_classification, is_labelled_scale, is_nominal, load_gss, question_from_summary,
)
from tests.data.synthetic_rda import Labelled, make_panel, write_panel

YES_NO = {1.0: "yes", 2.0: "no"}


def col(name, label="some opinion", labels=YES_NO, counts=None):
    return ColumnSummary(name, label, labels, counts if counts is not None else {1.0: 400, 2.0: 300})


def decide(*args, config=None, **kw):
    d = classify_column(col(*args, **kw), config)
    return d.kind, d.reason


# ============================================================ the rule, unit-tested
@pytest.mark.parametrize("name,reason", [
    ("wtssall", R_WEIGHT), ("wtssnr", R_WEIGHT), ("formwt", R_WEIGHT), ("oversamp", R_WEIGHT),
    ("id", R_DESIGN), ("yearid", R_DESIGN), ("vpsu", R_DESIGN), ("vstrat", R_DESIGN), ("sampcode", R_DESIGN),
    ("ballot", R_DESIGN), ("form", R_DESIGN), ("version", R_DESIGN), ("mode", R_DESIGN), ("consent", R_DESIGN),
    ("intage", R_INTERVIEWER), ("intwkdyh", R_INTERVIEWER), ("coop", R_INTERVIEWER),
    ("comprend", R_INTERVIEWER), ("whoelse3", R_INTERVIEWER), ("rlooks", R_INTERVIEWER),
    ("mar3", R_ROSTER), ("gender12", R_ROSTER), ("relate2", R_ROSTER), ("relhhd14", R_ROSTER),
    ("old5", R_ROSTER), ("hompop", R_ROSTER), ("famgen", R_ROSTER), ("rplace", R_ROSTER),
    ("occ10", R_VERBATIM), ("indus10", R_VERBATIM), ("isco08", R_VERBATIM), ("paisco88", R_VERBATIM),
    ("prestg10", R_VERBATIM), ("sppres105plus", R_VERBATIM), ("cosei10educ", R_VERBATIM),
    ("sector", R_LINKED), ("barate", R_LINKED),
])
def test_bookkeeping_by_name_is_dropped(name, reason):
    # even with a perfectly question-like answer pattern
    assert decide(name) == (DROPPED, reason)


@pytest.mark.parametrize("label,reason", [
    ("race of interviewer", R_INTERVIEWER),
    ("does interviewer believe that there are children present", R_INTERVIEWER),
    ("interviewer coded male sexual orientation", R_INTERVIEWER),
    ("weights for black oversamples", R_WEIGHT),
    ("form of split questionnaire asked", R_DESIGN),
    ("ballot used for interview", R_DESIGN),
    ("how close r is to person 1", R_ROSTER),
    ("gender of 2nd person", R_ROSTER),
    ("r's census occupation code (2010)", R_VERBATIM),
    ("partner's industry code (2010)", R_VERBATIM),
    ("r's occupational prestige score", R_VERBATIM),
    ("type of college respondent attended", R_LINKED),
])
def test_bookkeeping_by_wording_is_dropped(label, reason):
    assert decide("xyzvar", label=label) == (DROPPED, reason)


def test_reading_instruction_is_not_interviewer_bookkeeping():
    assert decide("dofirst", label="things you said should do... interviewer: read list")[0] == QUESTION


def test_verbatim_answer_labels_are_dropped():
    labels = {1.0: "respondent provides number of months", 2.0: "respondent provides verbatim response uncodeable"}
    assert decide("suitime1", labels=labels) == (DROPPED, R_VERBATIM)


@pytest.mark.parametrize("name", ["age", "sex", "race", "degree", "partyid", "polviews", "relig", "region", "marital"])
def test_demographics_are_attributes_never_questions(name):
    assert decide(name) == (ATTRIBUTE, "demographic")


def test_numeric_demographics_are_attributes():
    ages = {float(a): 40 for a in range(18, 90)}
    assert decide("age", label="age of respondent", labels={89.0: "89 or older"}, counts=ages)[0] == ATTRIBUTE
    assert decide("coninc", labels=None, counts={25000.0: 10, 50000.0: 20})[0] == ATTRIBUTE


def test_demographics_list_is_configurable():
    cfg = GSSConfig(demographics=("sex",))
    assert decide("polviews", config=cfg)[0] == QUESTION
    assert decide("sex", config=cfg)[0] == ATTRIBUTE


def test_column_without_data_in_wave():
    assert decide("abany", counts={}) == (DROPPED, R_EMPTY)
    assert decide("sex", counts={}) == (DROPPED, R_EMPTY)  # a demographic too
    # only non-answers ("refused") used: nothing substantive
    assert decide("rifle", labels={1.0: "yes", 2.0: "no", 3.0: "refused"}, counts={3.0: 500}) == (DROPPED, R_EMPTY)


def test_opinion_item_with_two_options_and_enough_answers_is_a_question():
    assert decide("abany", label="abortion if woman wants for any reason") == (QUESTION, "opinion item")


def test_answer_threshold_is_a_parameter():
    assert decide("abany", counts={1.0: 150, 2.0: 150}) == (QUESTION, "opinion item")
    assert decide("abany", counts={1.0: 150, 2.0: 149}) == (DROPPED, R_TOO_FEW_ANSWERS)
    assert decide("abany", counts={1.0: 150, 2.0: 149}, config=GSSConfig(min_answers=100))[0] == QUESTION


def test_option_count_limits():
    labels = {float(i): f"option {i}" for i in range(1, 10)}
    seven = {float(i): 100 for i in range(1, 8)}
    eight = {float(i): 100 for i in range(1, 9)}
    assert decide("x", labels=labels, counts=seven)[0] == QUESTION
    assert decide("x", labels=labels, counts=eight) == (DROPPED, R_TOO_MANY_OPTIONS)
    assert decide("x", labels=labels, counts=eight, config=GSSConfig(max_options=8))[0] == QUESTION
    assert decide("x", labels=labels, counts={1.0: 900}) == (DROPPED, R_TOO_FEW_OPTIONS)


def test_unused_labels_do_not_count_as_options():
    labels = {float(i): f"option {i}" for i in range(1, 15)}  # 14 labels, 3 used
    assert decide("x", labels=labels, counts={1.0: 200, 2.0: 200, 5.0: 200})[0] == QUESTION


def test_non_answer_codes_count_as_missing():
    labels = {1.0: "yes", 2.0: "no", 3.0: "refused", 8.0: "don't know", 9.0: "iap"}
    s = col("owngun", labels=labels, counts={1.0: 200, 2.0: 99, 3.0: 50, 8.0: 10})
    assert s.substantive_counts() == {1.0: 200, 2.0: 99}
    assert s.n_answers == 299
    assert classify_column(s) == ColumnDecision("owngun", DROPPED, R_TOO_FEW_ANSWERS)
    assert question_from_summary(s).options == ("yes", "no")


def test_columns_without_value_labels_are_numeric():
    assert decide("sibs", labels=None, counts={0.0: 500, 1.0: 500}) == (DROPPED, R_NO_LABELS)


def test_unlabelled_codes_are_numeric_unless_a_short_rating_scale():
    hours = {float(h): 50 for h in (0, 1, 2, 3, 5, 8, 12)}  # spans 13 values: a count, not a scale
    assert decide("tvhours", labels={0.0: "none"}, counts=hours) == (DROPPED, R_UNLABELLED)
    long_scale = {float(i): 100 for i in range(1, 10)}
    assert decide("closeblk", labels={1.0: "not close", 9.0: "very close"}, counts=long_scale) == (
        DROPPED, R_UNLABELLED)
    scale = {float(i): 100 for i in range(1, 6)}
    labels = {1.0: "government should help", 3.0: "agree with both", 5.0: "people should help themselves"}
    s = col("helppoor", label="should govt improve standard of living?", labels=labels, counts=scale)
    assert classify_column(s).kind == QUESTION
    q = question_from_summary(s)
    assert q.options == ("government should help", "2", "agree with both", "4", "people should help themselves")
    assert q.ordinal
    # an unused middle point of the scale is still an option
    gap = col("helppoor", labels=labels, counts={1.0: 200, 2.0: 200, 5.0: 200})
    assert question_from_summary(gap).options == q.options


def test_is_labelled_scale():
    assert is_labelled_scale({1.0: 1, 2.0: 1, 3.0: 1})
    assert is_labelled_scale({1.0: 1, 3.0: 1, 7.0: 1})  # points 1..7, some unused
    assert not is_labelled_scale({0.0: 1, 8.0: 1})  # spans 9 points
    assert not is_labelled_scale({1.5: 1, 2.5: 1})  # not integers
    assert not is_labelled_scale({float(i): 1 for i in range(10)})  # longer than max_options


def test_question_wording_options_in_code_order_and_id_without_suffix():
    labels = {3.0: "too much", 1.0: "too little", 2.0: "about right", 4.0: "other (vol.)"}
    s = ColumnSummary("natenvir", "improving & protecting environment", labels, {3.0: 100, 1.0: 300, 2.0: 200})
    q = question_from_summary(s)
    assert (q.id, q.text) == ("natenvir", "improving & protecting environment")
    assert q.options == ("too little", "about right", "too much")  # unused "other" left out
    assert q.ordinal


@pytest.mark.parametrize("label,options,nominal", [
    ("feelings about the bible", ["word of god", "inspired word", "ancient book", "other"], True),
    ("who provides for sick people", ["government", "private companies", "family"], True),
    ("r self-emp or works for somebody", ["self-employed", "someone else"], True),
    ("vote on open housing law", ["first law", "second law", "neither"], True),
    ("should aged live with their children", ["a good idea", "a bad idea", "depends"], True),
    ("standard of living of r will improve", ["strongly agree", "agree", "neither", "disagree"], False),
    ("confidence in press", ["a great deal", "only some", "hardly any"], False),
    ("abortion if woman wants for any reason", ["yes", "no"], False),
])
def test_is_nominal(label, options, nominal):
    assert is_nominal(label, options) is nominal


def test_classification_counts_and_format():
    decisions = [
        ColumnDecision("abany_1a", QUESTION, "opinion item"),
        ColumnDecision("natenvir_1a", QUESTION, "opinion item"),
        ColumnDecision("age_1a", ATTRIBUTE, "demographic"),
        ColumnDecision("wtssall_1a", DROPPED, R_WEIGHT),
        ColumnDecision("wtssnr_1a", DROPPED, R_WEIGHT),
        ColumnDecision("mar1_1a", DROPPED, R_ROSTER),
    ]
    counts = classification_counts(decisions)
    assert counts == {
        "columns": 6, "questions": 2, "attributes": 1, "dropped": 3,
        "dropped_by_reason": {R_WEIGHT: 2, R_ROSTER: 1},
    }
    text = format_classification(counts, "2016")
    assert text.splitlines()[0] == "GSS 2016 wave: 6 columns -> 2 questions, 1 respondent attributes, 3 dropped"
    assert f"dropped, {R_WEIGHT}: 2" in text


def test_cp1252_strings_are_decoded():
    assert gss._text(b"i\x92m always willing") == "i\u2019m always willing"
    assert gss._text("i\x92m") == "i\u2019m"  # read as Latin-1
    assert gss._text("caf\u00e9") == "caf\u00e9"


# ====================================================== a synthetic panel file
@pytest.fixture
def panel(tmp_path) -> Path:
    return make_panel(tmp_path / "panel.rda")


@pytest.fixture
def cfg(tmp_path) -> GSSConfig:
    return GSSConfig(min_answers=3, cache_dir=tmp_path / "cache")


def test_synthetic_2016_wave(panel, cfg):
    s = load_gss(panel, "2016", cfg)
    assert s.name == "gss-2016"
    assert s.respondent_ids == ["20160001", "20160002", "20160003", "20160004"]
    assert [q.id for q in s.questions] == ["abany", "natenvir", "helppoor", "cheat"]
    q = {x.id: x for x in s.questions}
    assert q["abany"].text == "abortion if woman wants for any reason"
    assert q["abany"].options == ("yes", "no")
    assert q["natenvir"].options == ("too little", "too much")  # codes used in the wave; "refused" missing
    assert q["helppoor"].options == ("government should help", "2", "agree with both", "4", "people help selves")
    assert q["cheat"].text == "i\u2019m always willing to admit a mistake"
    assert s.answers_of("20160004") == {"abany": "yes", "helppoor": "people help selves", "cheat": "no"}
    assert s.n_answers == 4 + 3 + 4 + 4
    a = s.attributes
    assert list(a.columns) == ["age", "sex", "race", "partyid"]
    assert a.loc["20160002", "age"] == 89 and np.isnan(a.loc["20160003", "age"])
    assert a.loc["20160002", "sex"] == "female"
    assert a.loc["20160002", "partyid"] == "strong republican"
    assert list(a["partyid"].cat.categories) == ["strong democrat", "not very strong democrat",
                                                 "independent", "strong republican"]
    src = s.source
    assert (src["kind"], src["wave"], src["path"]) == ("gss", "2016", str(panel))
    c = src["classification"]
    assert (c["columns"], c["questions"], c["attributes"]) == (13 + 2, 4, 4)  # 13 wave columns + yearid, samptype
    assert c["dropped_by_reason"] == {R_DESIGN: 4, R_WEIGHT: 1, R_ROSTER: 1, R_UNLABELLED: 1}
    assert src["attribute_labels"]["age"] == "age of respondent"


def test_synthetic_thresholds_apply(panel, tmp_path):
    s = load_gss(panel, "2016", GSSConfig(min_answers=4, cache_dir=tmp_path / "c"))
    assert [q.id for q in s.questions] == ["abany", "helppoor", "cheat"]  # natenvir has 3 answers


def test_synthetic_2018_and_2020_waves(panel, cfg):
    s18 = load_gss(panel, "2018", GSSConfig(min_answers=2, cache_dir=cfg.cache_dir))
    assert s18.respondent_ids == ["20180001", "20180002"]
    assert [q.id for q in s18.questions] == ["abany"]
    s20 = load_gss(panel, "2020", GSSConfig(min_answers=2, cache_dir=cfg.cache_dir))
    assert s20.respondent_ids == ["20160001", "20160003", "20180001"]
    a = s20.attributes
    # race was not asked again: it comes from the first interview (2016 or 2018)
    assert list(a["race"]) == ["white", "white", "black"]
    # age is only the 2020 value, never carried over
    assert a.loc["20160001", "age"] == 38 and np.isnan(a.loc["20160003", "age"])
    assert list(a["sex"]) == ["male", "female", "female"]


def test_cache_is_written_and_reused(panel, cfg, monkeypatch):
    first = load_gss(panel, "2016", cfg)
    cached = list((Path(cfg.cache_dir) / "gss").glob("*.npz"))
    assert len(cached) == 1

    def fail(path):
        raise AssertionError("parsed again although the cache is current")

    monkeypatch.setattr(gss, "_parse_rda", fail)
    again = load_gss(panel, "2016", cfg)
    assert again.fingerprint() == first.fingerprint()
    pd.testing.assert_frame_equal(again.attributes, first.attributes)


def test_cache_follows_file_changes(panel, cfg, monkeypatch):
    load_gss(panel, "2016", cfg)
    calls = []
    real = gss._parse_rda
    monkeypatch.setattr(gss, "_parse_rda", lambda p: calls.append(p) or real(p))
    st = panel.stat()
    os.utime(panel, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load_gss(panel, "2016", cfg)
    assert calls == [panel]
    load_gss(panel, "2016", GSSConfig(min_answers=3, use_cache=False))
    assert len(calls) == 2


def test_cache_dir_from_environment(panel, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_CACHE_DIR", str(tmp_path / "envcache"))
    load_gss(panel, "2016", GSSConfig(min_answers=3))
    assert list((tmp_path / "envcache" / "gss").glob("*.npz"))


def test_default_path_from_environment(panel, cfg, monkeypatch):
    monkeypatch.setenv("PERSONA_GSS_PATH", str(panel))
    assert gss.default_gss_path() == panel
    assert load_gss(None, "2016", cfg).n_respondents == 4
    monkeypatch.delenv("PERSONA_GSS_PATH")
    monkeypatch.delenv("PERSONA_SHARED_DIR", raising=False)
    repo = Path(gss.__file__).resolve().parents[2]
    assert gss.default_gss_path() == repo.parent / "shared" / "data" / "gss" / "gss_panel20.rda"


def test_default_path_follows_the_shared_folder(panel, cfg, monkeypatch, tmp_path):
    """``PERSONA_SHARED_DIR`` moves the shared folder, and the GSS file's default with it."""
    monkeypatch.delenv("PERSONA_GSS_PATH", raising=False)
    monkeypatch.setenv("PERSONA_SHARED_DIR", str(tmp_path / "elsewhere"))
    moved = tmp_path / "elsewhere" / "data" / "gss" / "gss_panel20.rda"
    assert gss.default_gss_path() == moved
    with pytest.raises(DataError, match="not found"):
        load_gss(None, "2016", cfg)
    moved.parent.mkdir(parents=True)
    moved.write_bytes(panel.read_bytes())
    assert load_gss(None, "2016", cfg).n_respondents == 4


# ================================================================== bad input
def test_unknown_wave(panel, cfg):
    with pytest.raises(ValueError, match="unknown GSS wave '2017'; choose one of 2016, 2018, 2020"):
        load_gss(panel, "2017", cfg)


def test_missing_file(tmp_path, cfg):
    with pytest.raises(DataError, match="file not found") as e:
        load_gss(tmp_path / "nope.rda", "2016", cfg)
    assert e.value.file == str(tmp_path / "nope.rda")


def test_not_an_rda_file(tmp_path, cfg):
    bad = tmp_path / "bad.rda"
    bad.write_text("respondent_id,question_id\n")
    with pytest.raises(DataError, match="cannot read as an R data file") as e:
        load_gss(bad, "2016", cfg)
    assert e.value.file == str(bad)


def test_wave_id_column_missing(tmp_path, cfg):
    p = write_panel(tmp_path / "p.rda", {
        "yearid": np.array(["1", "2"], dtype="U"),
        "abany_1a": Labelled([1, 2], "abortion", YES_NO),
    })
    with pytest.raises(DataError, match="respondent-number column missing") as e:
        load_gss(p, "2016", cfg)
    assert e.value.column == "id_1a"
