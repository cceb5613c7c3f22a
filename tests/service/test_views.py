from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from persona_core.service import views


def test_map_frame_colours(view):
    by_cohort = views.map_frame(view)
    assert list(by_cohort["id"]) == view.survey.respondent_ids
    assert set(by_cohort["color"]) <= {view.cohort_title(c) for c in [*view.cohorts, -1]}
    assert {"party", "region", "age"} <= set(by_cohort.columns)
    answers = views.map_frame(view, views.ColorChoice("question", "pet"))
    assert set(answers["color"]) <= {"Cat", "Dog", "Fish", "No pet", views.NO_ANSWER}
    a = view.survey.answers
    j = view.survey.question_index("pet")
    assert (answers["color"] != views.NO_ANSWER).sum() == int((a.question == j).sum())
    ages = views.map_frame(view, views.ColorChoice("attribute", "age"))
    assert ages["color"].dtype.kind in "fi"
    with pytest.raises(KeyError):
        views.map_frame(view, views.ColorChoice("attribute", "shoe size"))
    assert views.color_order(view, views.ColorChoice("cohort"))[-1] == "Outliers"


def test_outliers_are_shown_by_the_chosen_strategy(view):
    labels = np.asarray(view.cohort_labels)
    member, outlier = labels >= 0, labels < 0
    assert outlier.any()  # the small space has HDBSCAN outliers to place
    none, none_strength = views.shown_cohorts(view, "none")
    assert np.array_equal(none, labels) and np.all(none_strength[outlier] == 0)
    for strategy in ("soft", "centroid"):
        shown, strength = views.shown_cohorts(view, strategy)
        assert np.array_equal(shown[member], labels[member])  # members keep their cohort and strength
        assert np.allclose(strength[member], np.asarray(view.cohort_probabilities)[member])
        assert np.all(shown >= 0) and np.all((strength >= 0) & (strength <= 1))
        frame = views.map_frame(view, outlier_strategy=strategy)
        assert list(frame["color"]) == [view.cohort_title(int(c)) for c in shown]
        assert list(frame["cohort"]) == [view.cohort_title(int(c)) for c in labels]  # HDBSCAN's own, as exported
    soft, _ = views.shown_cohorts(view, "soft")
    assert np.array_equal(soft[outlier], np.asarray(view.likely_cohorts)[outlier])
    assert (views.map_frame(view, outlier_strategy="none")["color"] == "Outliers").sum() == int(outlier.sum())


def test_selection_summary_against_everybody(view):
    c = view.cohorts[0]
    ids = [view.survey.respondent_ids[i] for i in view.members(c)]
    summary = views.selection_summary(view, ids + ["ghost"])
    assert summary.ids == ids
    mix = summary.cohort_mix.set_index("cohort")
    assert mix.loc[view.cohort_title(c), "share_selected"] == 1.0
    assert np.isclose(mix["share_everybody"].sum(), 1.0)
    assert summary.distinctive and summary.distinctive[0]["distance"] > 0
    assert summary.demographics["party"]["kind"] == "categorical"
    cat, num = views.demographics_frame(summary.demographics)
    assert set(cat["group"]) == {"this group", "everybody"} and list(num["attribute"]) == ["age"]
    with pytest.raises(ValueError, match="empty"):
        views.selection_summary(view, ["ghost"])


def test_attributes_are_ranked_by_how_much_the_group_differs(view):
    # the synthetic groups are planted with their party; their regions are drawn at random
    members = view.members(view.cohorts[0])
    cat, _ = views.demographics_frame(views.selection_summary(view, [view.survey.respondent_ids[i] for i in members]).demographics)
    assert [attr for attr, _ in views.demographic_panels(cat)] == ["party", "region"]
    # by total variation: "b" moves 0.5 of its mass, "a" 0.1, "c" none (ties and zero mass kept last)
    rows = [("a", "x", 0.6, 0.5), ("a", "y", 0.4, 0.5), ("b", "x", 1.0, 0.5), ("b", "y", 0.0, 0.5),
            ("c", "x", 0.0, 0.5), ("c", "y", 0.0, 0.5)]
    frame = pd.DataFrame([{"attribute": a, "value": v, "group": g, "share": s}
                          for a, v, c, o in rows for g, s in (("this group", c), ("everybody", o))])
    assert [attr for attr, _ in views.demographic_panels(frame)] == ["b", "a", "c"]


def test_real_answers_count_the_raw_answers(view):
    a = view.survey.answers
    j = view.survey.question_index("parks")
    members = view.members(view.cohorts[0])
    real = views.real_answers(view, members, "parks")
    rows = (a.question == j) & np.isin(a.respondent, members)
    assert real.n == int(rows.sum()) and np.isclose(real.shares.sum(), 1.0)
    r = int(a.respondent[np.flatnonzero(a.question == j)[0]])
    one = views.real_answers(view, (r,), "parks")
    assert one.chosen == int(a.option[(a.question == j) & (a.respondent == r)][0])


def test_cohort_similarity_is_an_ordered_symmetric_matrix(view):
    labels, sim = views.cohort_similarity(view)
    assert sorted(labels) == view.cohorts
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-9)
    np.testing.assert_allclose(sim, sim.T)
    table = views.cohort_table(view)
    assert table["size"].sum() == view.survey.n_respondents
