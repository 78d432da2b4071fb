"""The transfer forecast: weekday-seasonal demand beats naive forecasts; thin series fall back."""

from __future__ import annotations

import numpy as np
import pytest

from wms.transfers import HOLT_WINTERS, MEAN, NO_DEMAND, SES, forecast_demand

#: A city week, Monday first: quiet early in the week, busy at the weekend.
WEEKDAYS = np.array([0.7, 0.6, 0.8, 0.9, 1.2, 1.6, 1.3])


def seasonal_demand(seed: int, days: int, *, level: float = 20.0) -> np.ndarray:
    """Daily units: the weekday pattern at a level, with Poisson noise."""
    rng = np.random.default_rng(seed)
    pattern = np.resize(WEEKDAYS, days)
    return rng.poisson(level * pattern).astype(float)


def mae(forecast: np.ndarray | tuple[float, ...], actual: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(forecast) - actual)))


def errors(level: float, horizon: int, seeds: range) -> tuple[np.ndarray, ...]:
    """MAE per seed of the forecast, the last value and the overall mean, on 28 days' history."""
    ours, last_value, overall_mean = [], [], []
    for seed in seeds:
        series = seasonal_demand(seed, 28 + horizon, level=level)
        history, coming = series[:28], series[28:]
        forecast = forecast_demand(history, horizon_days=horizon)
        assert forecast.method == HOLT_WINTERS
        ours.append(mae(forecast.per_day, coming))
        last_value.append(mae(np.full(horizon, history[-1]), coming))
        overall_mean.append(mae(np.full(horizon, history.mean()), coming))
    return np.array(ours), np.array(last_value), np.array(overall_mean)


@pytest.mark.parametrize(
    ("level", "horizon"), [(20.0, 7), (8.0, 3)], ids=["busy-week-ahead", "medium-3-days"]
)
def test_weekly_seasonal_demand_is_forecast_better_than_naive(level, horizon):
    ours, last_value, overall_mean = errors(level, horizon, range(20))

    # On average clearly better than either naive forecast, and better on most seeds.
    assert ours.mean() < 0.9 * min(last_value.mean(), overall_mean.mean())
    assert (ours < last_value).mean() >= 0.9
    assert (ours < overall_mean).mean() >= 0.65


def test_slow_movers_are_still_forecast_better_than_naive_on_average():
    # Three units a day: the noise is as large as the weekday pattern.
    ours, last_value, overall_mean = errors(3.0, 3, range(20))

    assert ours.mean() < min(last_value.mean(), overall_mean.mean())


def test_the_residual_spread_is_about_the_noise():
    series = seasonal_demand(7, 56, level=25.0)

    forecast = forecast_demand(series, horizon_days=3)

    # Poisson noise at a level of 25 x the weekday factor has a spread of about 5.
    assert 3.0 < forecast.sigma < 7.5


def test_no_demand_forecasts_zero():
    forecast = forecast_demand([0.0] * 28, horizon_days=3)

    assert forecast.per_day == (0.0, 0.0, 0.0)
    assert (forecast.method, forecast.sigma, forecast.mean) == (NO_DEMAND, 0.0, 0.0)
    assert forecast_demand([], horizon_days=2).method == NO_DEMAND


def test_intermittent_demand_gets_simple_smoothing_not_a_season():
    history = [0.0] * 28
    history[3], history[11], history[20], history[26] = 2.0, 1.0, 3.0, 1.0

    forecast = forecast_demand(history, horizon_days=3)

    assert forecast.method == SES
    assert 0.0 <= forecast.mean < 3.0
    assert len(set(forecast.per_day)) == 1  # a level, no weekday shape


def test_a_single_sale_is_spread_over_the_history():
    forecast = forecast_demand([0.0] * 27 + [6.0], horizon_days=3)

    assert forecast.method in (SES, MEAN)
    assert 0.0 <= forecast.mean <= 6.0
    assert np.isfinite(forecast.sigma)


def test_short_histories_fall_back_to_smoothing_then_the_mean():
    assert forecast_demand([4.0, 5.0, 6.0, 5.0, 4.0], horizon_days=2).method == SES
    two_days = forecast_demand([4.0, 6.0], horizon_days=2)
    assert (two_days.method, two_days.per_day) == (MEAN, (5.0, 5.0))


@pytest.mark.parametrize(
    "history",
    [
        [5.0] * 28,  # flat: no residuals at all
        [0.0] * 25 + [1.0, 1.0, 1.0],  # a start at the very end
        [0.0, 100.0] * 14,  # every other day
        [1e6] + [0.0] * 27,  # one outlier
    ],
    ids=["flat", "late-start", "alternating", "outlier"],
)
def test_awkward_series_never_raise_or_go_negative(history):
    forecast = forecast_demand(history, horizon_days=3)

    assert len(forecast.per_day) == 3
    assert all(np.isfinite(v) and v >= 0 for v in forecast.per_day)
    assert np.isfinite(forecast.sigma) and forecast.sigma >= 0


def test_a_flat_series_forecasts_its_level():
    forecast = forecast_demand([5.0] * 28, horizon_days=3)

    assert forecast.per_day == pytest.approx((5.0, 5.0, 5.0), abs=1e-6)


def test_the_forecast_is_deterministic():
    history = seasonal_demand(3, 28)

    assert forecast_demand(history, horizon_days=3) == forecast_demand(history, horizon_days=3)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_demand([1.0], horizon_days=0)
    with pytest.raises(ValueError, match="finite"):
        forecast_demand([1.0, float("nan")], horizon_days=1)
