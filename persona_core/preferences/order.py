"""Blind display order: which stored response is shown on the left, and the mapping between
what the annotator clicked (left / right / tie / both bad) and the stored choice (a / b / ...)."""
from __future__ import annotations

import random

ORDERS = ("ab", "ba")  # "ab": response_a on the left; "ba": response_b on the left
SHOWN_CHOICES = ("left", "right", "tie", "both_bad")


def draw_order(rng: random.Random | None = None) -> str:
    """A random display order (``"ab"`` or ``"ba"``, each with probability 1/2)."""
    return (rng or random.SystemRandom()).choice(ORDERS)


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"display order must be one of {ORDERS}, got {order!r}")


def left_side(order: str) -> str:
    """The stored side (``"a"`` / ``"b"``) shown on the left."""
    _check_order(order)
    return order[0]


def shown_to_choice(shown: str, order: str) -> str:
    """The stored choice for what was clicked: ``left``/``right`` become ``a``/``b`` through
    ``order``; ``tie`` and ``both_bad`` stay."""
    _check_order(order)
    if shown == "left":
        return order[0]
    if shown == "right":
        return order[1]
    if shown in ("tie", "both_bad"):
        return shown
    raise ValueError(f"shown choice must be one of {SHOWN_CHOICES}, got {shown!r}")


def choice_to_shown(choice: str, order: str) -> str:
    """Inverse of :func:`shown_to_choice`."""
    _check_order(order)
    if choice in ("a", "b"):
        return "left" if order[0] == choice else "right"
    if choice in ("tie", "both_bad"):
        return choice
    raise ValueError(f"choice must be a, b, tie or both_bad, got {choice!r}")


def displayed(response_a: str, response_b: str, order: str) -> tuple[str, str]:
    """``(left text, right text)`` of a pair shown in ``order``."""
    _check_order(order)
    return (response_a, response_b) if order == "ab" else (response_b, response_a)
