"""predict: the champion's next 24 hours for every series, stored idempotently in `predictions`."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_batch.champion import Champion, load_champion
from energy_batch.exceptions import ModelOutputError, NoDataAtAsOf
from energy_batch.model_input import build_model_input
from energy_batch.pipeline import predict
from energy_batch.settings import BatchSettings
from energy_core.feature_store import FeatureStore
from energy_core.registry import ModelRegistry
from energy_core.schemas import ENERGY_CONSUMPTION, PREDICTIONS

from .batch_support import AS_OF, SERIES, consumption
from .conftest import Stack

SETTINGS = BatchSettings()


@pytest.fixture(scope="module")
def champion(stack: Stack) -> Champion:
    return load_champion(stack.registry())


def test_predict_writes_every_series_for_hours_ahead_1_to_24(store: FeatureStore, champion: Champion) -> None:
    result = predict(store, champion, AS_OF, SETTINGS)

    rows = store.read(PREDICTIONS)
    assert result.series == len(SERIES) == 76
    assert len(rows) == 76 * 24
    assert set(rows["forecast_made_at"]) == {AS_OF}
    assert sorted(rows["hours_ahead"].unique()) == list(range(1, 25))
    assert (rows["datetime_utc"] - rows["forecast_made_at"] == pd.to_timedelta(rows["hours_ahead"], unit="h")).all()
    assert set(rows["model_version"]) == {champion.info.version}
    assert set(rows["model_name"]) == {champion.info.name}
    assert rows.groupby(["area", "consumer_type"]).size().eq(24).all()


def test_predict_forecasts_match_the_seasonal_naive_rule_on_known_history(
    store: FeatureStore, champion: Champion
) -> None:
    predict(store, champion, AS_OF, SETTINGS)
    rows = store.read(PREDICTIONS, filters={"area": "DK2", "consumer_type": "999"})
    actuals = store.read(ENERGY_CONSUMPTION, filters={"area": "DK2", "consumer_type": "999"}).set_index("datetime_utc")
    expected = actuals.loc[rows["datetime_utc"] - pd.Timedelta(hours=24), "energy_consumption_kwh"].to_numpy()
    assert rows["prediction_kwh"].to_numpy() == pytest.approx(expected)
    assert (rows["prediction_q10_kwh"] <= rows["prediction_q90_kwh"]).all()


def test_predict_twice_for_the_same_as_of_leaves_one_row_per_key(store: FeatureStore, champion: Champion) -> None:
    first = predict(store, champion, AS_OF, SETTINGS)
    second = predict(store, champion, AS_OF, SETTINGS)

    assert second.rows_changed == 0
    assert second.table_version == first.table_version
    rows = store.read(PREDICTIONS)
    assert len(rows) == 76 * 24
    assert not rows.duplicated(list(PREDICTIONS.key)).any()


def test_model_input_holds_nothing_after_the_as_of_hour(store: FeatureStore) -> None:
    frame = build_model_input(store, AS_OF, SETTINGS.history_hours, SETTINGS.horizon_hours)

    history = frame[frame["energy_consumption_kwh"].notna()]
    future = frame[frame["energy_consumption_kwh"].isna()]
    assert history["datetime_utc"].max() == AS_OF  # the store holds rows after AS_OF: none leak in
    assert history.groupby(["area", "consumer_type"]).size().eq(SETTINGS.history_hours).all()
    assert future["datetime_utc"].min() == AS_OF + pd.Timedelta(hours=1)
    assert future.groupby(["area", "consumer_type"]).size().eq(24).all()


def test_a_series_without_the_as_of_hour_is_not_forecast(store: FeatureStore, champion: Champion) -> None:
    as_of = pd.Timestamp("2023-01-26T00:00Z")  # one hour after the store's data
    only_one = consumption(as_of, 1, series=[("DK1", "111")])
    store.insert(ENERGY_CONSUMPTION, only_one)

    result = predict(store, champion, as_of, SETTINGS)

    assert result.series == 1
    rows = store.read(PREDICTIONS, start=as_of.to_pydatetime())
    assert set(zip(rows["area"], rows["consumer_type"], strict=True)) == {("DK1", "111")}


def test_predict_without_any_data_at_the_as_of_hour_fails_and_writes_nothing(
    store: FeatureStore, champion: Champion
) -> None:
    with pytest.raises(NoDataAtAsOf, match="no consumption rows at the as-of hour 2023-02-01"):
        predict(store, champion, pd.Timestamp("2023-02-01T00:00Z"), SETTINGS)
    assert not store.exists(PREDICTIONS)


class _ShortForecast:
    """An in-process model that forgets the last hour: what a broken champion looks like."""

    def __init__(self, inner: Champion) -> None:
        self.inner = inner

    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        out = self.inner.model.predict(data)
        return out[out["hours_ahead"] < 24]


def test_a_forecast_missing_hours_is_rejected_and_nothing_is_written(
    store: FeatureStore, champion: Champion, registry: ModelRegistry
) -> None:
    broken = Champion(info=champion.info, model=_ShortForecast(champion))
    with pytest.raises(ModelOutputError, match="lacks 76 of 1824"):
        predict(store, broken, AS_OF, SETTINGS)
    assert not store.exists(PREDICTIONS)


def test_series_summary_gives_each_series_its_as_of_row_last_hour_and_first_labelled_hour() -> None:
    """The per-series facts predict routes by, from one groupby: a leading null label does not count
    as history, a series whose last row is before the as-of hour is not at it, and a series that
    has only null labels has no first known hour (and is still at the as-of hour if it has a row)."""
    from energy_batch.model_input import series_at, series_summary

    t = pd.date_range("2023-01-10T00:00Z", periods=4, freq="h").as_unit("us")
    history = pd.DataFrame({
        "area": pd.Series(["DK1"] * 4 + ["DK2"] * 3 + ["DK2"] * 2, dtype="string"),
        "consumer_type": pd.Series(["a"] * 4 + ["b"] * 3 + ["c"] * 2, dtype="string"),
        "datetime_utc": [*t, *t[:3], *t[2:]],
        "energy_consumption_kwh": [None, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0, None, None],
    })  # fmt: skip
    summary = series_summary(history, t[3])
    assert summary[["area", "consumer_type"]].astype(str).values.tolist() == [["DK1", "a"], ["DK2", "b"], ["DK2", "c"]]
    assert summary["at_as_of"].tolist() == [True, False, True]
    assert summary["latest"].tolist() == [t[3], t[2], t[3]]
    assert summary["first_known"].iloc[:2].tolist() == [t[1], t[0]] and pd.isna(summary["first_known"].iloc[2])
    assert series_at(summary, t[3]).astype(str).values.tolist() == [["DK1", "a"], ["DK2", "c"]]
    with pytest.raises(NoDataAtAsOf, match="latest in the window"):
        series_at(series_summary(history, t[3] + pd.Timedelta(hours=1)), t[3] + pd.Timedelta(hours=1))
