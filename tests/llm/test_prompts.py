import pytest

from persona_core.llm.prompts import MCFormat, mc_user_text, option_labels


def test_option_labels():
    assert option_labels(3) == ["A", "B", "C"]
    assert option_labels(2, MCFormat(answer_cue="Answer:")) == [" A", " B"]
    assert option_labels(2, MCFormat(answer_cue="Answer: ")) == ["A", "B"]
    with pytest.raises(ValueError, match="between 1 and 26"):
        option_labels(27)


def test_mc_user_text_lists_lettered_options():
    text = mc_user_text("  Pick one?", ["Yes", "No"])
    assert text.splitlines() == [
        "Question: Pick one?",
        "Options:",
        "A. Yes",
        "B. No",
        "Answer with the letter of one option.",
    ]
