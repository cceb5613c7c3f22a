"""``load_survey`` dispatches to the three loaders and rejects unknown kinds."""
from __future__ import annotations

import pytest

from persona_core.data import DataError, load_csv, load_opinionqa
from persona_core.data.loaders import KINDS, load_survey
from tests.data.conftest import CSV_SMALL, OPINIONQA_ROOT
from tests.data.synthetic_rda import make_panel


def test_csv_kind():
    s = load_survey("csv", CSV_SMALL)
    assert s.source["kind"] == "csv"
    assert s.fingerprint() == load_csv(CSV_SMALL).fingerprint()


def test_opinionqa_kind_with_wave():
    s = load_survey("opinionqa", OPINIONQA_ROOT, "W99")
    assert s.source == {"kind": "opinionqa", "wave": "W99", "path": str(OPINIONQA_ROOT / "American_Trends_Panel_W99")}
    assert s.fingerprint() == load_opinionqa(OPINIONQA_ROOT, "99").fingerprint()


def test_gss_kind_uses_default_path_and_wave(tmp_path, monkeypatch):
    panel = make_panel(tmp_path / "panel.rda")
    monkeypatch.setenv("PERSONA_GSS_PATH", str(panel))
    monkeypatch.setenv("PERSONA_CACHE_DIR", str(tmp_path / "cache"))
    # the synthetic panel is tiny, so with the default 300-answer threshold nothing qualifies:
    # the error proves the GSS loader ran on the default path and the default (2016) wave
    with pytest.raises(DataError, match="no column qualifies as a question") as e:
        load_survey("gss")
    assert e.value.file == str(panel)
    with pytest.raises(ValueError, match="unknown GSS wave '1999'"):
        load_survey("GSS", wave="1999")


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="unknown survey kind 'spss'; choose one of: gss, opinionqa, csv"):
        load_survey("spss", CSV_SMALL)
    assert KINDS == ("gss", "opinionqa", "csv")


@pytest.mark.parametrize("kind", ["csv", "opinionqa"])
def test_path_is_required(kind):
    with pytest.raises(ValueError, match="needs a path"):
        load_survey(kind)


def test_csv_has_no_waves():
    with pytest.raises(ValueError, match="no waves"):
        load_survey("csv", CSV_SMALL, wave="2016")
