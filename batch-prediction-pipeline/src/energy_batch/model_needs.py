"""What the champion needs from a series before it may forecast it (cold start, issue 10).

Two questions, answered from the registry record and the store, never by importing training code:

- **How much history?** The registered pyfunc (training's `forecaster_model.py`) turns the input
  into lag features by position: LightGBM (mlforecast) reads lags and rolling windows over lags,
  NHITS an `input_size` window, seasonal naive the value one season back. With less history the
  features are missing (LightGBM silently predicts from NaN) or the point is missing (seasonal naive
  168 on a 30-hour series), which would fail the whole batch. The need is derived from the version's
  logged config (`<name>.lags`, `<name>.lag_transforms`, `<name>.params`, the `model_family` tag),
  with the forecast contract's 168 h (docs/conventions.md) as the floor.
- **Did it train on the series?** The series present in the champion's training dataset: the
  spine group read at the table version and time range the dataset pinned (its lineage). A series
  that entered the store after that is forecast by the baseline until the next training includes
  it. When the lineage cannot be followed, every series counts as known (the behaviour before the
  catalogue existed) and the reason is logged.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from energy_core.feature_store import FeatureStore, FeatureStoreError
from energy_core.registry import ModelVersionInfo
from energy_core.schemas import ENERGY_FORECASTING_VIEW, FeatureViewSpec

log = logging.getLogger(__name__)

# The forecast contract: every series' history is at least one week (one weekly season).
CONTRACT_MIN_HISTORY_HOURS = 168
_SEASONAL_NAIVE = re.compile(r"^seasonal_naive_(\d+)$")
_WINDOW = re.compile(r"_(\d+)$")


@dataclass(frozen=True)
class ModelNeeds:
    """`history_hours`: hours of history up to the as-of hour a series needs; `trained_series`: ids
    (`area|consumer_type`) in the champion's training data, or None when unknown (all count as known)."""

    history_hours: int
    trained_series: frozenset[str] | None
    training_dataset_version: int | None = None

    def knows(self, series_id: str) -> bool:
        return self.trained_series is None or series_id in self.trained_series


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return None


def _param(info: ModelVersionInfo, field: str) -> Any:
    """The parsed value of the logged config field `<model config name>.<field>` (None if absent)."""
    config = info.tags.get("model_config")
    if config is not None and f"{config}.{field}" in info.params:
        return _json(info.params[f"{config}.{field}"])
    matches = [value for key, value in info.params.items() if key.endswith(f".{field}")]
    return _json(matches[0]) if len(matches) == 1 else None


def lag_history_hours(info: ModelVersionInfo) -> int:
    """Hours of history the version's own features reach back (0 when its config says nothing).

    A lag `l` reads the value `l` hours before the first target; a rolling window of `n` over lag
    `l` reads back to `l + n - 1`; an expanding statistic needs only its lag.
    """
    need = 0
    family = info.model_family or ""
    if match := _SEASONAL_NAIVE.match(family):
        need = int(match.group(1))
    lags = _param(info, "lags")
    if isinstance(lags, list):
        need = max([need, *(int(lag) for lag in lags)])
    transforms = _param(info, "lag_transforms")
    if isinstance(transforms, dict):
        for lag, names in transforms.items():
            for name in names if isinstance(names, list) else []:
                window = _WINDOW.search(str(name))
                need = max(need, int(lag) + (int(window.group(1)) - 1 if window else 0))
    params = _param(info, "params")
    if isinstance(params, dict) and "input_size" in params:
        need = max(need, int(params["input_size"]))
    return need


def required_history_hours(info: ModelVersionInfo) -> int:
    """The history a series needs before the champion forecasts it: its lags, at least 168 h."""
    return max(CONTRACT_MIN_HISTORY_HOURS, lag_history_hours(info))


def trained_series(
    store: FeatureStore, info: ModelVersionInfo, view: FeatureViewSpec = ENERGY_FORECASTING_VIEW
) -> tuple[frozenset[str] | None, int | None]:
    """Ids of the series in the champion's training dataset, and the dataset's version (None, None
    when the lineage cannot be followed: then every series counts as known)."""
    lineage = info.lineage
    if lineage is None:
        log.info("champion v%d has no lineage: every series counts as known to it", info.version)
        return None, None
    try:
        metas = store.list_training_datasets(view)
        meta = next((m for m in metas if m.version == lineage.training_dataset_version), None)
        if meta is None:
            log.warning(
                "champion v%d's training dataset #%d of view %s is not in the store: every series counts as known",
                info.version, lineage.training_dataset_version, view.name,
            )  # fmt: skip
            return None, None
        rows = store.read(
            view.spine,
            start=meta.start,
            end=meta.end,
            columns=["area", "consumer_type"],
            version=meta.table_versions.get(view.spine.table_name),
        )
    except FeatureStoreError as exc:
        log.warning("cannot read champion v%d's training series (%s): every series counts as known", info.version, exc)
        return None, None
    pairs = rows.drop_duplicates()
    ids = frozenset(pairs["area"].astype(str) + "|" + pairs["consumer_type"].astype(str))
    return ids, meta.version


def model_needs(store: FeatureStore, info: ModelVersionInfo) -> ModelNeeds:
    ids, dataset = trained_series(store, info)
    return ModelNeeds(required_history_hours(info), ids, dataset)

