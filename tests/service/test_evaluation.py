from __future__ import annotations

from persona_core.service.evaluation import alignment_frame, headline, methods_frame


def test_methods_in_issue_order_with_their_measures():
    frame = methods_frame({"methods": {"cf": {"accuracy": 0.6}, "unsteered": {"accuracy": 0.3, "loglik": -1.0},
                                       "spm_individual": {"accuracy": 0.5, "note": "x"}}})
    assert list(frame["method"]) == ["unsteered", "spm_individual", "cf"]
    assert frame.loc[0, "loglik"] == -1.0 and "note" not in frame


def test_alignment_in_either_nesting():
    by_method = alignment_frame({"cohort_alignment": {"spm_cohort": {"0": 0.8, "1": 0.7}}})
    by_cohort = alignment_frame({"cohort_alignment": {"0": {"spm_cohort": 0.8}, "1": {"spm_cohort": 0.7}}})
    for frame in (by_method, by_cohort):
        assert sorted(zip(frame["method"], frame["cohort"], frame["alignment"])) == [
            ("spm_cohort", "0", 0.8), ("spm_cohort", "1", 0.7)]
    assert list(alignment_frame({"cohort_alignment": {"unsteered": 0.5}})["cohort"]) == ["all"]
    assert alignment_frame({}).empty
    assert headline({"n_heldout": 3, "methods": {}, "flag": True}) == {"n_heldout": 3}
