"""CSV long-format loader: the fixture, the format's options, and every bad-input case."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from persona_core.data.csv_long import load_csv, parse_options, read_csv_table
from persona_core.data.errors import DataError
from tests.data.conftest import CSV_SMALL, assert_data_error

QUESTIONS = (
    "question_id,text,options\n"
    "q1,Do you agree?,Agree|Neutral|Disagree\n"
    'q2,Pet?,"[""Cat"", ""Dog""]"\n'
)
ANSWERS = "respondent_id,question_id,answer\nr1,q1,Agree\nr1,q2,Dog\nr2,q1,Disagree\n"


def write_survey(tmp_path: Path, answers: str | bytes = ANSWERS, questions: str | bytes = QUESTIONS,
                 respondents: str | bytes | None = None) -> Path:
    for name, content in (("answers.csv", answers), ("questions.csv", questions), ("respondents.csv", respondents)):
        if content is None:
            continue
        data = content.encode() if isinstance(content, str) else content
        (tmp_path / name).write_bytes(data)
    return tmp_path


# ---------------------------------------------------------------- the fixture
def test_fixture_loads_questions_options_and_answers():
    s = load_csv(CSV_SMALL)
    assert s.name == "csv_small"
    assert s.source == {"kind": "csv", "path": str(CSV_SMALL)}
    assert [q.id for q in s.questions] == ["q_parks", "q_bus", "q_pet", "q_trust"]
    parks = s.questions[0]
    assert parks.options == ("Much less", "Less", "The same", "More", "Much more")  # JSON list
    assert s.questions[1].options == ("Yes", "No")  # "|"-separated
    assert [q.ordinal for q in s.questions] == [True, True, False, True]  # true / blank / false / yes
    assert s.questions[3].text == "Most people can be trusted, or you can't be too careful?"
    # r3's blank q_bus answer is skipped; r7 (in respondents.csv, no answers) is left out
    assert s.respondent_ids == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert s.n_answers == 17
    assert s.answers_of("r1") == {"q_parks": "More", "q_bus": "Yes", "q_pet": "Dog",
                                  "q_trust": "Most people can be trusted"}
    assert "q_bus" not in s.answers_of("r3")
    # "much more" matches "Much more" case-insensitively
    assert s.answers_of("r4")["q_parks"] == "Much more"
    np.testing.assert_array_equal(s.option_counts("q_parks"), [1, 1, 1, 1, 1])


def test_fixture_attributes_numeric_and_text():
    s = load_csv(CSV_SMALL)
    a = s.attributes
    assert list(a.columns) == ["age", "party", "district"]
    assert a.loc["r2", "age"] == 61 and a["age"].dtype.kind in "if"
    assert a.loc["r4", "party"] == "Democrat"
    assert a["party"].isna().sum() == 1 and a["district"].isna().sum() == 1
    assert "r7" not in a.index


def test_round_trip_through_long_frame(tmp_path):
    s = load_csv(CSV_SMALL)
    shutil.copy(CSV_SMALL / "questions.csv", tmp_path / "questions.csv")
    s.to_long_frame().to_csv(tmp_path / "answers.csv", index=False)
    again = load_csv(tmp_path)
    assert again.fingerprint() == s.fingerprint()


def test_without_respondents_file(tmp_path):
    s = load_csv(write_survey(tmp_path))
    assert s.respondent_ids == ["r1", "r2"]
    assert list(s.attributes.columns) == []
    assert s.n_answers == 3


def test_parse_options_formats():
    assert parse_options('["a", "b, c"]') == ["a", "b, c"]
    assert parse_options("a | b|c") == ["a", "b", "c"]


def test_option_indices_are_not_answers(tmp_path):
    # documented decision: answers are option texts; "0" is not read as the first option
    d = write_survey(tmp_path, answers="respondent_id,question_id,answer\nr1,q1,0\n")
    with pytest.raises(DataError) as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 2, "answer")


# ------------------------------------------------------------- bad input
def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="directory not found"):
        load_csv(tmp_path / "nope")


def test_missing_answers_file(tmp_path):
    (tmp_path / "questions.csv").write_text(QUESTIONS)
    with pytest.raises(DataError, match="file not found") as e:
        load_csv(tmp_path)
    assert_data_error(e, "answers.csv", None, None)


def test_missing_questions_file(tmp_path):
    (tmp_path / "answers.csv").write_text(ANSWERS)
    with pytest.raises(DataError, match="file not found") as e:
        load_csv(tmp_path)
    assert_data_error(e, "questions.csv", None, None)


def test_missing_column_in_answers(tmp_path):
    d = write_survey(tmp_path, answers="respondent_id,question,answer\nr1,q1,Agree\n")
    with pytest.raises(DataError, match="missing column") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 1, "question_id")


def test_missing_column_in_questions(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text\nq1,Agree?\n")
    with pytest.raises(DataError, match="missing column") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 1, "options")


def test_missing_respondent_id_column(tmp_path):
    d = write_survey(tmp_path, respondents="id,age\nr1,30\nr2,40\n")
    with pytest.raises(DataError) as e:
        load_csv(d)
    assert_data_error(e, "respondents.csv", 1, "respondent_id")


def test_answer_not_among_options(tmp_path):
    d = write_survey(tmp_path, answers=ANSWERS + "r2,q2,Hamster\n")
    with pytest.raises(DataError, match="'Hamster' is not among the options") as e:
        load_csv(d)
    err = assert_data_error(e, "answers.csv", 5, "answer")
    assert "Cat | Dog" in str(err)


def test_duplicate_respondent_question_rows(tmp_path):
    d = write_survey(tmp_path, answers=ANSWERS + "r1,q1,Neutral\n")
    msg = "duplicate answer of respondent 'r1' to question 'q1' \\(first on line 2\\)"
    with pytest.raises(DataError, match=msg) as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 5, "question_id")


def test_unknown_question_id(tmp_path):
    d = write_survey(tmp_path, answers=ANSWERS + "r2,q9,Agree\n")
    with pytest.raises(DataError, match="unknown question id 'q9'") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 5, "question_id")


def test_empty_file(tmp_path):
    d = write_survey(tmp_path, answers="")
    with pytest.raises(DataError, match="file is empty") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", None, None)


def test_header_only_file(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text,options\n")
    with pytest.raises(DataError, match="no data rows") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 1, None)


def test_non_utf8_bytes_name_line_and_column(tmp_path):
    # "café" saved as cp1252 (0xe9) in the answer column of line 3
    bad = b"respondent_id,question_id,answer\nr1,q1,Agree\nr2,q2,caf\xe9\n"
    d = write_survey(tmp_path, answers=bad)
    with pytest.raises(DataError, match="not valid UTF-8") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 3, "answer")


def test_non_utf8_in_header(tmp_path):
    d = write_survey(tmp_path, questions=b"question_id,t\xe9xt,options\nq1,x,a|b\n")
    with pytest.raises(DataError, match="not valid UTF-8") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 1, "#2")  # the header's second field


def test_utf8_bom_is_accepted(tmp_path):
    d = write_survey(tmp_path, answers=b"\xef\xbb\xbf" + ANSWERS.encode())
    assert load_csv(d).n_answers == 3


def test_line_numbers_count_multiline_cells(tmp_path):
    questions = 'question_id,text,options\nq1,"Two\nline wording",a|b\nq2,Other,a|b\nq2,Again,a|b\n'
    d = write_survey(tmp_path, questions=questions, answers="respondent_id,question_id,answer\nr1,q1,a\n")
    with pytest.raises(DataError, match="duplicate question id 'q2' \\(first on line 4\\)") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 5, "question_id")


def test_wrong_number_of_fields(tmp_path):
    d = write_survey(tmp_path, answers="respondent_id,question_id,answer\nr1,q1\n")
    with pytest.raises(DataError, match="expected 3 fields, found 2") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 2, "answer")


def test_unreadable_options(tmp_path):
    d = write_survey(tmp_path, questions='question_id,text,options\nq1,Agree?,"[""a"", "\n')
    with pytest.raises(DataError, match="cannot read options") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 2, "options")


def test_single_option_question(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text,options\nq1,Agree?,Yes\n")
    with pytest.raises(DataError, match="at least 2 options") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 2, "options")


def test_repeated_option(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text,options\nq1,Agree?,Yes|No|Yes\n")
    with pytest.raises(DataError, match="'Yes' twice") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 2, "options")


def test_bad_ordinal_value(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text,options,ordinal\nq1,Agree?,Yes|No,maybe\n")
    with pytest.raises(DataError, match="not true/false") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 2, "ordinal")


def test_question_without_text(tmp_path):
    d = write_survey(tmp_path, questions="question_id,text,options\nq1,,Yes|No\n")
    with pytest.raises(DataError, match="has no text") as e:
        load_csv(d)
    assert_data_error(e, "questions.csv", 2, "text")


def test_duplicate_respondent_in_respondents_file(tmp_path):
    d = write_survey(tmp_path, respondents="respondent_id,age\nr1,30\nr2,40\nr1,31\n")
    with pytest.raises(DataError, match="duplicate respondent id 'r1' \\(first on line 2\\)") as e:
        load_csv(d)
    assert_data_error(e, "respondents.csv", 4, "respondent_id")


def test_answering_respondent_missing_from_respondents_file(tmp_path):
    d = write_survey(tmp_path, respondents="respondent_id,age\nr1,30\n")
    with pytest.raises(DataError, match="respondent 'r2' is not listed in respondents.csv") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 4, "respondent_id")


def test_duplicate_column_names(tmp_path):
    d = write_survey(tmp_path, answers="respondent_id,question_id,answer,answer\nr1,q1,Agree,Agree\n")
    with pytest.raises(DataError, match="duplicate column name") as e:
        load_csv(d)
    assert_data_error(e, "answers.csv", 1, "answer")


def test_all_answers_blank(tmp_path):
    d = write_survey(tmp_path, answers="respondent_id,question_id,answer\nr1,q1,\n")
    with pytest.raises(DataError, match="no answers"):
        load_csv(d)


def test_read_csv_table_reports_start_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('a,b\n1,"x\ny"\n\n2,z\n')
    t = read_csv_table(p)
    assert t.rows == [["1", "x\ny"], ["2", "z"]]
    assert t.lines == [2, 5]
