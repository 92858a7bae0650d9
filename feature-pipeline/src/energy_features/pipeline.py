"""The feature pipeline, as the diagram draws it:

    sources --extract--> raw records --transform--> leaf series + weather + calendar
            --validate leaves--> (quarantine) --catalogue + totals--> --validate the rest-->
            --load--> series, energy_consumption, energy_consumption_totals, weather, calendar
            --> watermarks

`run` ingests what is new as of an hour (plus a re-read of recent hours the source may revise);
`backfill` ingests a historical range in chunks. Both go through `ingest`, which decides nothing
itself: the windows come from `windows.py`, the clock and the store are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from energy_core.feature_store import FeatureStore, InsertResult
from energy_core.schemas import (
    CALENDAR,
    ENERGY_CONSUMPTION,
    ENERGY_CONSUMPTION_TOTALS,
    SERIES,
    WEATHER,
    FeatureGroupSpec,
)
from energy_core.series import read_catalogue
from energy_features.catalogue import plan_series
from energy_features.continuity import ContinuityReport, EmptySourceWindow, continuity_report
from energy_features.extract import Sources
from energy_features.hours import HOUR, iso_hour
from energy_features.load import load_batches
from energy_features.transform.calendar import calendar_features
from energy_features.transform.consumption import ConsumptionBatch, canonical_consumption
from energy_features.transform.weather import weather_from_daily, weather_from_hourly
from energy_features.validate import JUMP_LOOKBACK, series_failures, validate_or_quarantine
from energy_features.watermarks import advance_watermarks, read_watermarks, write_json_atomically
from energy_features.windows import (
    CALENDAR as CALENDAR_SOURCE,
)
from energy_features.windows import (
    CONSUMPTION,
    IngestPlan,
    Window,
    WindowPolicy,
    plan_backfill,
    plan_run,
)
from energy_features.windows import (
    WEATHER as WEATHER_SOURCE,
)

log = logging.getLogger(__name__)

Batches = list[tuple[FeatureGroupSpec, pd.DataFrame]]


@dataclass(frozen=True)
class PipelineContext:
    """Everything a run touches outside its own memory, injectable for tests."""

    store: FeatureStore
    sources: Sources
    policy: WindowPolicy
    home: Path  # ENERGY_HOME: state/ and quarantine/ live here
    now: Callable[[], datetime]

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"


@dataclass(frozen=True)
class IngestResult:
    plan: IngestPlan
    inserts: list[InsertResult]
    continuity: ContinuityReport
    watermarks: dict[str, datetime]
    new_series: list[str]

    def rows_inserted(self, group: FeatureGroupSpec) -> int:
        return sum(r.rows_inserted for r in self.inserts if r.group == group.name)


def run(as_of: datetime, ctx: PipelineContext) -> IngestResult:
    """Ingest everything new as of `as_of` (the last known hour), re-reading recent hours."""
    plan = plan_run(as_of, read_watermarks(ctx.state_dir), ctx.policy)
    return ingest(plan, ctx)


def backfill(
    start: datetime,
    end: datetime,
    ctx: PipelineContext,
    chunk: timedelta = timedelta(days=7),
    progress: Callable[[list[IngestPlan]], Iterable[IngestPlan]] | None = None,
) -> list[IngestResult]:
    """Ingest [start, end) chunk by chunk; `progress` wraps the chunk list (e.g. with tqdm).

    Each chunk commits on its own, so an interrupted backfill resumes by running it again: the
    chunks already stored are skipped row by row.
    """
    plans = plan_backfill(start, end, chunk, ctx.policy)
    return [ingest(plan, ctx) for plan in (progress(plans) if progress else plans)]


def ingest(plan: IngestPlan, ctx: PipelineContext) -> IngestResult:
    """Extract, transform, validate and load one plan; every group is validated before any write.

    Write order (catalogue, leaves, totals, weather, calendar, then watermarks) is chosen so that a
    crash anywhere leaves a state the same run repairs: each insert is idempotent, and totals are
    recomputed from the stored leaves of every hour the batch touches.
    """
    context = f"as_of={iso_hour(plan.as_of)} consumption={plan.consumption}"
    label = iso_hour(plan.as_of).replace(":", "")
    dataset, consumption_records, weather_records = extract(plan, ctx.sources)
    consumption, weather, calendar = transform(plan, (dataset, consumption_records, weather_records), ctx.sources)
    continuity = continuity_report(consumption.leaves, plan.consumption)
    if continuity.empty:
        write_json_atomically(ctx.state_dir / "continuity_energy_consumption.json", continuity.to_dict())
        raise EmptySourceWindow(
            f"{dataset}: the source delivered no consumption for {plan.consumption} "
            f"({plan.consumption.hours} hour(s)); nothing was written and no watermark moved. Check the "
            "as-of time against what the source holds (ENERGY_SNAPSHOT_DIR, or ENERGY_PUBLICATION_LAG_HOURS "
            "for a source that publishes late)."
        )
    if not continuity.continuous:
        log.warning(
            "%s: %d missing hour(s) in %d series (reported, not filled); see state/continuity",
            context,
            continuity.missing_count,
            len(continuity.gaps),
        )
    catalogue = read_catalogue(ctx.store)
    history = stored_leaves_around(ctx.store, consumption.leaves)
    (leaves,) = validate_or_quarantine(
        [(ENERGY_CONSUMPTION, consumption.leaves)], ctx.quarantine_dir, ctx.now(), label,
        extra_failures={ENERGY_CONSUMPTION.name: series_failures(consumption, catalogue, history)},
    )  # fmt: skip
    series = plan_series(consumption, catalogue, history, ctx.now())
    rest: Batches = [
        (SERIES, series.catalogue_rows),
        (ENERGY_CONSUMPTION_TOTALS, series.totals),
        (WEATHER, weather),
        (CALENDAR, calendar),
    ]
    checked = validate_or_quarantine(rest, ctx.quarantine_dir, ctx.now(), label)
    inserts = load_batches(ctx.store, [checked[0], leaves, *checked[1:]], context)
    marks = advance_watermarks(
        ctx.state_dir, latest_complete_hours([(ENERGY_CONSUMPTION, consumption.leaves), *rest[2:]], plan)
    )
    write_json_atomically(ctx.state_dir / "continuity_energy_consumption.json", continuity.to_dict())
    return IngestResult(plan, inserts, continuity, marks, series.new_series)


def stored_leaves_around(store: FeatureStore, leaves: pd.DataFrame) -> pd.DataFrame:
    """Stored leaf rows from JUMP_LOOKBACK before the batch's first hour through its last hour:
    the history the plausibility rule judges against, and the stored leaves totals are summed from."""
    times = leaves["datetime_utc"].dropna() if "datetime_utc" in leaves else pd.Series(dtype="object")
    if times.empty or not store.exists(ENERGY_CONSUMPTION):
        return ENERGY_CONSUMPTION.empty_frame()
    first, last = times.min().to_pydatetime(), times.max().to_pydatetime()
    return store.read(ENERGY_CONSUMPTION, start=first - JUMP_LOOKBACK, end=last + HOUR)


def extract(plan: IngestPlan, sources: Sources) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Raw records for the plan's windows: (consumption dataset name, consumption, weather)."""
    consumption = sources.consumption.fetch(plan.consumption)
    weather = sources.weather.fetch(plan.weather)
    return sources.consumption.dataset.name, consumption, weather


