"""The MLflow backend of the ModelRegistry: an embedded SQLite file by default, or an MLflow server.

Why it looks the way it does:
- Every read goes through one `MlflowClient` held by the instance with explicit tracking and
  registry URIs, so two registries (a test's and a developer's) never leak into each other
  through MLflow's process-global state. Only `register` has to borrow that global state,
  because `mlflow.pyfunc.log_model` knows no other way; it borrows it under a lock and gives it
  back exactly as found (including the `MLFLOW_TRACKING_URI` variable MLflow rewrites).
- A version is created with its lineage, metric and caller tags in one call, so no reader
  (batch prediction, the API) can ever see a version without its lineage.
- Backend failures become `RegistryUnavailable` naming the URI; unknown versions and aliases
  become `ModelNotFound` listing what does exist. Callers never need to know MLflow's errors.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, cast

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
import sqlalchemy.exc
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature

from energy_core.registry.base import (
    Lineage,
    ModelNotFound,
    ModelRegistry,
    ModelToRegister,
    ModelVersionInfo,
    Predictor,
    RegistryError,
    RegistryUnavailable,
)
from energy_core.settings import RegistrySettings

logger = logging.getLogger(__name__)

METRIC_TAG_PREFIX = "metric."
LINEAGE_TAG_PREFIX = "lineage."
MODEL_ARTIFACT_NAME = "model"

# MLflow's defaults (7 retries, exponential backoff, 120 s timeout) make a dead server look like
# a hang of several minutes. These keep `check()` against a dead server to a few seconds while
# still riding out a brief restart. Set only when the operator has not chosen otherwise.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
_UNAVAILABLE_CODES = frozenset(
    {"TEMPORARILY_UNAVAILABLE", "SERVICE_UNDER_MAINTENANCE", "REQUEST_LIMIT_EXCEEDED", "IO_ERROR"}
)
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})

# `register` swaps MLflow's process-global URIs; one swap at a time per process.
_GLOBAL_URI_LOCK = threading.Lock()


class MlflowModelRegistry(ModelRegistry):
    """ModelRegistry on MLflow's model registry (aliases, version tags, pyfunc models)."""

    def __init__(self, settings: RegistrySettings) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        for name, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self._settings = settings
        self._tracking_uri = settings.resolved_tracking_uri
        self._registry_uri = settings.registry_uri or self._tracking_uri
        self._name = settings.model_name
        self._experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"MlflowModelRegistry(model={self._name!r}, tracking_uri={self._tracking_uri!r})"

    @cached_property
    def _client(self) -> MlflowClient:
        """Created on first use: for SQLite this creates the database (and its schema)."""
        with self._backend_errors("opening the registry"), _sqlite_schema_lock(self._tracking_uri):
            return MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._registry_uri)

    # ------------------------------------------------------------------ writes

    def register(self, model: ModelToRegister, run_id: str | None = None) -> ModelVersionInfo:
        _require_local_files(model)
        client = self._client
        with self._backend_errors("registering a new version"):
            experiment_id = self._experiment()
            # Creating the version resolves `models:/<model id>` through MLflow's global URIs too.
            with (
                _GLOBAL_URI_LOCK,
                _mlflow_global_uris(self._tracking_uri, self._registry_uri),
                _active_run(client, run_id, experiment_id) as active_run_id,
            ):
                _log_params_and_metrics(client, active_run_id, model.params, model.metrics)
                logged = mlflow.pyfunc.log_model(
                    name=MODEL_ARTIFACT_NAME,
                    python_model=model.python_model,
                    artifacts=model.artifacts or None,
                    code_paths=model.code_paths or None,
                    input_example=model.input_example,
                    signature=_signature(model),
                    pip_requirements=model.pip_requirements,
                )
                _log_extra_files(client, active_run_id, model.extra_files)
                self._ensure_registered_model()
                created = client.create_model_version(
                    name=self._name,
                    source=logged.model_uri,
                    run_id=active_run_id,
                    tags=version_tags(model),
                    description=model.description or None,
                    model_id=logged.model_id,
                )
        version = int(created.version)
        logger.info(
            "registered %s version %d (run %s, lineage %s@v%d, data sha256 %s)",
            self._name,
            version,
            active_run_id,
            model.lineage.feature_view,
            model.lineage.feature_view_version,
            model.lineage.data_sha256[:12],
        )
        return self.get(version=version)

    def set_alias(self, alias: str, version: int) -> None:
        with self._backend_errors(f"pointing alias {alias!r} at version {version}"):
            try:
                self._client.set_registered_model_alias(self._name, alias, str(version))
            except MlflowException as exc:
                if _is_not_found(exc):
                    raise self._not_found(f"version {version}") from exc
                raise
        logger.info("alias %r of %s now points at version %d", alias, self._name, version)

    def delete_alias(self, alias: str) -> None:
        with self._backend_errors(f"deleting alias {alias!r}"):
            try:
                self._client.delete_registered_model_alias(self._name, alias)
            except MlflowException as exc:
                if not _is_not_found(exc):  # no model or no alias: nothing to delete
                    raise

    def set_tags(self, version: int, tags: dict[str, str]) -> None:
        with self._backend_errors(f"tagging version {version}"):
            try:
                for key, value in tags.items():
                    self._client.set_model_version_tag(self._name, str(version), key, str(value))
            except MlflowException as exc:
                if _is_not_found(exc):
                    raise self._not_found(f"version {version}") from exc
                raise

    # ------------------------------------------------------------------ reads

    def get(self, version: int | None = None, alias: str | None = None) -> ModelVersionInfo:
        wanted = _reference(version, alias)
        with self._backend_errors(f"reading {wanted}"):
            try:
                if alias is not None:
                    found = self._client.get_model_version_by_alias(self._name, alias)
                else:
                    found = self._client.get_model_version(self._name, str(version))
            except MlflowException as exc:
                if _is_not_found(exc):
                    raise self._not_found(wanted) from exc
                raise
            return self._to_info(found, self._aliases_by_version(), {})

    def list_versions(self) -> list[ModelVersionInfo]:
        with self._backend_errors("listing versions"):
            versions = self._all_versions()
            if not versions:
                return []
            aliases = self._aliases_by_version()
            params_cache: dict[str, dict[str, str]] = {}
            return [self._to_info(v, aliases, params_cache) for v in versions]

    def load(self, version: int | None = None, alias: str | None = None) -> Predictor:
        info = self.get(version=version, alias=alias)  # resolve the alias once, then load that version
        with self._backend_errors(f"downloading version {info.version}"):
            download_uri = self._client.get_model_version_download_uri(self._name, str(info.version))
            local_path = mlflow.artifacts.download_artifacts(
                artifact_uri=download_uri, tracking_uri=self._tracking_uri, registry_uri=self._registry_uri
            )
        try:
            loaded = mlflow.pyfunc.load_model(local_path)
        except Exception as exc:  # unpickling runs the model's own code: any error is possible
            raise RegistryError(
                f"version {info.version} of {self._name!r} was found but could not be loaded from "
                f"{download_uri}: {type(exc).__name__}: {exc}. Check that its pip_requirements are "
                "installed and its code was shipped with code_paths."
            ) from exc
        logger.info("loaded %s version %d from %s", self._name, info.version, download_uri)
        return cast(Predictor, loaded)

    def check(self) -> None:
        with self._backend_errors("checking the connection"):
            self._client.search_experiments(max_results=1)
            self._client.search_registered_models(max_results=1)

    # ------------------------------------------------------------------ internals

    def _experiment(self) -> str:
        """The experiment's id, created on first use (with the artifact root when embedded)."""
        if self._experiment_id is None:
            self._experiment_id = self._find_or_create_experiment()
        return self._experiment_id

    def _find_or_create_experiment(self) -> str:
        name = self._settings.experiment_name
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            location = self._settings.artifact_root.as_uri() if self._settings.is_embedded else None
            try:
                return self._client.create_experiment(name, artifact_location=location)
            except MlflowException as exc:  # another process created it first
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                return self._find_or_create_experiment()
        if experiment.lifecycle_stage != "active":
            raise RegistryError(
                f"MLflow experiment {name!r} at {self._tracking_uri} is deleted; restore it with "
                f"`mlflow experiments restore --experiment-id {experiment.experiment_id}` or set "
                "ENERGY_EXPERIMENT_NAME to a new name"
            )
        return str(experiment.experiment_id)

    def _ensure_registered_model(self) -> None:
        try:
            self._client.create_registered_model(self._name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def _all_versions(self) -> list[ModelVersion]:
        """Every version of the model, newest first (paging through the search)."""
        versions: list[ModelVersion] = []
        page_token: str | None = None
        while True:
            page = self._client.search_model_versions(
                filter_string=f"name = '{_quoted(self._name)}'", page_token=page_token
            )
            versions.extend(page)
            page_token = page.token
            if not page_token:
                break
        return sorted(versions, key=lambda v: int(v.version), reverse=True)

    def _aliases_by_version(self) -> dict[int, list[str]]:
        """Aliases per version; MLflow's version search does not fill them in, the model does."""
        try:
            registered = self._client.get_registered_model(self._name)
        except MlflowException as exc:
            if _is_not_found(exc):
                return {}
            raise
        by_version: dict[int, list[str]] = {}
        for alias, version in sorted(registered.aliases.items()):
            by_version.setdefault(int(version), []).append(alias)
        return by_version

    def _run_params(self, run_id: str | None, cache: dict[str, dict[str, str]]) -> dict[str, str]:
        if not run_id:
            return {}
        if run_id not in cache:
            try:
                cache[run_id] = dict(self._client.get_run(run_id).data.params)
            except MlflowException as exc:
                if not _is_not_found(exc):
                    raise
                cache[run_id] = {}  # the run was deleted; the version stays usable
        return cache[run_id]

    def _to_info(
        self, found: ModelVersion, aliases: dict[int, list[str]], params_cache: dict[str, dict[str, str]]
    ) -> ModelVersionInfo:
        version = int(found.version)
        tags = dict(found.tags or {})
        return ModelVersionInfo(
            name=found.name,
            version=version,
            aliases=aliases.get(version, []),
            created_at=datetime.fromtimestamp(found.creation_timestamp / 1000, tz=UTC),
            run_id=found.run_id or None,
            params=self._run_params(found.run_id, params_cache),
            metrics=metrics_from_tags(tags),
            tags={k: v for k, v in tags.items() if not k.startswith((METRIC_TAG_PREFIX, LINEAGE_TAG_PREFIX))},
            lineage=Lineage.from_tags(tags),
            description=found.description or "",
        )

    def _not_found(self, wanted: str) -> ModelNotFound:
        try:
            existing = [int(v.version) for v in self._all_versions()]
        except (MlflowException, OSError, sqlalchemy.exc.SQLAlchemyError):
            existing = []
        suffix = "" if existing else f" (model {self._name!r} is not registered yet)"
        return ModelNotFound(
            f"no model version with {wanted} for model {self._name!r}; registered versions: {sorted(existing)}{suffix}"
        )

    @contextmanager
    def _backend_errors(self, action: str) -> Iterator[None]:
        """Turn MLflow/transport failures into RegistryUnavailable/RegistryError naming the URI."""
        try:
            yield
        except RegistryError:
            raise
        except MlflowException as exc:
            if _is_unavailable(exc):
                raise RegistryUnavailable(self._unavailable_message(action, exc)) from exc
            raise RegistryError(
                f"MLflow refused {action} for model {self._name!r} at {self._tracking_uri}: "
                f"[{exc.error_code}] {_first_line(exc.message)}"
            ) from exc
        except (OSError, sqlalchemy.exc.SQLAlchemyError) as exc:  # OSError covers requests' errors
            raise RegistryUnavailable(self._unavailable_message(action, exc)) from exc

    def _unavailable_message(self, action: str, exc: BaseException) -> str:
        return (
            f"model registry at {self._tracking_uri} is unavailable ({action}): "
            f"{type(exc).__name__}: {_first_line(str(exc))}. Is the MLflow server running / is the "
            "database file reachable? (MLFLOW_TRACKING_URI)"
        )


# ---------------------------------------------------------------------- pure helpers


def version_tags(model: ModelToRegister) -> dict[str, str]:
    """Everything that travels with a version: caller tags, lineage and metrics (`metric.<name>`).

    Metrics are repeated as tags because run metrics live with the run; a version's tags are what
    the registry returns with the version itself, in one call.
    """
    tags = {key: str(value) for key, value in model.tags.items()}
    tags.update(model.lineage.to_tags())
    tags.update({f"{METRIC_TAG_PREFIX}{name}": repr(float(value)) for name, value in model.metrics.items()})
    return tags


def metrics_from_tags(tags: dict[str, str]) -> dict[str, float]:
    """The `metric.<name>` tags back as floats; a tag that is not a number is skipped, not fatal."""
    metrics: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith(METRIC_TAG_PREFIX):
            try:
                metrics[key.removeprefix(METRIC_TAG_PREFIX)] = float(value)
            except ValueError:
                logger.warning("ignoring non-numeric metric tag %s=%r", key, value)
    return metrics


def _signature(model: ModelToRegister) -> ModelSignature | None:
    """The signature from one cheap in-memory predict on the input example.

    MLflow's schema types cannot express a timezone-aware datetime and its input enforcement
    rejects one, while the forecast contract requires `datetime_utc` in UTC. So when the input
    carries tz-aware columns, only the output is described and the input is left unenforced.
    Returns None (MLflow infers on its own) when the model is not an in-memory PythonModel or
    predicting needs the loaded context.
    """
    if not isinstance(model.python_model, mlflow.pyfunc.PythonModel):
        return None
    example = model.input_example
    try:
        output = model.python_model.predict(None, example.copy())
    except Exception as exc:  # the model may need load_context; MLflow will infer after loading
        logger.debug("no cheap signature (%s: %s); letting MLflow infer it", type(exc).__name__, exc)
        return None
    has_tz_column = any(isinstance(dtype, pd.DatetimeTZDtype) for dtype in example.dtypes)
    return infer_signature(None if has_tz_column else example, output)


def _require_local_files(model: ModelToRegister) -> None:
    """Fail before anything is logged when an input file is missing, naming it (a missing file
    would otherwise surface as an OSError indistinguishable from an unreachable store)."""
    declared = [("artifact", name, Path(path)) for name, path in model.artifacts.items()]
    declared += [("code path", path, Path(path)) for path in model.code_paths]
    declared += [("extra file", name, Path(path)) for name, path in model.extra_files.items()]
    missing = [f"{kind} {name!r}: {path}" for kind, name, path in declared if not path.exists()]
    if missing:
        raise RegistryError("cannot register, these files do not exist: " + "; ".join(missing))


def _log_params_and_metrics(
    client: MlflowClient, run_id: str, params: dict[str, Any], metrics: dict[str, float]
) -> None:
    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(name, float(value), now_ms, 0) for name, value in metrics.items()],
        params=[Param(name, str(value)) for name, value in params.items()],
    )


