"""Step 2 of predict: run the champion and hold its output to the forecast contract.

A model that returns the wrong hours, duplicates or a missing series must not reach the
`predictions` group: the check names the broken rule and what was found, and nothing is written.
"""

from __future__ import annotations

import pandas as pd

from energy_batch.champion import Champion
from energy_batch.exceptions import ModelOutputError
from energy_core.schemas import FORECAST_OUTPUT_COLUMNS, PREDICTIONS, UTC_DTYPE

SERIES = ["area", "consumer_type"]


def run_model(champion: Champion, model_input: pd.DataFrame) -> pd.DataFrame:
    """The champion's raw forecast frame (whatever pyfunc returns, as a DataFrame)."""
    output = champion.model.predict(model_input)
    if not isinstance(output, pd.DataFrame):
        raise ModelOutputError(
            f"champion {champion.label} returned {type(output).__name__}, expected a DataFrame with "
            f"columns {list(FORECAST_OUTPUT_COLUMNS)}"
        )
    return output


def expected_targets(series: pd.DataFrame, as_of: pd.Timestamp, horizon_hours: int) -> pd.DataFrame:
    """The (series, target hour, hours_ahead) rows a complete forecast has."""
    ahead = pd.DataFrame({"hours_ahead": range(1, horizon_hours + 1)})
    grid = series[SERIES].drop_duplicates().merge(ahead, how="cross")
    grid["datetime_utc"] = (as_of + pd.to_timedelta(grid["hours_ahead"], unit="h")).astype(UTC_DTYPE)
    return grid


def check_forecast(output: pd.DataFrame, series: pd.DataFrame, as_of: pd.Timestamp, horizon_hours: int) -> pd.DataFrame:
    """The model output restricted to the contract's columns, or ModelOutputError naming the rule."""
    missing = [c for c in FORECAST_OUTPUT_COLUMNS if c not in output.columns]
    if missing:
        raise ModelOutputError(f"forecast lacks column(s) {missing}; found {list(output.columns)}")
    out = output[list(FORECAST_OUTPUT_COLUMNS)].copy()
    out["area"] = out["area"].astype("string")
    out["consumer_type"] = out["consumer_type"].astype("string")
    times = out["datetime_utc"]
    # tz-aware output is converted directly: pd.to_datetime samples a Series element by element first
    out["datetime_utc"] = (
        times.dt.tz_convert("UTC") if isinstance(times.dtype, pd.DatetimeTZDtype) else pd.to_datetime(times, utc=True)
    ).astype(UTC_DTYPE)
    out["hours_ahead"] = out["hours_ahead"].astype("int64")
    for col in ("prediction_kwh", "prediction_q10_kwh", "prediction_q90_kwh"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")

    key = [*SERIES, "datetime_utc"]
    dupes = out[out.duplicated(key, keep=False)]
    if not dupes.empty:
        raise ModelOutputError(f"forecast has {len(dupes)} duplicated (series, hour) rows, e.g.\n{dupes.head()}")
    expected = expected_targets(series, as_of, horizon_hours)
    joined = expected.merge(out, on=key, how="outer", suffixes=("_expected", ""), indicator=True)
    absent = joined[joined["_merge"] == "left_only"]
    if not absent.empty:
        raise ModelOutputError(
            f"forecast as of {as_of.isoformat()} lacks {len(absent)} of {len(expected)} (series, target hour) "
            f"rows, e.g.\n{absent[key].head()}"
        )
    extra = joined[joined["_merge"] == "right_only"]
    if not extra.empty:
        raise ModelOutputError(
            f"forecast as of {as_of.isoformat()} has {len(extra)} rows outside the series and hours "
            f"{as_of + pd.Timedelta(hours=1)} … {as_of + pd.Timedelta(hours=horizon_hours)}, e.g.\n{extra[key].head()}"
        )
    wrong_ahead = joined[joined["hours_ahead"] != joined["hours_ahead_expected"]]
    if not wrong_ahead.empty:
        raise ModelOutputError(f"hours_ahead disagrees with the target hour in {len(wrong_ahead)} rows")
    no_point = out[out["prediction_kwh"].isna()]
    if not no_point.empty:
        raise ModelOutputError(f"forecast has {len(no_point)} rows without a point prediction, e.g.\n{no_point.head()}")
    return out.sort_values(key).reset_index(drop=True)


def to_predictions(
    forecast: pd.DataFrame, champion: Champion, as_of: pd.Timestamp, model_family: str | None
) -> pd.DataFrame:
    """Rows of the `predictions` group: the forecast stamped with its origin, model and what
    produced it (`model_family`: the champion's family tag, or the cold-start baseline's)."""
    rows = forecast.copy()
    rows["forecast_made_at"] = pd.Series(as_of, index=rows.index).astype(UTC_DTYPE)
    rows["model_name"] = pd.Series(champion.info.name, index=rows.index, dtype="string")
    rows["model_version"] = pd.Series(int(champion.info.version), index=rows.index, dtype="int64")
    rows["model_family"] = pd.Series(model_family, index=rows.index, dtype="string")
    return rows[list(PREDICTIONS.columns)]
