"""What only the Hopsworks registry and its MLflow mirror do: native lineage, aliases as tags,
the mirror's behaviour when MLflow fails, and the pure comparison `sync` is built on.

MOCKED: Hopsworks itself, by the in-memory fakes at the hsml/hsfs boundary (`fake_hsml.py`,
`fake_hsfs.py`; no cluster is reachable from here). MLflow is real (SQLite in a temporary home).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.feature_store.hopsworks_store import HopsworksFeatureStore
from energy_core.registry import (
    CHAMPION,
    Lineage,
    ModelNotFound,
    ModelVersionInfo,
    RegistryUnavailable,
    open_registry,
)
from energy_core.registry.hopsworks_registry import ALIASES_TAG, HopsworksModelRegistry
from energy_core.registry.mirrored import MIRROR_OF_TAG, MirrorDrift, MirroredModelRegistry, open_mirrored
from energy_core.registry.mlflow_registry import MlflowModelRegistry
from energy_core.registry.sync import Difference, compare
from energy_core.schemas import ENERGY_CONSUMPTION
from energy_core.settings import FeatureStoreSettings, RegistrySettings, SettingsError, load


def _load(name: str) -> ModuleType:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_hsml = _load("fake_hsml")
registry_tests = _load("test_registry")  # the contract suite's model and helpers
test_feature_store = _load("test_feature_store")


def settings(home: Path, tracking_uri: str | None = None) -> RegistrySettings:
    return registry_tests.registry_settings(home, tracking_uri, "forecaster", "hopsworks")  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path) -> object:
    return fake_hsml.FakeProject(tmp_path / "hopsworks")


# ---------------------------------------------------------------------- lineage


def test_in_hopsworks_mode_the_model_links_to_the_feature_view_and_training_dataset_it_came_from(
    tmp_path: Path, project: object
) -> None:
    view = test_feature_store.view_with_lag(1)
    hopsworks = HopsworksFeatureStore(
        FeatureStoreSettings(ENERGY_HOME=tmp_path),  # type: ignore[call-arg]
        feature_store=project.feature_store,  # type: ignore[attr-defined]
    )
    embedded = EmbeddedFeatureStore(tmp_path / "embedded")
    for store in (hopsworks, embedded):
        store.insert(ENERGY_CONSUMPTION, test_feature_store.consumption(48))
        store.insert(test_feature_store.OBSERVATIONS, test_feature_store.observations([test_feature_store.T0]))
    first, second = (hopsworks.create_training_dataset(view) for _ in range(2))
    registry = open_mirrored(settings(tmp_path / "home"), project=project)
    lineage = Lineage(view.name, view.version, second.version, "c0ffee", second.data_sha256)

    info = registry.register(registry_tests.model_to_register(lineage=lineage))

    fake_view = project.feature_store.get_feature_view(view.name, view.version)  # type: ignore[attr-defined]
    assert fake_view.joined_groups() == [ENERGY_CONSUMPTION.name, test_feature_store.OBSERVATIONS.name]
    assert sorted(fake_view.training_datasets) == [first.version, second.version] == [1, 2]
    stored = project.model_registry.get_model("forecaster", version=info.version)  # type: ignore[attr-defined]
    assert stored.feature_view is fake_view and stored.training_dataset_version == 2
    # Lineage reads the same in both backends: view name/version + training-dataset version.
    assert info.lineage == lineage
    embedded_metas = [embedded.create_training_dataset(view) for _ in range(2)]
    assert [(m.view_name, m.view_version, m.version) for m in embedded_metas] == [
        (m.view_name, m.view_version, m.version) for m in (first, second)
    ]


def test_a_lineage_naming_a_view_hopsworks_lacks_registers_with_the_lineage_in_tags_only(
    tmp_path: Path, project: object
) -> None:
    registry = open_mirrored(settings(tmp_path), project=project)

    info = registry.register(registry_tests.model_to_register())

    stored = project.model_registry.get_model("forecaster", version=info.version)  # type: ignore[attr-defined]
    assert stored.feature_view is None and stored.training_dataset_version is None
    assert info.lineage == registry_tests.LINEAGE


def test_the_saved_model_carries_a_model_card_and_metrics_hopsworks_shows(tmp_path: Path, project: object) -> None:
    registry = open_mirrored(settings(tmp_path), project=project)

    info = registry.register(registry_tests.model_to_register(season_hours=168))

    stored = project.model_registry.get_model("forecaster", version=info.version)  # type: ignore[attr-defined]
    assert stored.training_metrics == {"backtest_wape": 0.0875, "naive24_backtest_wape": 0.125}
    card = (stored.files / "README.md").read_text()
    assert "| `backtest_wape` | 0.0875 |" in card and "energy_forecasting` v1" in card
    assert (stored.files / "MLmodel").is_file()


# ---------------------------------------------------------------------- aliases


def test_an_alias_move_interrupted_between_its_two_writes_resolves_to_the_latest_claim(
    tmp_path: Path, project: object
) -> None:
    """set_alias writes the new claim, then releases the old one; a crash in between leaves two
    claims, and readers must still see one champion: the latest."""
    registry = open_mirrored(settings(tmp_path), project=project)
    old, new = (registry.register(registry_tests.model_to_register()).version for _ in range(2))
    registry.set_alias(CHAMPION, old)
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    project.model_registry.get_model("forecaster", version=new).add_tag(  # type: ignore[attr-defined]
        ALIASES_TAG, {CHAMPION: later}
    )

    assert registry.get(alias=CHAMPION).version == new
    assert [v.aliases for v in registry.list_versions()] == [[CHAMPION], []]
    registry.set_alias(CHAMPION, old)  # a clean move wins over the stray claim and clears it
    assert registry.get(alias=CHAMPION).version == old
    assert registry.get(version=new).aliases == []


# ---------------------------------------------------------------------- the mirror


def test_open_registry_chooses_the_mirrored_hopsworks_registry_by_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: object
) -> None:
    """`hopsworks.login` is MOCKED by the fake project's login (it checks host and key are given)."""
    import hopsworks

    monkeypatch.setattr(hopsworks, "login", project.login)  # type: ignore[attr-defined]
    registry = open_registry(settings(tmp_path))
    assert isinstance(registry, MirroredModelRegistry)
    registry.check()
    assert project.logins == [  # type: ignore[attr-defined]
        {"host": "hopsworks.test.invalid", "port": 443, "project": "energy"}
    ]
    mlflow_only = registry_tests.registry_settings(tmp_path, None, "forecaster")
    assert isinstance(open_registry(mlflow_only), MlflowModelRegistry)