def _log_extra_files(client: MlflowClient, run_id: str, extra_files: dict[str, Path]) -> None:
    """Log each file under its given name at the run's artifact root, next to the model."""
    if not extra_files:
        return
    with tempfile.TemporaryDirectory(prefix="energy-extra-") as staging:
        for name, source in extra_files.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise RegistryError(f"extra file name {name!r} must be a relative path without '..'")
            if not Path(source).is_file():
                raise RegistryError(f"extra file {name!r}: {source} is not a file")
            target = Path(staging, *relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        client.log_artifacts(run_id, staging)


@contextmanager
def _active_run(client: MlflowClient, run_id: str | None, experiment_id: str) -> Iterator[str]:
    """The run to log into: the caller's active run as is, a resumed run by id, or a new one."""
    active = mlflow.active_run()
    if run_id is not None and active is not None and active.info.run_id == run_id:
        yield run_id
        return
    if run_id is not None:
        client.get_run(run_id)  # fail with "not found" before MLflow half-starts anything
    with mlflow.start_run(
        run_id=run_id,
        experiment_id=None if run_id else experiment_id,
        nested=active is not None,
    ) as run:
        yield run.info.run_id


@contextmanager
def _sqlite_schema_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise creating/migrating a SQLite registry across processes.

    Two processes opening a fresh database at once both run MLflow's migrations and one fails
    ("duplicate column name"); an advisory lock beside the file makes the second wait and then
    find the schema current. Other URIs need nothing: their server owns the schema.
    """
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)  # as MLflow itself would
    with database.with_name(database.name + ".lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


@contextmanager
def _mlflow_global_uris(tracking_uri: str, registry_uri: str) -> Iterator[None]:
    """Point MLflow's global URIs at this registry, then restore them and their env variables.

    MLflow's own `set_tracking_uri` also writes MLFLOW_TRACKING_URI into the environment and
    clears it when "restoring" None, which would silently drop an operator's setting.
    """
    saved_env = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    previous_tracking = saved_env["MLFLOW_TRACKING_URI"]
    previous_registry = saved_env["MLFLOW_REGISTRY_URI"]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(cast(str, previous_tracking))
        mlflow.set_registry_uri(cast(str, previous_registry))
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reference(version: int | None, alias: str | None) -> str:
    if (version is None) == (alias is None):
        raise ValueError(f"give exactly one of version or alias, got version={version!r}, alias={alias!r}")
    return f"alias {alias!r}" if alias is not None else f"version {version}"


def _is_not_found(exc: MlflowException) -> bool:
    # A missing alias is reported as INVALID_PARAMETER_VALUE "... alias x not found".
    return exc.error_code in _NOT_FOUND_CODES or (
        exc.error_code == "INVALID_PARAMETER_VALUE" and "not found" in exc.message.lower()
    )


def _is_unavailable(exc: MlflowException) -> bool:
    if exc.error_code in _UNAVAILABLE_CODES:
        return True
    # The REST client reports refused connections, timeouts and exhausted retries this way.
    transport_failure = exc.message.startswith("API request to") and exc.error_code == "INTERNAL_ERROR"
    caused_by_transport = isinstance(exc.__cause__ or exc.__context__, OSError | sqlalchemy.exc.OperationalError)
    return transport_failure or caused_by_transport


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 500 else line[:500] + "…"


__all__ = ["MlflowModelRegistry", "metrics_from_tags", "version_tags"]
