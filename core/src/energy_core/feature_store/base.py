"""The FeatureStore interface, modelled on Hopsworks' concepts so a Hopsworks backend is a mapping.

- feature group: `insert` (validated, idempotent, all-or-nothing upsert on key + event time) and
  `read` (event-time range, optional equality filters, optionally at a pinned table version);
- feature view: `read_view` (point-in-time-correct as-of join of groups onto a spine, or onto a
  spine frame the caller passes, e.g. future hours to forecast);
- training dataset: `create_training_dataset` pins every table's version so `read_training_dataset`
  returns identical rows forever, split by time into train / validation / test;
- `statistics` and `validation_report` per group.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from energy_core.schemas import FeatureGroupSpec, FeatureViewSpec

# `changed_event_times`' answer when anything may have changed.
EVERY_EVENT_TIME = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


class FeatureStoreError(RuntimeError):
    """Base class: anything the feature store refuses or cannot do."""


class FeatureStoreUnavailable(FeatureStoreError):
    """The store cannot be reached or opened (missing directory, server down, bad credentials)."""


class FeatureGroupNotFound(FeatureStoreError):
    """A read referred to a feature group that has never been written."""


class TrainingDatasetNotFound(FeatureStoreError):
    """A training dataset version that does not exist was requested."""


class StoreFormatError(FeatureStoreError):
    """The store on disk was written by another release and cannot be used as it is.

    The message says which table, what differs and what to run (`energy-admin migrate`, or newer
    code when the store is newer than this release)."""


class FeatureValidationError(FeatureStoreError):
    """A batch broke a rule of its group's schema; nothing was written.

    `failures` has one row per (rule, column, offending row): columns `rule`, `column`, `row`
    (the index label in the submitted frame) and `value`.
    """

    def __init__(self, group: str, failures: pd.DataFrame, rows: pd.DataFrame | None = None) -> None:
        self.group = group
        self.failures = failures
        self.rows = rows if rows is not None else pd.DataFrame()
        rules = sorted(set(failures["rule"].astype(str))) if not failures.empty else []
        shown = failures.head(10).to_string(index=False) if not failures.empty else ""
        super().__init__(
            f"batch for feature group {group!r} rejected, nothing written: "
            f"{len(failures)} violation(s) of rule(s) {', '.join(rules)}\n{shown}"
        )


# Held only by `relational.validated`: a ValidatedBatch cannot be made any other way.
_VALIDATED_BY_SCHEMA = object()


@dataclass(frozen=True, eq=False)
class ValidatedBatch:
    """A batch as `relational.validate_batch` returned it for `group` (normalised, every rule
    passed). `FeatureStore.insert` stores it without validating it a second time: a caller that
    validates before writing (the feature pipeline, so that no group is written before all pass)
    pays for the schema once. Only `relational.validated` makes one, so holding one proves the
    frame went through `group`'s schema; the frame must not be changed afterwards."""

    group: FeatureGroupSpec
    frame: pd.DataFrame
    token: object = field(repr=False)

    def __post_init__(self) -> None:
        if self.token is not _VALIDATED_BY_SCHEMA:
            raise TypeError("a ValidatedBatch is made by energy_core.feature_store.relational.validated only")

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class InsertResult:
    """What an insert did. `table_version` is unchanged when the batch changed nothing."""

    group: str
    table_version: int
    rows_in_batch: int
    rows_inserted: int
    rows_updated: int

    @property
    def changed(self) -> bool:
        return (self.rows_inserted + self.rows_updated) > 0


@dataclass(frozen=True)
class DeleteResult:
    """What a delete did. `table_version` is unchanged when no row matched."""

    group: str
    table_version: int
    rows_deleted: int


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    dtype: str
    null_count: int
    distinct_count: int | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None