def test_a_mirror_failure_keeps_the_primary_write_and_logs_drift_naming_the_sync_command(
    tmp_path: Path, project: object, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    broken = settings(tmp_path, f"sqlite:///{not_a_directory / 'mlflow.db'}")
    primary = HopsworksModelRegistry(broken, project=project)
    registry = MirroredModelRegistry(primary, MlflowModelRegistry(broken), broken)

    with caplog.at_level(logging.ERROR, logger="energy_core.registry.mirrored"):
        info = registry.register(registry_tests.model_to_register())
        registry.set_alias(CHAMPION, info.version)

    assert registry.get(alias=CHAMPION).version == info.version == 1
    assert info.run_id is None  # the mirror could not create the run either
    assert len(caplog.records) >= 3
    assert all("training-pipeline registry sync" in r.getMessage() for r in caplog.records)


def test_a_hopsworks_outage_is_registry_unavailable_naming_the_project(tmp_path: Path, project: object) -> None:
    registry = open_mirrored(settings(tmp_path), project=project)
    project.model_registry.down = True  # type: ignore[attr-defined]

    with pytest.raises(RegistryUnavailable, match=r"project 'energy' at hopsworks\.test\.invalid"):
        registry.get(alias=CHAMPION)
    with pytest.raises(RegistryUnavailable, match="unavailable"):
        registry.check()
    project.model_registry.down = False  # type: ignore[attr-defined]
    with pytest.raises(ModelNotFound, match="not registered yet"):
        registry.get(alias=CHAMPION)


def test_the_transition_lock_is_the_mirrors_lock_shared_by_every_registry_on_that_mlflow(
    tmp_path: Path, project: object
) -> None:
    holder, other = (open_mirrored(settings(tmp_path), project=project) for _ in range(2))
    plain_mlflow = MlflowModelRegistry(settings(tmp_path))

    with holder.transition_lock(), holder.transition_lock():  # re-entrant within a thread
        for blocked in (other, plain_mlflow):
            with pytest.raises(RegistryUnavailable, match="transition lock"), blocked.transition_lock(timeout_s=0.2):
                pass
    with other.transition_lock(timeout_s=0.2):
        pass


def test_a_transition_on_a_version_the_mirror_lacks_is_drift_not_an_error(tmp_path: Path, project: object) -> None:
    registry = open_mirrored(settings(tmp_path), project=project)
    info = registry.primary.register(registry_tests.model_to_register())  # written behind the mirror's back

    registry.set_alias(CHAMPION, info.version)

    assert registry.get(alias=CHAMPION).version == info.version
    with pytest.raises(MirrorDrift, match="no copy in the MLflow mirror"):
        registry._mirror_version(info.version)


def test_the_hopsworks_registry_without_credentials_fails_naming_each_missing_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("ENERGY_MODEL_REGISTRY", "hopsworks")
    monkeypatch.setenv("HOPSWORKS_HOST", "c.app.hopsworks.ai")
    for name in ("HOPSWORKS_PROJECT", "HOPSWORKS_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    missing = "ENERGY_MODEL_REGISTRY=hopsworks needs HOPSWORKS_PROJECT, HOPSWORKS_API_KEY"
    with pytest.raises(SettingsError, match=missing):
        load(RegistrySettings)


# ---------------------------------------------------------------------- compare (pure)


def _version(number: int, aliases: list[str] | None = None, **tags: str) -> ModelVersionInfo:
    return ModelVersionInfo(
        name="m",
        version=number,
        aliases=aliases or [],
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        run_id="r",
        metrics={"backtest_wape": 0.1},
        tags={"approval": "pending", **tags},
        lineage=registry_tests.LINEAGE,
    )


def test_compare_pairs_versions_by_the_primary_version_tag_not_by_number() -> None:
    primary = [_version(1), _version(2, [CHAMPION])]
    mirror = [_version(1, **{MIRROR_OF_TAG: "1"}), _version(3, [CHAMPION], **{MIRROR_OF_TAG: "2"})]

    assert compare(primary, mirror) == []


def test_compare_names_a_missing_version_an_orphan_and_a_changed_tag() -> None:
    primary = [_version(1), _version(2, approval="approved")]
    mirror = [_version(1, **{MIRROR_OF_TAG: "1"}), _version(5, **{MIRROR_OF_TAG: "1"})]

    assert [str(d) for d in compare(primary, mirror)] == [
        "version 2: in the primary, missing in the mirror",
        "mirror version 5: not in the primary (copy of primary version 1, which is already paired or gone)",
    ]
    changed = [_version(1, **{MIRROR_OF_TAG: "1", "approval": "rejected"})]
    assert compare([_version(1)], changed) == [Difference("tag", 1, "approval", "pending", "rejected")]
