"""The registry suite: the ModelRegistry contract, run against every backend.

The contract tests only use the `ModelRegistry` interface through the `make_registry` fixture,
so a new backend joins the suite by adding one parameter there. Three backends run here: the
embedded SQLite file inside ENERGY_HOME; a real `mlflow server` subprocess over HTTP (started
in the background at the module's first test so it boots while the SQLite tests run); and
`hopsworks`: the real Hopsworks mapping mirrored into a real MLflow SQLite, where Hopsworks
itself is MOCKED by an in-memory fake at the hsml boundary (`fake_hsml.py`; no cluster is
reachable here; `test_fake_hopsworks_signatures.py` pins the fake to hopsworks 5.2). On that
backend every test also checks, at teardown, that the MLflow mirror shows exactly what the
primary shows (versions, metrics, tags, lineage, aliases). Nothing else is mocked. Tests that
inspect MLflow itself (runs, artifacts, global URIs) are grouped at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from energy_core.registry import (
    CHAMPION,
    Lineage,
    ModelNotFound,
    ModelRegistry,
    ModelToRegister,
    RegistryError,
    RegistryUnavailable,
)
from energy_core.registry.mirrored import MirroredModelRegistry, open_mirrored
from energy_core.registry.mlflow_registry import (
    INTERRUPTED_TAG,
    MlflowModelRegistry,
    _mlflow_global_uris,
    mark_interrupted_runs,
    process_tags,
    reroot_embedded_store,
)
from energy_core.registry.sync import compare
from energy_core.settings import RegistrySettings

MODEL_SOURCE = Path(__file__).with_name("seasonal_naive_model.py")
VENV_BIN = Path(sys.executable).parent
SERVER_BOOT_TIMEOUT_S = 180.0
BACKENDS = ("sqlite", "server", "hopsworks")


def _import_model_module() -> ModuleType:
    """Import the test model under its file name, the name it has when shipped via code_paths."""
    spec = importlib.util.spec_from_file_location(MODEL_SOURCE.stem, MODEL_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


seasonal_naive_model = _import_model_module()


def _load_fake(name: str) -> ModuleType:
    """A fake beside this file, by path (the test folder is not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake_hsml = _load_fake("fake_hsml")

LINEAGE = Lineage(
    feature_view="energy_forecasting",
    feature_view_version=1,
    training_dataset_version=3,
    git_commit="0123456789abcdef0123456789abcdef01234567",
    data_sha256="ab" * 32,
    as_of=datetime(2024, 1, 9, 23, tzinfo=UTC),
)


def forecast_input(history_hours: int = 192, horizon_hours: int = 24) -> pd.DataFrame:
    """History (label present) then the hours to forecast (label null), for two series."""
    hours = pd.date_range("2024-01-01", periods=history_hours + horizon_hours, freq="h", tz="UTC").as_unit("us")
    rng = np.random.default_rng(7)
    frames = []
    for area, consumer_type, level in (("DK1", "111", 900.0), ("DK2", "122", 400.0)):
        step = np.arange(len(hours))
        daily = np.sin(2 * np.pi * step / 24) * level * 0.2
        weekly = np.where(hours.dayofweek >= 5, -0.1 * level, 0.0)
        label = level + daily + weekly + rng.normal(0, level * 0.02, len(hours))
        label[history_hours:] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "area": area,
                    "consumer_type": consumer_type,
                    "datetime_utc": hours,
                    "energy_consumption_kwh": label,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def model_to_register(season_hours: int = 24, **overrides: object) -> ModelToRegister:
    fields: dict[str, object] = {
        "python_model": seasonal_naive_model.SeasonalNaive(season_hours),
        "input_example": forecast_input(),
        "pip_requirements": [f"mlflow=={mlflow.__version__}", f"pandas=={pd.__version__}", f"numpy=={np.__version__}"],
        "lineage": LINEAGE,
        "params": {"season_hours": season_hours, "model": "seasonal_naive"},
        "metrics": {"backtest_wape": 0.125 if season_hours == 24 else 0.0875, "naive24_backtest_wape": 0.125},
        "tags": {"model_family": "seasonal_naive", "approval": "pending"},
        "code_paths": [str(MODEL_SOURCE)],
        "description": f"seasonal naive, season {season_hours} h",
    }
    fields.update(overrides)
    return ModelToRegister(**fields)  # type: ignore[arg-type]


def in_memory_forecast(season_hours: int) -> pd.DataFrame:
    return seasonal_naive_model.SeasonalNaive(season_hours).predict(None, forecast_input())


# ---------------------------------------------------------------------- backends


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quiet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", WANDB_MODE="offline", **extra)
    return env


class _Server:
    """An `mlflow server` subprocess (own process group, so teardown stops its workers too)."""

    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        command = [
            str(VENV_BIN / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{root / 'db.sqlite'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                start_new_session=True,
                # The job runner spawns four extra consumer processes the registry never uses.
                env=_quiet_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            )

    def wait_until_healthy(self) -> str:
        deadline = time.monotonic() + SERVER_BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    return self.uri
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"mlflow server not healthy after {SERVER_BOOT_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


@pytest.fixture(scope="module", autouse=True)
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    """Started before the first test so it boots while the embedded tests run."""
    server = _Server(tmp_path_factory.mktemp("mlflow-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def energy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("energy-home")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def tracking_uri(backend: str, mlflow_server: _Server) -> str | None:
    """None means the embedded default (SQLite file in ENERGY_HOME; the hopsworks mirror's too)."""
    return mlflow_server.wait_until_healthy() if backend == "server" else None


@pytest.fixture(scope="module")
def hopsworks_project(tmp_path_factory: pytest.TempPathFactory) -> object:
    """MOCKED: the in-memory Hopsworks project of fake_hsml.py (no cluster is reachable here)."""
    return fake_hsml.FakeProject(tmp_path_factory.mktemp("fake-hopsworks"))


def registry_settings(
    energy_home: Path, tracking_uri: str | None, model_name: str, backend: str = "mlflow"
) -> RegistrySettings:
    """Every field given explicitly, so neither the environment nor a developer's .env leaks in."""
    return RegistrySettings(
        ENERGY_HOME=energy_home,
        ENERGY_MODEL_REGISTRY=backend,
        HOPSWORKS_HOST="hopsworks.test.invalid",
        HOPSWORKS_PROJECT="energy",
        HOPSWORKS_API_KEY="test-key",
        MLFLOW_TRACKING_URI=tracking_uri,
        MLFLOW_REGISTRY_URI=None,
        ENERGY_MODEL_NAME=model_name,
        ENERGY_EXPERIMENT_NAME="registry-tests",
    )


@pytest.fixture
def make_registry(
    energy_home: Path, tracking_uri: str | None, backend: str, hopsworks_project: object
) -> Iterator[Callable[[], ModelRegistry]]:
    """A registry for a model name no other test uses: each test starts from an empty registry
    while the backend (database, server, fake project) is shared, which keeps the module fast.
    On `hopsworks`, teardown checks that the MLflow mirror shows what the primary shows."""
    made: list[MirroredModelRegistry] = []

    def make() -> ModelRegistry:
        name = f"forecaster-{uuid.uuid4().hex[:10]}"
        if backend == "hopsworks":
            mirrored = open_mirrored(registry_settings(energy_home, None, name, "hopsworks"), project=hopsworks_project)
            made.append(mirrored)
            return mirrored
        return MlflowModelRegistry(registry_settings(energy_home, tracking_uri, name))

    yield make
    for mirrored in made:
        assert compare(mirrored.primary.list_versions(), mirrored.mirror.list_versions()) == []


@pytest.fixture
def registry(make_registry: Callable[[], ModelRegistry]) -> ModelRegistry:
    return make_registry()


# ---------------------------------------------------------------------- the contract


def test_model_loaded_by_champion_alias_predicts_exactly_like_the_in_memory_model(registry: ModelRegistry) -> None:
    info = registry.register(model_to_register(season_hours=24))
    registry.set_alias(CHAMPION, info.version)

    loaded = registry.load(alias=CHAMPION)

    pd.testing.assert_frame_equal(loaded.predict(forecast_input()), in_memory_forecast(24), check_exact=True)


def test_get_returns_lineage_metrics_params_tags_and_description(registry: ModelRegistry) -> None:
    registered = registry.register(model_to_register(season_hours=168))

    info = registry.get(version=registered.version)

    assert info == registered
    assert info.lineage == LINEAGE
    assert info.metrics == {"backtest_wape": 0.0875, "naive24_backtest_wape": 0.125}
    assert info.params == {"season_hours": "168", "model": "seasonal_naive"}
    assert info.model_family == "seasonal_naive"
    assert info.approval == "pending"
    assert info.description == "seasonal naive, season 168 h"
    assert info.run_id
    assert info.created_at.tzinfo is not None


def test_moving_the_champion_alias_back_rolls_back_to_the_previous_model(registry: ModelRegistry) -> None:
    first = registry.register(model_to_register(season_hours=24))
    second = registry.register(model_to_register(season_hours=168))
    registry.set_alias(CHAMPION, second.version)
    promoted = registry.load(alias=CHAMPION).predict(forecast_input())

    registry.set_alias(CHAMPION, first.version)

    assert registry.get(alias=CHAMPION).version == first.version
    assert registry.get(version=second.version).aliases == []
    rolled_back = registry.load(alias=CHAMPION).predict(forecast_input())
    pd.testing.assert_frame_equal(promoted, in_memory_forecast(168), check_exact=True)
    pd.testing.assert_frame_equal(rolled_back, in_memory_forecast(24), check_exact=True)


def test_list_versions_is_newest_first_with_each_versions_aliases(registry: ModelRegistry) -> None:
    versions = [registry.register(model_to_register(season_hours=s)).version for s in (24, 168, 24)]
    registry.set_alias(CHAMPION, versions[1])
    registry.set_alias("challenger", versions[2])

    listed = registry.list_versions()

    assert [v.version for v in listed] == sorted(versions, reverse=True)
    assert {v.version: v.aliases for v in listed} == {
        versions[2]: ["challenger"],
        versions[1]: [CHAMPION],
        versions[0]: [],
    }
    assert all(v.lineage == LINEAGE for v in listed)


def test_set_tags_adds_and_overwrites_tags_on_one_version_only(registry: ModelRegistry) -> None:
    first = registry.register(model_to_register())
    second = registry.register(model_to_register())

    registry.set_tags(first.version, {"approval": "approved", "approved_by": "ops"})

    assert registry.get(version=first.version).tags == {
        "model_family": "seasonal_naive",
        "approval": "approved",
        "approved_by": "ops",
    }
    assert registry.get(version=second.version).approval == "pending"


def test_unknown_alias_raises_model_not_found_naming_the_versions_that_exist(registry: ModelRegistry) -> None:
    info = registry.register(model_to_register())

    with pytest.raises(ModelNotFound, match=rf"alias 'champion'.*registered versions: \[{info.version}\]"):
        registry.get(alias=CHAMPION)
    with pytest.raises(ModelNotFound, match=rf"alias 'champion'.*registered versions: \[{info.version}\]"):
        registry.load(alias=CHAMPION)


def test_unknown_version_raises_model_not_found(registry: ModelRegistry) -> None:
    info = registry.register(model_to_register())

    with pytest.raises(ModelNotFound, match=f"version {info.version + 41}"):
        registry.get(version=info.version + 41)
    with pytest.raises(ModelNotFound, match=f"version {info.version + 41}"):
        registry.set_alias(CHAMPION, info.version + 41)
    with pytest.raises(ModelNotFound):
        registry.set_tags(info.version + 41, {"approval": "approved"})


def test_an_empty_registry_lists_nothing_and_says_the_model_is_not_registered(registry: ModelRegistry) -> None:
    assert registry.list_versions() == []
    with pytest.raises(ModelNotFound, match=r"registered versions: \[\] \(model '.*' is not registered yet\)"):
        registry.get(alias=CHAMPION)
    with pytest.raises(ModelNotFound, match="not registered yet"):
        registry.load(version=1)
    registry.delete_alias(CHAMPION)  # a no-op, not an error
    registry.check()


def test_deleting_an_alias_removes_it_and_deleting_it_again_is_a_no_op(registry: ModelRegistry) -> None:
    info = registry.register(model_to_register())
    registry.set_alias(CHAMPION, info.version)

    registry.delete_alias(CHAMPION)
    registry.delete_alias(CHAMPION)

    assert registry.get(version=info.version).aliases == []
    with pytest.raises(ModelNotFound):
        registry.get(alias=CHAMPION)


@pytest.mark.parametrize(("version", "alias"), [(None, None), (1, CHAMPION)])
def test_get_needs_exactly_one_of_version_or_alias(
    registry: ModelRegistry, version: int | None, alias: str | None
) -> None:
    with pytest.raises(ValueError, match="exactly one of version or alias"):
        registry.get(version=version, alias=alias)


def test_a_fresh_process_loads_the_champion_through_code_paths_alone(energy_home: Path, tmp_path: Path) -> None:
    """The child process cannot import the test folder: the model's code must come with it.

    Runs on the embedded backend only: shipping code is backend-independent, and the server's
    artifact download is already exercised by the load tests above.
    """
    model_name = f"forecaster-{uuid.uuid4().hex[:10]}"
    registry = MlflowModelRegistry(registry_settings(energy_home, None, model_name))
    info = registry.register(model_to_register(season_hours=168))
    registry.set_alias(CHAMPION, info.version)
    forecast_input().to_parquet(tmp_path / "input.parquet")
    child = textwrap.dedent(
        """
        import importlib.util, sys
        import pandas as pd
        from energy_core.registry import open_registry
        assert importlib.util.find_spec("seasonal_naive_model") is None, "test module leaked into the child"
        model = open_registry().load(alias="champion")
        model.predict(pd.read_parquet(sys.argv[1])).to_parquet(sys.argv[2])
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path / "input.parquet"), str(tmp_path / "output.parquet")],
        cwd=tmp_path,
        env=_quiet_env(ENERGY_HOME=str(energy_home), ENERGY_MODEL_NAME=model_name),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "output.parquet"), in_memory_forecast(168), check_exact=True
    )


@pytest.mark.slow  # two fresh interpreters create the schema one after the other: ~25 s on a busy machine
def test_two_processes_registering_into_a_fresh_sqlite_file_both_succeed(tmp_path: Path) -> None:
    """Both processes create the schema at once: without the registry's lock beside the SQLite
    file, MLflow's migrations race and one process dies with "duplicate column name"."""
    child = textwrap.dedent(
        f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("test_registry_child", {str(Path(__file__))!r})
        tests = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tests)
        from energy_core.registry import open_registry
        print(open_registry().register(tests.model_to_register()).version)
        """
    )
    env = _quiet_env(ENERGY_HOME=str(tmp_path / "home"), ENERGY_MODEL_NAME="forecaster")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", child],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [child_process.communicate(timeout=180) for child_process in children]

    for child_process, (_, stderr) in zip(children, results, strict=True):
        assert child_process.returncode == 0, stderr[-3000:]
    assert sorted(int(stdout.strip().splitlines()[-1]) for stdout, _ in results) == [1, 2]
    registry = MlflowModelRegistry(registry_settings(tmp_path / "home", None, "forecaster"))
    assert [v.version for v in registry.list_versions()] == [2, 1]


# ---------------------------------------------------------------------- unavailability


@pytest.mark.timeout(60)  # a hang guard, not a benchmark: MLflow's defaults would retry for minutes
def test_check_against_a_dead_server_raises_registry_unavailable_naming_the_uri(energy_home: Path) -> None:
    dead_uri = f"http://127.0.0.1:{_free_port()}"
    registry = MlflowModelRegistry(registry_settings(energy_home, dead_uri, "forecaster"))

    with pytest.raises(RegistryUnavailable, match=dead_uri):
        registry.check()
    with pytest.raises(RegistryUnavailable, match=dead_uri):
        registry.get(alias=CHAMPION)


def test_a_sqlite_file_that_cannot_be_opened_makes_the_registry_unavailable(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    uri = f"sqlite:///{not_a_directory / 'mlflow.db'}"
    registry = MlflowModelRegistry(registry_settings(tmp_path, uri, "forecaster"))

    with pytest.raises(RegistryUnavailable, match="plain-file"):
        registry.check()


def test_registering_with_a_missing_artifact_file_names_it_and_logs_nothing(registry: ModelRegistry) -> None:
    model = model_to_register(artifacts={"weights": "/nonexistent/weights.bin"})

    with pytest.raises(RegistryError, match=r"artifact 'weights': /nonexistent/weights.bin"):
        registry.register(model)
    assert registry.list_versions() == []


# ---------------------------------------------------------------------- MLflow specifics


@pytest.fixture
def mlflow_registry(make_registry: Callable[[], ModelRegistry], backend: str) -> MlflowModelRegistry:
    if backend == "hopsworks":
        pytest.skip("inspects MLflow's own runs and URIs; the hopsworks backend's mirror is covered by sqlite")
    registry = make_registry()
    assert isinstance(registry, MlflowModelRegistry)
    return registry


def test_register_logs_into_the_given_run_with_params_metrics_and_extra_files(
    mlflow_registry: MlflowModelRegistry, energy_home: Path, tracking_uri: str | None, tmp_path: Path
) -> None:
    settings = registry_settings(energy_home, tracking_uri, "unused")
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    mlflow_registry.check()  # creates the schema of the embedded database
    experiment = client.get_experiment_by_name("registry-tests") or client.get_experiment(
        client.create_experiment("registry-tests", artifact_location=settings.artifact_root.as_uri())
    )
    run_id = client.create_run(experiment.experiment_id).info.run_id
    report = tmp_path / "scores.json"
    report.write_text(json.dumps({"wape": 0.125}))

    info = mlflow_registry.register(model_to_register(extra_files={"backtest/scores.json": report}), run_id=run_id)

    run = client.get_run(run_id)
    assert info.run_id == run_id
    assert run.data.params == {"season_hours": "24", "model": "seasonal_naive"}
    assert run.data.metrics == {"backtest_wape": 0.125, "naive24_backtest_wape": 0.125}
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path="backtest/scores.json",
        dst_path=str(tmp_path / "dl"),
        tracking_uri=settings.resolved_tracking_uri,
    )
    assert json.loads(Path(downloaded).read_text()) == {"wape": 0.125}


def test_register_leaves_mlflows_global_uris_and_environment_as_it_found_them(
    mlflow_registry: MlflowModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://operator-choice.invalid:5000")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri("http://operator-choice.invalid:5000")
    try:
        mlflow_registry.register(model_to_register())

        assert os.environ["MLFLOW_TRACKING_URI"] == "http://operator-choice.invalid:5000"
        assert "MLFLOW_REGISTRY_URI" not in os.environ
        assert mlflow.get_tracking_uri() == "http://operator-choice.invalid:5000"
        assert mlflow.active_run() is None
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- a portable ENERGY_HOME, interrupted runs


def test_a_copied_home_with_the_original_deleted_still_loads_the_champion_and_predicts(tmp_path: Path) -> None:
    """MLflow records absolute artifact paths; the registry re-roots them at the home it opens."""
    original, copy = tmp_path / "original", tmp_path / "copy"
    registry = MlflowModelRegistry(registry_settings(original, None, "forecaster"))
    registry.set_alias(CHAMPION, registry.register(model_to_register(season_hours=168)).version)
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True)
    subprocess.run(["rm", "-rf", str(original)], check=True)

    moved = MlflowModelRegistry(registry_settings(copy, None, "forecaster"))
    predicted = moved.load(alias=CHAMPION).predict(forecast_input())

    pd.testing.assert_frame_equal(predicted, in_memory_forecast(168), check_exact=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{copy / 'mlflow' / 'mlflow.db'}")
    locations = [e.artifact_location for e in client.search_experiments()]
    assert locations and all(loc.startswith((copy / "mlflow" / "artifacts").as_uri()) for loc in locations)


def test_opening_a_home_twice_rewrites_nothing_the_second_time(tmp_path: Path) -> None:
    settings = registry_settings(tmp_path / "home", None, "forecaster")
    MlflowModelRegistry(settings).register(model_to_register())
    reroot_embedded_store(settings)

    assert reroot_embedded_store(settings) == 0


def test_the_default_experiment_keeps_its_artifacts_in_energy_home_not_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow roots its Default experiment at ./mlruns of the directory that created the database."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    home = tmp_path / "home"
    MlflowModelRegistry(registry_settings(home, None, "forecaster")).check()
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"

    with _mlflow_global_uris(uri, uri), mlflow.start_run(experiment_id="0") as run:
        mlflow.log_text("x", "note.txt")

    default = MlflowClient(tracking_uri=uri).get_experiment("0")
    assert default.artifact_location == f"{(home / 'mlflow' / 'artifacts').as_uri()}/0"
    assert run.info.artifact_uri.startswith(default.artifact_location)
    assert not (workdir / "mlruns").exists()


def test_a_running_run_whose_process_was_killed_is_marked_failed_and_a_live_ones_is_not(tmp_path: Path) -> None:
    settings = registry_settings(tmp_path / "home", None, "forecaster")
    MlflowModelRegistry(settings).check()  # creates the store
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiment = client.create_experiment(settings.experiment_name)
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    dead_tags = {**process_tags(), "energy.pid": str(killed.pid)}
    dead = client.create_run(experiment, tags=dead_tags).info.run_id
    trial = client.create_run(experiment, tags={**dead_tags, "mlflow.parentRunId": dead}).info.run_id
    alive = client.create_run(experiment, tags=process_tags()).info.run_id
    elsewhere = client.create_run(experiment, tags={**dead_tags, "energy.host": "another-host"}).info.run_id
    untagged = client.create_run(experiment).info.run_id

    marked = mark_interrupted_runs(settings)

    assert marked == sorted([dead, trial])
    status = {run_id: client.get_run(run_id).info.status for run_id in (dead, trial, alive, elsewhere, untagged)}
    assert status == {dead: "FAILED", trial: "FAILED", alive: "RUNNING", elsewhere: "RUNNING", untagged: "RUNNING"}
    assert str(killed.pid) in client.get_run(dead).data.tags[INTERRUPTED_TAG]
    assert mark_interrupted_runs(settings) == []