def transform(
    plan: IngestPlan, raw: tuple[str, pd.DataFrame, pd.DataFrame], sources: Sources
) -> tuple[ConsumptionBatch, pd.DataFrame, pd.DataFrame]:
    """Leaf consumption (with its catalogue facts), weather and calendar in canonical columns."""
    dataset, consumption_records, weather_records = raw
    consumption = canonical_consumption(dataset, consumption_records)
    to_weather = weather_from_daily if sources.weather.granularity == "daily" else weather_from_hourly
    weather = _inside(to_weather(weather_records, sources.weather.stations), plan.weather)
    return consumption, weather, calendar_features(plan.calendar)


def latest_complete_hours(batches: Batches, plan: IngestPlan) -> dict[str, datetime]:
    """Watermark candidates: per source the last hour present in full.

    For consumption an hour is complete when it has as many series as the fullest hour of the
    batch, so a partly published last hour is re-read next time rather than skipped.
    """
    latest: dict[str, datetime] = {}
    names = {ENERGY_CONSUMPTION.name: CONSUMPTION, WEATHER.name: WEATHER_SOURCE, CALENDAR.name: CALENDAR_SOURCE}
    for spec, frame in batches:
        if frame.empty:
            continue
        times = frame[spec.event_time]
        if spec is ENERGY_CONSUMPTION:
            counts = times.value_counts()
            times = pd.Series(counts.index[counts == counts.max()])
        latest[names[spec.name]] = times.max().to_pydatetime()
    return latest


def _inside(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    times = frame["datetime_utc"]
    inside = (times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))
    return frame[inside].reset_index(drop=True)
