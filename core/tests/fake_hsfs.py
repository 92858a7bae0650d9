"""An in-memory stand-in for the few hsfs calls HopsworksFeatureStore makes.

Mock boundary: a Hopsworks cluster cannot run here, so the contract suite runs the Hopsworks
mapping against this fake of `FeatureStore.get_feature_group / get_or_create_feature_group /
get_feature_view / get_or_create_feature_view`, `FeatureGroup.insert / commit_details /
select_all / select / get_feature`, `Query.filter / as_of / read / join` and
`FeatureView.create_training_data`. It upserts on the declared primary key and keeps every
commit, like a time-travel-enabled group; a feature view records its query and numbers its
training datasets 1, 2, ... as Hopsworks does. `core/tests/test_fake_hopsworks_signatures.py`
checks every faked method against hopsworks 5.2's real signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

Predicate = Callable[[pd.DataFrame], pd.Series]


class FakeFilter:
    def __init__(self, fn: Predicate) -> None:
        self.fn = fn

    def __and__(self, other: FakeFilter) -> FakeFilter:
        return FakeFilter(lambda df: self.fn(df) & other.fn(df))


class FakeFeature:
    def __init__(self, name: str) -> None:
        self.name = name

    def __ge__(self, value: Any) -> FakeFilter:  # type: ignore[override]
        return FakeFilter(lambda df: df[self.name] >= value)

    def __lt__(self, value: Any) -> FakeFilter:  # type: ignore[override]
        return FakeFilter(lambda df: df[self.name] < value)


class FakeQuery:
    def __init__(
        self,
        fg: FakeFeatureGroup,
        filters: tuple[FakeFilter, ...] = (),
        as_of: int | None = None,
        features: list[str] | None = None,
        joins: tuple[tuple[FakeQuery, list[str] | None, str | None], ...] = (),
    ) -> None:
        self.fg, self.filters, self.as_of_time = fg, filters, as_of
        self.features, self.joins = features, joins

    def filter(self, f: FakeFilter) -> FakeQuery:
        return FakeQuery(self.fg, (*self.filters, f), self.as_of_time, self.features, self.joins)

    def as_of(self, wallclock_time: int) -> FakeQuery:
        return FakeQuery(self.fg, self.filters, wallclock_time, self.features, self.joins)

    def join(
        self, sub_query: FakeQuery, on: list[str] | None = None, prefix: str | None = None
    ) -> FakeQuery:
        """Recorded only: the store joins in DuckDB; the view's query is lineage metadata here."""
        return FakeQuery(self.fg, self.filters, self.as_of_time, self.features, (*self.joins, (sub_query, on, prefix)))

    def read(self, dataframe_type: str = "default") -> pd.DataFrame:
        frame = self.fg.state(self.as_of_time)
        for f in self.filters:
            frame = frame[f.fn(frame)]
        # Hopsworks hands back plain object strings and nanosecond timestamps.
        out = frame.reset_index(drop=True).copy()
        for col in out.columns:
            if isinstance(out[col].dtype, pd.StringDtype):
                out[col] = out[col].astype(object)
            elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
                out[col] = out[col].astype("datetime64[ns, UTC]")
        return out


class FakeFeatureGroup:
    def __init__(self, name: str, version: int, primary_key: list[str], **_: Any) -> None:
        self.name, self.version, self.primary_key = name, version, primary_key
        self.commits: list[tuple[int, pd.DataFrame]] = []

    def state(self, as_of: int | None = None) -> pd.DataFrame:
        eligible = [f for t, f in self.commits if as_of is None or t <= as_of]
        return eligible[-1] if eligible else pd.DataFrame()

    def insert(self, features: pd.DataFrame, operation: str = "upsert", wait: bool = False) -> tuple[None, None]:
        current = self.state()
        merged = pd.concat([current, features], ignore_index=True) if not current.empty else features.copy()
        merged = merged.drop_duplicates(self.primary_key, keep="last").reset_index(drop=True)
        self.commits.append((len(self.commits) + 1, merged))
        return None, None

    def remove_rows(self, delete_df: pd.DataFrame, write_options: Any = None, storage: str | None = None) -> None:
        """Drops the rows whose primary key (here: key + event time) is in `delete_df`, as one commit."""
        current = self.state()
        keys = current[self.primary_key].merge(delete_df[self.primary_key], how="left", indicator=True)
        kept = current[(keys["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
        self.commits.append((len(self.commits) + 1, kept))

    def commit_details(self, wallclock_time: Any = None, limit: int | None = None) -> dict[str, dict[str, Any]]:
        details = {str(t): {"committedOn": t} for t, _ in self.commits}
        return dict(list(details.items())[-limit:]) if limit else details

    def select_all(self) -> FakeQuery:
        return FakeQuery(self)

    def select(self, features: list[str]) -> FakeQuery:
        return FakeQuery(self, features=list(features))

    def get_feature(self, name: str) -> FakeFeature:
        return FakeFeature(name)


class FakeFeatureView:
    def __init__(self, name: str, version: int, query: FakeQuery, description: str | None = "", **_: Any) -> None:
        self.name, self.version, self.query, self.description = name, version, query, description
        self.training_datasets: dict[int, dict[str, Any]] = {}

    def create_training_data(
        self,
        start_time: Any = "",
        end_time: Any = "",
        description: str | None = "",
        write_options: dict[Any, Any] | None = None,
    ) -> tuple[int, None]:
        """Numbers the dataset like Hopsworks (1, 2, ... per view); no job runs, so None is returned for it."""
        version = max(self.training_datasets, default=0) + 1
        self.training_datasets[version] = {"start_time": start_time, "end_time": end_time, "description": description}
        return version, None

    def joined_groups(self) -> list[str]:
        return [self.query.fg.name, *(sub.fg.name for sub, _, _ in self.query.joins)]


class FakeHopsworksFeatureStore:
    def __init__(self) -> None:
        self.groups: dict[tuple[str, int], FakeFeatureGroup] = {}
        self.views: dict[tuple[str, int], FakeFeatureView] = {}

    def get_feature_view(self, name: str, version: int | None = None) -> FakeFeatureView:
        if (name, version) not in self.views:
            raise RuntimeError(f"Feature view {name} v{version} not found (404)")
        return self.views[(name, version)]

    def get_or_create_feature_view(
        self,
        name: str,
        query: FakeQuery,
        version: int,
        description: str | None = "",
        labels: list[str] | None = None,
    ) -> FakeFeatureView:
        return self.views.setdefault((name, version), FakeFeatureView(name, version, query, description))

    def get_feature_group(self, name: str, version: int) -> FakeFeatureGroup:
        if (name, version) not in self.groups:
            raise RuntimeError(f"Feature group {name} v{version} not found (404)")
        return self.groups[(name, version)]

    def get_or_create_feature_group(self, name: str, version: int, **kwargs: Any) -> FakeFeatureGroup:
        return self.groups.setdefault((name, version), FakeFeatureGroup(name, version, **kwargs))
