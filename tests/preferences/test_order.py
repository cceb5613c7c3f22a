"""Blind order: both orders occur, and clicks map back to the stored sides."""
from __future__ import annotations

import random

import pytest

from persona_core.preferences.order import choice_to_shown, displayed, draw_order, left_side, shown_to_choice


def test_draw_order_gives_both_orders_about_equally():
    draws = [draw_order(random.Random(i)) for i in range(400)]
    assert set(draws) == {"ab", "ba"}
    assert 150 < draws.count("ab") < 250
    unseeded = {draw_order() for _ in range(60)}
    assert unseeded == {"ab", "ba"}


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_shown_choice_maps_to_the_stored_side(order):
    left, right = displayed("text a", "text b", order)
    assert left == ("text a" if order == "ab" else "text b")
    assert shown_to_choice("left", order) == left_side(order)
    assert {"left": left, "right": right}[choice_to_shown("a", order)] == "text a"
    for shown in ("left", "right", "tie", "both_bad"):
        assert choice_to_shown(shown_to_choice(shown, order), order) == shown


def test_bad_values_raise():
    with pytest.raises(ValueError, match="display order"):
        shown_to_choice("left", "xx")
    with pytest.raises(ValueError, match="shown choice"):
        shown_to_choice("up", "ab")
