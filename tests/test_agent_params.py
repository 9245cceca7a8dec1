"""Every agent checks its controls with one rule and one wording (liveai.agents.shared)."""

from __future__ import annotations

import math

import pytest

from liveai.agents.shared import checked, known

PARAMS = {"amount": (0.0, 2.0, "how much"), "feel": (0, 31, "which drummer")}


def test_a_value_in_range_comes_back_as_a_float():
    assert checked("drums", PARAMS, "feel", 3) == 3.0 and isinstance(checked("drums", PARAMS, "feel", 3), float)
    assert checked("drums", PARAMS, "amount", "1.5") == 1.5       # a number sent as text by a patch


@pytest.mark.parametrize("value, message", [
    (2.5, "drums: amount must be in 0..2, got 2.5"),
    (math.nan, "drums: amount must be in 0..2, got nan"),
    ("loud", "drums: amount takes a number in 0..2, got 'loud'"),
    (None, "drums: amount takes a number in 0..2, got None"),
])
def test_bad_values_name_the_agent_the_control_and_its_range(value, message):
    with pytest.raises(ValueError) as err:
        checked("drums", PARAMS, "amount", value)
    assert str(err.value) == message


def test_an_unknown_control_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"interp: unknown param 'swing'; known: amount, feel"):
        known("interp", PARAMS, "swing")
    assert known("interp", PARAMS, "feel") == (0, 31)
