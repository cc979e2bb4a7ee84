import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine import odds


def test_even_money_both_signs():
    assert odds.american_to_decimal([100, -100]).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("american", [-99, 0, 50, 99, -1])
def test_inside_minus_100_plus_100_is_invalid(american):
    assert math.isnan(float(odds.american_to_decimal(american)))
    assert not odds.is_valid_american(american)
    with pytest.raises(ValueError):
        odds.american_to_fraction(american)


def test_known_values():
    assert odds.american_to_decimal([-110, 150, -200]).tolist() == pytest.approx([1.909090909, 2.5, 1.5])
    assert odds.decimal_to_american([1.5, 2.5, 1.9090909, 2.0]).tolist() == [-200, 150, -110, 100]
    assert odds.implied_probability([2.0, 4.0, 1.0]).tolist()[:2] == [0.5, 0.25]
    assert math.isnan(odds.implied_probability([1.0])[0])
    assert odds.fractional_to_decimal(5, 2) == 3.5
    assert odds.to_american_int(1.995) == -101
    assert odds.to_american_int(2.004) == 100
    with pytest.raises(ValueError):
        odds.to_american_int(1.0)


@given(st.integers(min_value=100, max_value=100_000) | st.integers(min_value=-100_000, max_value=-100))
def test_american_round_trip(american):
    back = odds.decimal_to_american(odds.american_to_decimal(american))
    assert int(back) == american or (abs(american) == 100 and int(back) == 100)


def test_fraction_is_exact():
    assert odds.american_to_fraction(-110) * 100 == pytest.approx(190.9090909)
    assert odds.american_to_fraction(-110).denominator == 11


def test_never_returns_values_inside_the_gap():
    d = np.linspace(1.001, 50, 100_000)
    a = odds.decimal_to_american(d)
    assert np.all(np.abs(a) >= 100)


def test_hold_over_the_best_prices():
    from engine.odds import hold_percent

    assert odds.hold_percent is hold_percent
    assert hold_percent([1.91, 1.91]) == pytest.approx(4.712042, abs=1e-6)
    assert hold_percent([2.10, 2.05]) == pytest.approx(-3.600465, abs=1e-6)  # an arbitrage
    assert hold_percent([2.0, 3.4, 3.8]) == pytest.approx(5.727554, abs=1e-6)  # 0.5 + 0.294118 + 0.263158
    assert hold_percent([2.0, float("nan")]) is None and hold_percent([]) is None


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.floats(1.0001, 10_000.0), st.sampled_from([1.5, 1.91, 2.0, 1.995, 2.005, 1.01, 101.0, 1.9999])))
def test_the_scalar_conversion_equals_the_vectorized_one(d):
    """Market views convert each quote with the scalar form: it must give what the array form gives, exactly."""
    assert odds.to_american_int(d) == int(odds.decimal_to_american(np.array([d]))[0])
