from __future__ import annotations

from persona_core.service.evaluation import alignment_frame, headline, methods_frame


def test_methods_in_issue_order_with_their_measures():
    frame = methods_frame({"methods": {"cf": {"accuracy": 0.6}, "unsteered": {"accuracy": 0.3, "loglik": -1.0},
                                       "spm_individual": {"accuracy": 0.5, "note": "x"}}})
    assert list(frame["method"]) == ["unsteered", "spm_individual", "cf"]
    assert frame.loc[0, "loglik"] == -1.0 and "note" not in frame


def test_alignment_frame_reads_the_shape_the_evaluation_writes():
    stored = {"cohort_alignment": {
        "n_cohorts": 2, "n_answers": 52, "spm_cohort_better_share": 0.5, "unsteered": 0.623, "spm_cohort": 0.765,
        "pairs": {"n_pairs": 7, "min_answers": 10, "unsteered": 0.61, "spm_cohort": 0.72},
        "per_cohort": {"0": {"n_answers": 40, "n_questions": 5, "unsteered": 0.6, "spm_cohort": 0.8},
                       "3": {"n_answers": 12, "n_questions": 3, "unsteered": 0.7, "spm_cohort": 0.65}}}}
    frame = alignment_frame(stored)
    assert sorted(zip(frame["method"], frame["cohort"], frame["alignment"], frame["n_answers"])) == [
        ("spm_cohort", "0", 0.8, 40), ("spm_cohort", "3", 0.65, 12), ("spm_cohort", "all", 0.765, 52),
        ("unsteered", "0", 0.6, 40), ("unsteered", "3", 0.7, 12), ("unsteered", "all", 0.623, 52)]
    assert not {"n_pairs", "n_answers", "n_cohorts", "pairs"} & set(frame["method"]) and frame["alignment"].between(0, 1).all()
    assert alignment_frame({}).empty
    assert headline({"n_heldout": 3, "methods": {}, "flag": True}) == {"n_heldout": 3}
