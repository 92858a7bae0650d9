"""`energy-admin backup` / `restore` round trip over a real ENERGY_HOME: Delta tables written by
the embedded store and an MLflow SQLite registry created with mlflow's own client (no mocks)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from energy_core.feature_store.embedded import EmbeddedFeatureStore
from energy_core.maintenance import MaintenanceError, backup, main, restore
from energy_core.schemas import ENERGY_CONSUMPTION

from .test_feature_store import T0, consumption

MODEL = "backup-roundtrip-model"


def build_home(home: Path) -> dict[str, object]:
    store = EmbeddedFeatureStore(home / "feature_store")
    store.insert(ENERGY_CONSUMPTION, consumption(6))
    revised = consumption(6)
    revised.loc[0, "energy_consumption_kwh"] = 1.0
    store.insert(ENERGY_CONSUMPTION, revised)
    store.delete(ENERGY_CONSUMPTION, T0 + timedelta(hours=5), filters={"area": "DK2"})
    (home / "state").mkdir()
    (home / "state" / "watermarks.json").write_text('{"energy_consumption": "2023-01-10T05:00:00+00:00"}')

    (home / "mlflow").mkdir()
    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    experiment = client.create_experiment("roundtrip", artifact_location=(home / "mlflow" / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_param(run.info.run_id, "alpha", "0.5")
    client.log_metric(run.info.run_id, "backtest_wape", 0.123)
    model_dir = home / "model_src"
    model_dir.mkdir()
    (model_dir / "weights.txt").write_text("w=42")
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(MODEL, "champion", version.version)
    shutil.rmtree(model_dir)
    return {"rows": store.read(ENERGY_CONSUMPTION), "version": store.table_version(ENERGY_CONSUMPTION),
            "run_id": run.info.run_id}


def test_backup_then_restore_elsewhere_gives_back_every_row_and_the_registry(tmp_path: Path) -> None:
    home, dest, new_home = tmp_path / "home", tmp_path / "backup", tmp_path / "restored"
    built = build_home(home)
    manifest = backup(home, dest)
    assert manifest.table_versions == {"energy_consumption_v1": built["version"]}
    assert manifest.mlflow_db and "state/watermarks.json" in manifest.files
    shutil.rmtree(home)  # nothing may still point at the old home

    restore(dest, new_home)
    store = EmbeddedFeatureStore(new_home / "feature_store")
    pd.testing.assert_frame_equal(store.read(ENERGY_CONSUMPTION), built["rows"])
    assert store.table_version(ENERGY_CONSUMPTION) == built["version"]
    assert len(store.read(ENERGY_CONSUMPTION, version=0)) == 6 * 4  # Delta history came along
    assert (new_home / "state" / "watermarks.json").read_text().startswith('{"energy_consumption"')

    client = MlflowClient(tracking_uri=f"sqlite:///{new_home / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(str(built["run_id"]))
    assert run.data.params == {"alpha": "0.5"} and run.data.metrics == {"backtest_wape": 0.123}
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.run_id == built["run_id"]
    local = mlflow.artifacts.download_artifacts(artifact_uri=champion.source, dst_path=str(tmp_path / "dl"))
    assert (Path(local) / "weights.txt").read_text() == "w=42"
    assert str(new_home) in champion.source


def test_restore_refuses_a_home_with_state_unless_forced(tmp_path: Path) -> None:
    home, dest = tmp_path / "home", tmp_path / "backup"
    build_home(home)
    backup(home, dest)
    EmbeddedFeatureStore(home / "feature_store").insert(ENERGY_CONSUMPTION, consumption(9))
    with pytest.raises(MaintenanceError, match="--force"):
        restore(dest, home)
    assert len(EmbeddedFeatureStore(home / "feature_store").read(ENERGY_CONSUMPTION)) == 9 * 4
    restore(dest, home, force=True)
    assert len(EmbeddedFeatureStore(home / "feature_store").read(ENERGY_CONSUMPTION)) == 6 * 4 - 2


def test_damaged_backup_or_non_empty_destination_is_refused(tmp_path: Path) -> None:
    home, dest = tmp_path / "home", tmp_path / "backup"
    build_home(home)
    backup(home, dest)
    with pytest.raises(MaintenanceError, match="not empty"):
        backup(home, dest)
    parquet = next((dest / "feature_store" / "tables").rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:-10])
    with pytest.raises(MaintenanceError, match="damaged"):
        restore(dest, tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere" / "feature_store").exists()


def test_energy_admin_cli_checks_and_backs_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    build_home(home)
    monkeypatch.setenv("ENERGY_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["check"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in report] == ["current"]
    assert main(["backup", str(tmp_path / "b")]) == 0
    assert json.loads(capsys.readouterr().out)["tables"] == {"energy_consumption_v1": 2}  # create, revise, delete
    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "--force" in capsys.readouterr().err
