"""The Hopsworks backend: a thin mapping of the FeatureStore interface onto hsfs.

What maps directly: a feature group is an hsfs feature group (same name and version, primary key
= our key columns + event time, so Hopsworks' upsert is keyed like ours); a table version is a
commit id from `commit_details`; reading at a pinned version is `Query.as_of(<commit time>)`.
What does not map (and is therefore shared with the embedded backend in `relational`): pandera
validation, the diff that makes re-inserts no-ops, the as-of join with a per-join lag (Hopsworks'
point-in-time join has no lag) and time splits. Training-dataset records are rows of a small
feature group of their own, so they live in the same project; each dataset is also created
through a real Hopsworks feature view (`get_or_create_feature_view` + `create_training_data`),
whose version it takes, so Hopsworks shows groups → view → dataset → model natively.

Only this module imports `hopsworks`, and only when the backend is selected.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow

from energy_core.feature_store import relational as rel
from energy_core.feature_store.base import (
    DeleteResult,
    FeatureGroupNotFound,
    FeatureGroupStatistics,
    FeatureStore,
    FeatureStoreUnavailable,
    FeatureValidationError,
    InsertResult,
    Split,
    TrainingData,
    TrainingDatasetMeta,
    TrainingDatasetNotFound,
    ValidatedBatch,
    ValidationReport,
)
from energy_core.schemas import UTC_DTYPE, FeatureGroupSpec, FeatureViewSpec, feature_columns
from energy_core.settings import FeatureStoreSettings

log = logging.getLogger(__name__)

TRAINING_DATASETS = FeatureGroupSpec(
    name="training_datasets",
    version=1,
    primary_key=("view_name", "view_version", "dataset_version"),
    event_time="created_at",
    description="Records of training datasets: view, time range, split and pinned commit ids (JSON).",
    columns={
        "created_at": pa.Column(UTC_DTYPE),
        "view_name": pa.Column("string"),
        "view_version": pa.Column("int64"),
        "dataset_version": pa.Column("int64"),
        "meta_json": pa.Column("string"),
    },
)


def _is_not_found(exc: Exception) -> bool:
    text = str(exc).lower()
    return "not found" in text or "404" in text or "does not exist" in text


class HopsworksFeatureStore(FeatureStore):
    """See the module docstring. `feature_store` is injectable: tests pass a fake hsfs store."""

    def __init__(self, settings: FeatureStoreSettings, feature_store: Any | None = None) -> None:
        self._settings = settings
        self._fs = feature_store
        self._reports: dict[str, ValidationReport] = {}

    # -- connection ------------------------------------------------------------------------------
    def _store(self) -> Any:
        if self._fs is None:
            s = self._settings
            try:
                import hopsworks

                project = hopsworks.login(
                    host=s.hopsworks_host,
                    port=s.hopsworks_port,
                    project=s.hopsworks_project,
                    api_key_value=s.hopsworks_api_key.get_secret_value() if s.hopsworks_api_key else None,
                )
                self._fs = project.get_feature_store()
            except Exception as exc:  # any login failure is "unavailable" to callers
                raise FeatureStoreUnavailable(
                    f"cannot reach Hopsworks project {s.hopsworks_project!r} at {s.hopsworks_host}: {exc}"
                ) from exc
        return self._fs

    def _group(self, group: FeatureGroupSpec) -> Any | None:
        try:
            return self._store().get_feature_group(group.name, version=group.version)
        except FeatureStoreUnavailable:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise FeatureStoreUnavailable(f"Hopsworks failed to look up {group.table_name}: {exc}") from exc

    def _require(self, group: FeatureGroupSpec) -> Any:
        fg = self._group(group)
        if fg is None:
            raise FeatureGroupNotFound(f"feature group {group.name!r} v{group.version} has no data yet in Hopsworks")
        return fg

    @staticmethod
    def _commits(fg: Any) -> dict[int, Any]:
        return {int(k): v for k, v in (fg.commit_details() or {}).items()}

    # -- feature groups --------------------------------------------------------------------------
    def exists(self, group: FeatureGroupSpec) -> bool:
        return self._group(group) is not None

    def table_version(self, group: FeatureGroupSpec) -> int | None:
        fg = self._group(group)
        if fg is None:
            return None
        commits = self._commits(fg)
        return max(commits) if commits else None

    def _arrow(self, group: FeatureGroupSpec, version: int | None = None, start: datetime | None = None,
               end: datetime | None = None) -> pa_arrow.Table:
        fg = self._require(group)
        query = fg.select_all()
        et = fg.get_feature(group.event_time)
        if start is not None:
            query = query.filter(et >= rel.to_utc(start))
        if end is not None:
            query = query.filter(et < rel.to_utc(end))
        if version is not None:
            commits = self._commits(fg)
            if version not in commits:
                raise FeatureStoreUnavailable(f"feature group {group.name!r} has no commit {version}")
            query = query.as_of(commits[version]["committedOn"])
        frame = rel.normalise(query.read(dataframe_type="pandas"), group)
        return pa_arrow.Table.from_pandas(frame[list(group.columns)], schema=rel.arrow_schema(group),
                                          preserve_index=False)

    def insert(self, group: FeatureGroupSpec, frame: pd.DataFrame | ValidatedBatch) -> InsertResult:
        try:
            batch = rel.batch_to_store(group, frame)
        except FeatureValidationError as exc:
            self._record(group, False, len(frame), exc.failures)
            raise
        self._record(group, True, len(batch), pd.DataFrame())
        table = rel.to_arrow(group, batch)
        fg = self._group(group)
        n_updated = 0
        if fg is None:
            fg = self._store().get_or_create_feature_group(
                name=group.name,
                version=group.version,
                description=group.description,
                primary_key=list(group.key),
                event_time=group.event_time,
                online_enabled=False,
            )
            changed = table
        else:
            lo, hi = rel.event_time_bounds(group, table)
            existing = self._arrow(group, start=lo, end=hi + pd.Timedelta(microseconds=1))
            changed, n_updated = rel.changed_rows(group, table, existing)
        if changed.num_rows:
            try:
                fg.insert(rel.to_pandas(changed, group), operation="upsert", wait=True)
            except Exception as exc:
                raise FeatureStoreUnavailable(f"Hopsworks rejected the insert into {group.table_name}: {exc}") from exc
        version = self.table_version(group)
        return InsertResult(group.name, version if version is not None else -1, len(batch),
                            changed.num_rows - n_updated, n_updated)

    def delete(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
    ) -> DeleteResult:
        """`FeatureGroup.remove_rows` with the matching rows' keys (primary key + event time), which
        Hopsworks applies as one commit on the offline table (and the online one if enabled)."""
        rel.filter_mask(group, rel.arrow_schema(group).empty_table(), filters)  # unknown column: fail early
        fg = self._require(group)
        window = self._arrow(group, start=start, end=end)
        doomed = window.filter(rel.filter_mask(group, window, filters))
        if doomed.num_rows == 0:
            version = self.table_version(group)
            return DeleteResult(group.name, version if version is not None else -1, 0)
        try:
            fg.remove_rows(rel.to_pandas(doomed.select(list(group.key)), group))
        except Exception as exc:
            raise FeatureStoreUnavailable(f"Hopsworks rejected the delete from {group.table_name}: {exc}") from exc
        version = self.table_version(group)
        return DeleteResult(group.name, version if version is not None else -1, doomed.num_rows)

    def _record(self, group: FeatureGroupSpec, passed: bool, rows: int, failures: pd.DataFrame) -> None:
        records = [{str(k): v for k, v in r.items()} for r in failures.head(1000).to_dict(orient="records")]
        self._reports[group.table_name] = ValidationReport(group.name, datetime.now(UTC), passed, rows, records)

    def read(
        self,
        group: FeatureGroupSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        filters: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        return rel.scan(group, self._arrow(group, version, start, end), start, end, filters, columns)

    def statistics(self, group: FeatureGroupSpec) -> FeatureGroupStatistics:
        version = self.table_version(group)
        return rel.statistics(group, version if version is not None else -1, self._arrow(group, version))

    def validation_report(self, group: FeatureGroupSpec) -> ValidationReport | None:
        """The last report of batches validated by this process (Hopsworks keeps its own reports
        only for Great Expectations suites, which this system does not use)."""
        return self._reports.get(group.table_name)

    # -- feature views ---------------------------------------------------------------------------
    def read_view(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        spine: pd.DataFrame | None = None,
        table_versions: dict[str, int] | None = None,
    ) -> pd.DataFrame:
        pinned = table_versions is not None
        versions = table_versions or {}
        if spine is None:
            spine_frame = self.read(view.spine, start, end, version=versions.get(view.spine.table_name))
        else:
            spine_frame = rel.normalise(spine, view.spine)
        sources: dict[str, rel.Source | None] = {}
        for join in view.joins:
            name = join.group.table_name
            visible = self.exists(join.group) and (not pinned or name in versions)
            sources[name] = self._arrow(join.group, versions.get(name)) if visible else None
        return rel.as_of_join(view, spine_frame, sources)

    # -- training datasets -----------------------------------------------------------------------
    def create_training_dataset(
        self,
        view: FeatureViewSpec,
        start: datetime | None = None,
        end: datetime | None = None,
        split: Split | None = None,
        description: str = "",
    ) -> TrainingDatasetMeta:
        groups = [view.spine, *(j.group for j in view.joins)]
        pinned = {g.table_name: v for g in groups if (v := self.table_version(g)) is not None}
        if view.spine.table_name not in pinned:
            raise FeatureGroupNotFound(f"cannot create a training dataset of view {view.name!r}: no spine data")
        frame = self.read_view(view, start, end, table_versions=pinned)
        existing = {m.version for m in self.list_training_datasets(view)}
        version = self._hopsworks_training_dataset(view, start, end, description)
        if version in existing:
            raise FeatureStoreUnavailable(
                f"Hopsworks numbered a new training dataset of view {view.name!r} v{view.version} #{version}, "
                f"but {TRAINING_DATASETS.name!r} already records #{version} (records: {sorted(existing)}); the two "
                "were written by different projects or one was edited by hand: delete the stale record first"
            )
        meta = TrainingDatasetMeta(
            view_name=view.name,
            view_version=view.version,
            version=version,
            start=rel.to_utc(start) if start else None,
            end=rel.to_utc(end) if end else None,
            table_versions=pinned,
            split=rel.normalised_split(split),
            created_at=datetime.now(UTC),
            row_count=len(frame),
            data_sha256=rel.frame_sha256(frame),
            description=description,
        )
        record = pd.DataFrame(
            {
                "created_at": pd.Series([meta.created_at], dtype=UTC_DTYPE),
                "view_name": pd.Series([view.name], dtype="string"),
                "view_version": [view.version],
                "dataset_version": [meta.version],
                "meta_json": pd.Series([rel.meta_to_json(meta)], dtype="string"),
            }
        )
        self.insert(TRAINING_DATASETS, record)
        return meta

    def _hopsworks_training_dataset(
        self, view: FeatureViewSpec, start: datetime | None, end: datetime | None, description: str
    ) -> int:
        """Create the training dataset through a real Hopsworks feature view; return its version.

        Why: Hopsworks users see feature groups → feature view → training datasets → model only
        when the view and datasets exist in Hopsworks itself (the registry links the model to
        both). The rows the model trains on still come from `read_view` (Hopsworks' point-in-time
        join has no per-join lag), pinned to the same commits; the Hopsworks dataset carries the
        same time range, and its version is ours, so lineage reads the same as embedded.
        """
        fs = self._store()
        try:
            query = self._require(view.spine).select_all()
            for join in view.joins:
                group = self._group(join.group)
                if group is None:  # not written yet: the view joins what exists, like read_view
                    continue
                columns = [*join.on, *feature_columns(join)]
                query = query.join(group.select(columns), on=list(join.on) or None, prefix=join.prefix or None)
            feature_view = fs.get_or_create_feature_view(
                name=view.name,
                query=query,
                version=view.version,
                description=view.description,
                labels=[view.label] if view.label else [],
            )
            window = {k: v for k, v in (("start_time", start), ("end_time", end)) if v is not None}
            version, _job = feature_view.create_training_data(
                **window, description=description, write_options={"wait_for_job": False}
            )
        except (FeatureGroupNotFound, FeatureStoreUnavailable):
            raise
        except Exception as exc:
            raise FeatureStoreUnavailable(
                f"Hopsworks failed to create a training dataset of feature view {view.name!r} v{view.version}: {exc}"
            ) from exc
        log.info("Hopsworks feature view %s v%d: training dataset #%d created", view.name, view.version, version)
        return int(version)

    def list_training_datasets(self, view: FeatureViewSpec) -> list[TrainingDatasetMeta]:
        if not self.exists(TRAINING_DATASETS):
            return []
        rows = self.read(TRAINING_DATASETS, filters={"view_name": view.name, "view_version": view.version})
        metas = [rel.meta_from_json(text) for text in rows["meta_json"]]
        return sorted(metas, key=lambda m: m.version)

    def read_training_dataset(self, view: FeatureViewSpec, version: int) -> TrainingData:
        metas = {m.version: m for m in self.list_training_datasets(view)}
        if version not in metas:
            raise TrainingDatasetNotFound(
                f"training dataset {view.name!r} v{view.version} #{version} does not exist; known: {sorted(metas)}"
            )
        meta = metas[version]
        frame = self.read_view(view, meta.start, meta.end, table_versions=meta.table_versions)
        return rel.split_by_time(meta, frame, view.spine.event_time)
