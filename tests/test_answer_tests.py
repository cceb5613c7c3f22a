import subprocess
import sys

import numpy as np
from scipy.stats import chi2_contingency

from persona_core.answer_tests import homogeneity_pvalues


def test_homogeneity_pvalues_equal_scipy_chi2_contingency_per_question():
    """All questions at once give each question's own chi-square test of homogeneity (no
    continuity correction), as scipy.stats.chi2_contingency computes it table by table."""
    rng = np.random.default_rng(3)
    n_options = [2, 3, 5, 4, 2, 3]
    qid = np.repeat(np.arange(len(n_options)), n_options)
    a = rng.integers(3, 40, qid.size).astype(float)
    b = rng.integers(3, 40, qid.size).astype(float)
    b[qid == 2] = a[qid == 2] * 3  # the same shares in both groups: no difference at all
    got = homogeneity_pvalues(a, b, qid)
    for q in range(len(n_options)):
        table = np.stack([a[qid == q], b[qid == q]])
        expected = chi2_contingency(table, correction=False).pvalue
        assert np.isclose(got[q], expected, rtol=1e-9, atol=1e-15), (q, got[q], expected)
    assert np.isclose(got[2], 1.0)


def test_untestable_questions_get_p_value_one():
    qid = np.array([0, 0, 1, 1, 2, 2])
    a = np.array([30.0, 0.0, 2.0, 1.0, 40.0, 5.0])  # question 0: one option only; question 1: 3 answers
    b = np.array([10.0, 0.0, 20.0, 30.0, 5.0, 40.0])
    got = homogeneity_pvalues(a, b, qid, min_answers=5)
    assert got[0] == 1.0 and got[1] == 1.0
    assert got[2] < 1e-6


def test_a_selection_summary_does_not_import_scipy_stats():
    """The map's selection summary runs these tests; importing scipy.stats for them took 1.45 s,
    paid by the first selection after the app started."""
    code = (
        "import sys, numpy as np\n"
        "from persona_core.profile import ProfileConfig, distinctive_questions\n"
        "from tests.synthetic import planted_survey\n"
        "survey, groups = planted_survey(n_respondents=200, n_questions=20, n_groups=2, seed=1)\n"
        "assert distinctive_questions(survey, np.flatnonzero(groups == 0), ProfileConfig(top_questions=3))\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
