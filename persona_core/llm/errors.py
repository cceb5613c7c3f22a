"""Errors of the language-model backend."""
from __future__ import annotations

from persona_core.data.errors import DataError


class ModelError(DataError):
    """A model source that cannot, or must not, be loaded (named in the message)."""
