"""On/off switches read from the environment, parsed one way everywhere."""
from __future__ import annotations

import os

ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """The switch ``name``: one of :data:`ON` or :data:`OFF` (any case, spaces ignored); unset or
    empty gives ``default``. Any other value is an error naming the variable, so a typo neither
    turns a switch on nor off without a word."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ON:
        return True
    if raw in OFF:
        return False
    raise ValueError(f"environment variable {name}={os.environ[name]!r}: expected one of {', '.join(ON)} "
                     f"(on) or {', '.join(OFF)} (off)")
