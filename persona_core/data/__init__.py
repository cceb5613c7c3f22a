"""Survey data: one in-memory representation and loaders into it."""
from persona_core.data.csv_long import load_csv
from persona_core.data.errors import DataError
from persona_core.data.gss import GSSConfig, gss_classification, load_gss
from persona_core.data.loaders import KINDS, load_survey
from persona_core.data.opinionqa import load_opinionqa
from persona_core.data.survey import Answers, Question, Survey

__all__ = [
    "Answers",
    "DataError",
    "GSSConfig",
    "KINDS",
    "Question",
    "Survey",
    "gss_classification",
    "load_csv",
    "load_gss",
    "load_opinionqa",
    "load_survey",
]
