"""What the app's pages call: loading stored persona spaces, summaries for the map and cohort
pages, steered-vs-unsteered comparisons, evaluation tables. No Streamlit here; every function
takes and returns plain Python, numpy and pandas objects, so the same calls work from a notebook.
"""
from persona_core.service.catalog import DatabaseStatus, SpaceView, database_status, load_space_view
from persona_core.service.personas import Persona, cohort_persona, describe_persona, respondent_persona, selection_persona

__all__ = [
    "DatabaseStatus",
    "Persona",
    "SpaceView",
    "cohort_persona",
    "database_status",
    "describe_persona",
    "load_space_view",
    "respondent_persona",
    "selection_persona",
]
