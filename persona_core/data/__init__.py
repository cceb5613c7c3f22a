"""Survey data: one in-memory representation and loaders into it."""
from persona_core.data.errors import DataError
from persona_core.data.survey import Answers, Question, Survey

__all__ = ["Answers", "DataError", "Question", "Survey"]