@dataclass(frozen=True)
class FeatureGroupStatistics:
    group: str
    table_version: int
    row_count: int
    key_count: int
    event_time_min: datetime | None
    event_time_max: datetime | None
    columns: list[ColumnSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of the last validation of a batch for a group."""

    group: str
    validated_at: datetime
    passed: bool
    rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Split:
    """Time-based split: train < validation_start <= validation < test_start <= test."""

    validation_start: datetime | None = None
    test_start: datetime | None = None


@dataclass(frozen=True)
class TrainingDatasetMeta:
    """A reproducible snapshot of a feature view: the view, the time range and pinned versions."""

    view_name: str
    view_version: int
    version: int
    start: datetime | None
    end: datetime | None
    table_versions: dict[str, int]
    split: Split
    created_at: datetime
    row_count: int
    data_sha256: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingData:
    meta: TrainingDatasetMeta
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    @property
    def all(self) -> pd.DataFrame:
        return pd.concat([self.train, self.validation, self.test], ignore_index=True)


class FeatureStore(abc.ABC):
    """What every service uses to read and write features. Backends implement this."""

    # -- feature groups ------------------------------------------------------------------------
    @abc.abstractmethod
    def insert(self, group: FeatureGroupSpec, frame: pd.DataFrame | ValidatedBatch) -> InsertResult:
        """Validate `frame` (unless it is a ValidatedBatch of this group) and upsert it on the
        group's key, atomically.

        Rows whose key exists with identical values are skipped, so inserting the same batch twice
        changes nothing (no new table version). A batch with any invalid row raises
        FeatureValidationError and leaves the table exactly as it was.
        """

    @abc.abstractmethod
    def read(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        """Rows with start <= event time < end (either bound optional), `filters` as column == value
        (or column IN list), sorted by key, at table `version` (default: latest).

        Raises FeatureGroupNotFound if the group was never written.
        """

    @abc.abstractmethod
    def delete(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
    ) -> DeleteResult:
        """Remove the rows with start <= event time < end (either bound optional) that match
        `filters` (as in `read`; a null never matches), atomically, as one new table version.

        Deleting rows that are not there changes nothing (no new version), so a re-run is a no-op.
        Earlier versions keep the rows, so pinned training datasets still read them.
        Raises FeatureGroupNotFound if the group was never written.
        """

    @abc.abstractmethod
    def exists(self, group: FeatureGroupSpec) -> bool:
        """Whether the group has been written at least once."""

    @abc.abstractmethod
    def table_version(self, group: FeatureGroupSpec) -> int | None:
        """The latest committed version of the group's table, None if never written."""

    def changed_event_times(
        self, group: FeatureGroupSpec, since_version: int, version: int
    ) -> tuple[datetime, datetime] | None:
        """The event-time span [first, last] (both inclusive) outside which no row can differ
        between table versions `since_version` and `version`; None when no row differs.

        Why: a long-lived reader that already holds the rows of `since_version` (the monitor
        worker holds its last hour's scores) re-reads only this span instead of its whole window.
        The answer may be wider than the truth, never narrower. This default knows nothing about
        the table's history and answers the whole time line unless the versions are equal, so a
        backend without it (Hopsworks) is correct and merely re-reads everything."""
        if since_version == version:
            return None
        return EVERY_EVENT_TIME

    @abc.abstractmethod
    def statistics(self, group: FeatureGroupSpec) -> FeatureGroupStatistics:
        """Row count, key count, event-time range and per-column summary at the latest version."""

    @abc.abstractmethod
    def validation_report(self, group: FeatureGroupSpec) -> ValidationReport | None:
        """The report of the last validated batch for this group, if any."""

    # -- feature views -------------------------------------------------------------------------
    @abc.abstractmethod
    def read_view(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        spine: pd.DataFrame | None = None,
        table_versions: dict[str, int] | None = None,
    ) -> pd.DataFrame:
        """Materialise the view: the spine group's rows in [start, end) (or the given `spine`
        frame, which needs the spine's key columns) with every join's features as of each row's
        event time minus the join's lag. Never returns a value from after that time.
        """

    # -- training datasets ---------------------------------------------------------------------
    @abc.abstractmethod
    def create_training_dataset(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        split: Split | None = None,
        description: str = "",
    ) -> TrainingDatasetMeta:
        """Pin the current table versions of the view's groups and record a new dataset version."""

    @abc.abstractmethod
    def read_training_dataset(self, view: FeatureViewSpec, version: int) -> TrainingData:
        """Re-materialise training dataset `version` at its pinned table versions, split by time."""

    @abc.abstractmethod
    def list_training_datasets(self, view: FeatureViewSpec) -> list[TrainingDatasetMeta]:
        """Every training dataset recorded for the view, oldest first."""
