"""predict and monitor over the series catalogue: cold-start leaves, bottom-up totals, totals monitored.

The store is the real embedded backend with a catalogue of two areas × two long leaves, plus a
brand-new leaf with 30 h of history (seasonal-naive fallback) and one with 10 h (not forecast).
The champion is the real registered test model (tests/models); where a test needs to tell model
rows from fallback rows, the champion's `model_family` tag is relabelled `lightgbm` in memory and
its inputs are recorded (`_Recording`): the forecasts themselves are the registered model's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_batch.champion import Champion, load_champion
from energy_batch.cli import main
from energy_batch.forecast_errors import leaf_rows
from energy_batch.pipeline import monitor, predict
from energy_batch.settings import BatchSettings
from energy_core.feature_store import FeatureStore
from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.schemas import (
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    MONITORING,
    MONITORING_HOURLY,
    PREDICTIONS,
    SERIES,
    UTC_DTYPE,
)
from energy_core.series import SeriesInfo, bottom_up, catalogue_update, complete_totals, empty_catalogue, with_totals
from energy_core.settings import AlertSettings

from .batch_support import AS_OF, DATA_HOURS, DATA_START, consumption
from .conftest import Stack

SETTINGS = BatchSettings()
H = pd.Timedelta(hours=1)
LONG = [("DK1", "111"), ("DK1", "112"), ("DK2", "111"), ("DK2", "112")]
NEW_30H = ("DK1", "hovedstaden.privat")
NEW_10H = ("DK2", "sjaelland.erhverv")
VALUES = ["prediction_kwh", "prediction_q10_kwh", "prediction_q90_kwh"]


class _Recording:
    """Wraps the registered test model and records which series it was asked to forecast."""

    def __init__(self, inner: Champion) -> None:
        self.inner = inner
        self.series: set[tuple[str, str]] = set()

    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        self.series |= set(zip(data["area"].astype(str), data["consumer_type"].astype(str), strict=True))
        return self.inner.model.predict(data)


@pytest.fixture(scope="module")
def champion(stack: Stack) -> Champion:
    return load_champion(stack.registry())


def relabelled(champion: Champion) -> tuple[Champion, _Recording]:
    recording = _Recording(champion)
    info = replace(champion.info, tags={**champion.info.tags, "model_family": "lightgbm"})
    return Champion(info=info, model=recording), recording


def fill_hierarchy(store: FeatureStore, new_leaves: list[tuple[tuple[str, str], int]]) -> pd.DataFrame:
    """Leaves, catalogue and bottom-up actual totals as the feature pipeline writes them.

    `new_leaves`: (series, hours of history at AS_OF); each keeps reporting for a day after AS_OF.
    """
    leaves = [consumption(DATA_START, DATA_HOURS, series=LONG)]
    for key, hours in new_leaves:
        leaves.append(consumption(AS_OF - (hours - 1) * H, hours + 24, series=[key]))
    frame = pd.concat(leaves, ignore_index=True)
    store.insert(ENERGY_CONSUMPTION, frame)
    infos = [SeriesInfo(a, c, f"{a} {c}", "test") for a, c in frame[["area", "consumer_type"]].drop_duplicates()
             .itertuples(index=False)]
    catalogue, _ = catalogue_update(
        empty_catalogue(), with_totals(infos, {"DK1": "DK", "DK2": "DK"}),
        frame[["area", "consumer_type", "datetime_utc"]], now=DATA_START.to_pydatetime(),
    )  # fmt: skip
    store.insert(SERIES, catalogue)
    totals = complete_totals(bottom_up(frame, catalogue, ["energy_consumption_kwh"]), catalogue)
    totals = totals.dropna(subset=["energy_consumption_kwh"])
    totals["datetime_utc"] = totals["datetime_utc"].astype(UTC_DTYPE)
    store.insert(ENERGY_CONSUMPTION_TOTALS, totals[list(ENERGY_CONSUMPTION_TOTALS.columns)])
    return catalogue


def rows_of(frame: pd.DataFrame, area: str, consumer_type: str) -> pd.DataFrame:
    part = frame[(frame["area"] == area) & (frame["consumer_type"] == consumer_type)]
    return part.sort_values("datetime_utc").reset_index(drop=True)


def leaf_sum(frame: pd.DataFrame, members: list[tuple[str, str]], column: str) -> np.ndarray:
    parts = [rows_of(frame, a, c)[column].to_numpy() for a, c in members]
    return np.sum(parts, axis=0)


def test_new_leaves_get_the_naive_fallback_or_nothing_and_totals_stay_complete(
    tmp_path: Path, champion: Champion
) -> None:
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    fill_hierarchy(store, [(NEW_30H, 30), (NEW_10H, 10)])
    labelled, recording = relabelled(champion)

    result = predict(store, labelled, AS_OF, SETTINGS)

    rows = store.read(PREDICTIONS)
    assert recording.series == set(LONG)  # the champion never sees the young leaves
    assert result.series_by_family == {"bottom_up": 1, "lightgbm": 4, "seasonal_naive_24": 1}
    assert set(rows.loc[rows["consumer_type"] != "total", "model_family"]) == {"lightgbm", "seasonal_naive_24"}
    young = rows_of(rows, *NEW_30H)
    assert (young["model_family"] == "seasonal_naive_24").all() and len(young) == 24
    actual = store.read(ENERGY_CONSUMPTION, filters={"area": NEW_30H[0], "consumer_type": NEW_30H[1]})
    yesterday = actual.set_index("datetime_utc").loc[young["datetime_utc"] - 24 * H, "energy_consumption_kwh"]
    assert young["prediction_kwh"].to_numpy() == pytest.approx(yesterday.to_numpy())
    assert young[["prediction_q10_kwh", "prediction_q90_kwh"]].isna().all().all()  # too few errors for a band
    assert rows_of(rows, *NEW_10H).empty
    assert [(n.series_id, n.hours_of_history) for n in result.not_forecast] == [("DK2|sjaelland.erhverv", 10)]
    assert [(n.series_id, n.hours_of_history) for n in result.cold_start] == [("DK1|hovedstaden.privat", 30)]

    # DK1's total sums its three forecast leaves; DK2 (and so DK) lacks a leaf, so it has no total
    dk1 = rows_of(rows, "DK1", "total")
    assert len(dk1) == 24 and set(dk1["model_family"]) == {"bottom_up"}
    assert set(dk1["model_version"]) == {champion.info.version}
    np.testing.assert_allclose(
        dk1["prediction_kwh"], leaf_sum(rows, [*LONG[:2], NEW_30H], "prediction_kwh"), rtol=1e-6
    )
    assert dk1["prediction_q10_kwh"].isna().all()  # one leaf without an interval: the total has none
    assert rows_of(rows, "DK2", "total").empty and rows_of(rows, "DK", "total").empty


def test_parent_totals_equal_the_sum_of_their_leaves_and_are_written_once(
    tmp_path: Path, champion: Champion
) -> None:
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    fill_hierarchy(store, [])

    first = predict(store, champion, AS_OF, SETTINGS)
    second = predict(store, champion, AS_OF, SETTINGS)

    rows = store.read(PREDICTIONS)
    assert first.series_by_family == {"bottom_up": 3, "seasonal_naive_24": 4}
    assert len(rows) == (4 + 3) * 24 and not rows.duplicated(list(PREDICTIONS.key)).any()
    assert second.rows_changed == 0 and second.table_version == first.table_version
    for parent, members in (("DK1", LONG[:2]), ("DK2", LONG[2:]), ("DK", LONG)):
        total = rows_of(rows, parent, "total")
        for column in VALUES:
            np.testing.assert_allclose(total[column], leaf_sum(rows, members, column), rtol=1e-6)


def test_monitor_scores_totals_like_any_series_but_aggregates_leaves_only(
    tmp_path: Path, champion: Champion
) -> None:
    store = EmbeddedFeatureStore(tmp_path / "feature_store")
    fill_hierarchy(store, [])
    predict(store, champion, AS_OF, SETTINGS)

    result = monitor(store, None, AS_OF + 24 * H, SETTINGS, AlertSettings())

    rows = store.read(MONITORING)
    country = rows_of(rows, "DK", "total")
    assert len(country) == 24 and not country["actual_missing"].any()
    np.testing.assert_allclose(country["actual_kwh"], leaf_sum(rows, LONG, "actual_kwh"), rtol=1e-6)
    np.testing.assert_allclose(country["error_kwh"], leaf_sum(rows, LONG, "error_kwh"), rtol=1e-6)
    hourly = store.read(MONITORING_HOURLY)
    assert (hourly["count"] == 4).all()  # four leaves per target hour; the three totals are not added in
    expected = leaf_rows(rows)
    assert hourly["wape"].to_numpy() == pytest.approx(
        (expected.groupby("datetime_utc")["abs_error_kwh"].sum() / expected.groupby("datetime_utc")["actual_kwh"].sum())
        .to_numpy()
    )
    assert (result.monitored_rows, result.parent_rows) == (4 * 24, 3 * 24)


def test_a_leaf_the_champion_never_trained_on_is_forecast_by_the_fallback_in_an_old_store(
    store: FeatureStore, champion: Champion
) -> None:
    # the session store has no catalogue; the champion's training dataset ends 2023-01-15T00:00Z
    newcomer = ("DK1", "files.newcomer")
    store.insert(ENERGY_CONSUMPTION, consumption(pd.Timestamp("2023-01-15T00:00Z"), 8 * 24, series=[newcomer]))
    labelled, recording = relabelled(champion)

    result = predict(store, labelled, AS_OF, SETTINGS)

    assert newcomer not in recording.series and len(recording.series) == 76
    assert result.series_by_family == {"lightgbm": 76, "seasonal_naive_24": 1}  # no catalogue: no totals
    (note,) = result.cold_start
    assert (note.series_id, note.hours_of_history) == ("DK1|files.newcomer", 192)
    assert "not in the training data" in note.reason
    rows = store.read(PREDICTIONS, filters={"consumer_type": "files.newcomer"})
    assert len(rows) == 24 and rows["prediction_q10_kwh"].notna().all()


@pytest.fixture
def hierarchy_home(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ENERGY_HOME for CLI tests holding the catalogue store with the 30 h and 10 h leaves."""
    home = tmp_path / "home"
    fill_hierarchy(EmbeddedFeatureStore(home / "feature_store"), [(NEW_30H, 30), (NEW_10H, 10)])
    monkeypatch.setenv("ENERGY_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.registry_settings.resolved_tracking_uri)
    monkeypatch.delenv("ENERGY_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def test_status_json_names_the_series_not_forecast_and_counts_series_per_family(
    hierarchy_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--as-of", AS_OF.strftime("%Y-%m-%dT%H:%MZ")]) == 0
    assert "1 series not forecast" in capsys.readouterr().out

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    assert status["latest_forecast_families"] == {"bottom_up": 1, "seasonal_naive_24": 5}
    assert status["predict_report_as_of"] == AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    (skipped,) = status["not_forecast"]
    assert (skipped["series_id"], skipped["hours_of_history"]) == ("DK2|sjaelland.erhverv", 10)
    assert "needs 24 h" in skipped["reason"]
    assert [n["series_id"] for n in status["cold_start"]] == ["DK1|hovedstaden.privat"]

    assert main(["status"]) == 0
    assert "not forecast            : 1 series" in capsys.readouterr().out
