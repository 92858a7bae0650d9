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
import socket
import tempfile
import threading
import time
import uuid
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
    TRANSITION_LOCK_TIMEOUT_S,
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

# The transition lock on an MLflow server: a lease in a registered-model tag (see `_tag_lease`).
TRANSITION_LEASE_TAG = "energy.transition_lock"
_LEASE_EXPIRY_S = 120.0  # a holder that died mid-transition blocks others at most this long
_LEASE_SETTLE_S = 0.5  # how long a competing writer's tag may lag before the re-check
_LOCK_POLL_S = 0.02


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
        self._transition_depth = threading.local()  # re-entrancy of transition_lock, per thread

    def __repr__(self) -> str:
        return f"MlflowModelRegistry(model={self._name!r}, tracking_uri={self._tracking_uri!r})"

    @cached_property
    def _client(self) -> MlflowClient:
        """Created on first use: for SQLite this creates the database (and its schema)."""
        with self._backend_errors("opening the registry"), _sqlite_schema_lock(self._tracking_uri):
            client = MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._registry_uri)
            if self._settings.tracking_uri is None:  # MLflow's store is created lazily: make it exist first
                client.search_experiments(max_results=1)
            _reroot_embedded_store(self._settings)
            return client

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

    def create_run(self, run_name: str, tags: dict[str, str] | None = None) -> str:
        """A new, finished-by-`register` run in this registry's experiment, for a caller that must
        name the run before registering (the Hopsworks mirror records it in both registries)."""
        with self._backend_errors("creating a run"):
            run = self._client.create_run(self._experiment(), run_name=run_name, tags=tags or {})
        return str(run.info.run_id)

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

    @contextmanager
    def transition_lock(self, timeout_s: float = TRANSITION_LOCK_TIMEOUT_S) -> Iterator[None]:
        """SQLite: an OS file lock beside the database (released by the OS if the holder dies).
        A server: a lease in a registered-model tag, re-checked after writing it (`_tag_lease`)."""
        depth: int = getattr(self._transition_depth, "value", 0)
        if depth:
            self._transition_depth.value = depth + 1
            try:
                yield
            finally:
                self._transition_depth.value = depth
            return
        hold = (
            _sqlite_transition_lock(self._tracking_uri, timeout_s)
            if self._tracking_uri.startswith("sqlite:///")
            else self._tag_lease(timeout_s)
        )
        with hold:
            self._transition_depth.value = 1
            try:
                yield
            finally:
                self._transition_depth.value = 0

    @contextmanager
    def _tag_lease(self, timeout_s: float) -> Iterator[None]:
        """A lock through the registered model's `energy.transition_lock` tag.

        MLflow has no compare-and-set, so this is write-then-re-check: take the tag only when it is
        free (or its lease expired), wait `_LEASE_SETTLE_S` for a competitor's write to land, and
        proceed only if the tag still holds our token; the last writer wins, the others retry. Two
        holders are possible only if a competitor's read-to-write took longer than the settle time.
        """
        token = f"{os.getpid()}-{uuid.uuid4().hex}"
        deadline = time.monotonic() + timeout_s
        with self._backend_errors("taking the transition lock"):
            self._ensure_registered_model()
            while True:
                holder = self._client.get_registered_model(self._name).tags.get(TRANSITION_LEASE_TAG)
                if _lease_free(holder):
                    self._client.set_registered_model_tag(self._name, TRANSITION_LEASE_TAG, f"{token} {time.time()}")
                    time.sleep(_LEASE_SETTLE_S)
                    holder = self._client.get_registered_model(self._name).tags.get(TRANSITION_LEASE_TAG)
                    if holder is not None and holder.split(" ")[0] == token:
                        break
                if time.monotonic() >= deadline:
                    raise RegistryUnavailable(
                        f"could not take the transition lock of {self._name!r} at {self._tracking_uri} within "
                        f"{timeout_s:.0f} s: tag {TRANSITION_LEASE_TAG}={holder!r} is held by another "
                        f"approve/reject/rollback; retry (a dead holder's lease expires after {_LEASE_EXPIRY_S:.0f} s)"
                    )
                time.sleep(_LEASE_SETTLE_S)
        try:
            yield
        finally:
            with self._backend_errors("releasing the transition lock"):
                holder = self._client.get_registered_model(self._name).tags.get(TRANSITION_LEASE_TAG)
                if holder is not None and holder.split(" ")[0] == token:
                    self._client.delete_registered_model_tag(self._name, TRANSITION_LEASE_TAG)

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
def _sqlite_transition_lock(tracking_uri: str, timeout_s: float) -> Iterator[None]:
    """The transition lock of a SQLite registry: `<database>.transitions.lock` (see `file_transition_lock`)."""
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    with file_transition_lock(database.with_name(database.name + ".transitions.lock"), timeout_s):
        yield


@contextmanager
def file_transition_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive flock on `path`, polled until `timeout_s`.

    flock conflicts between separate opens, so it serialises threads of one process as well as
    processes; the OS drops it when the holder dies, so a crash never leaves it stuck. Shared by
    every registry backend that serialises transitions on a local file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with path.open("a") as lock_file:
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RegistryUnavailable(
                        f"could not take the registry's transition lock {path} within {timeout_s:.0f} s: another "
                        "approve/reject/rollback/promotion holds it; retry, or find the holder with `fuser` on the file"
                    ) from None
                time.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _lease_free(holder: str | None) -> bool:
    """Whether a `TRANSITION_LEASE_TAG` value (`<token> <unix time>`) is absent or expired."""
    if not holder:
        return True
    try:
        taken_at = float(holder.rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return True  # unreadable: not ours to respect
    return time.time() - taken_at > _LEASE_EXPIRY_S


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


# ---------------------------------------------------------------------- a portable ENERGY_HOME

# Where an embedded store records artifact locations, always as absolute paths or file URIs.
_ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)
_ARTIFACT_ROOT_SUFFIX = "/mlflow/artifacts"
DEFAULT_EXPERIMENT_ID = "0"


def reroot_embedded_store(settings: RegistrySettings) -> int:
    """Point every artifact location of the embedded store at the current ENERGY_HOME.

    Why: MLflow records absolute artifact paths, so a home that was copied, moved or restored
    would keep loading models from its old place, or fail once that is gone. Artifacts of an
    embedded store always live at `<home>/mlflow/artifacts`, so a location under another
    `<somewhere>/mlflow/artifacts` is this home's earlier place and is rewritten; MLflow's own
    Default experiment, which it roots at `./mlruns` of whichever directory first opened the
    database, is pointed into the home too. Only a database inside ENERGY_HOME (the default) is
    touched: a store elsewhere or on a server owns its own layout. Idempotent; returns the number
    of rows rewritten (0 when nothing moved, without taking a write lock).
    """
    with _sqlite_schema_lock(settings.resolved_tracking_uri):
        return _reroot_embedded_store(settings)


def _reroot_embedded_store(settings: RegistrySettings) -> int:
    """`reroot_embedded_store` for a caller that already holds the schema lock."""
    uri = settings.resolved_tracking_uri
    if settings.tracking_uri is not None or not uri.startswith("sqlite:///"):
        return 0
    database = Path(uri.removeprefix("sqlite:///"))
    if not database.is_file():
        return 0
    root = settings.artifact_root
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as conn:  # read only: most opens find nothing to do
            tables = set(sqlalchemy.inspect(conn).get_table_names())
            if "experiments" not in tables:
                return 0
            rows = conn.execute(sqlalchemy.text("SELECT experiment_id, artifact_location FROM experiments")).all()
        old_roots = {found for _, loc in rows if (found := _recorded_root(loc)) and found != root}
        default = f"{root.as_uri()}/{DEFAULT_EXPERIMENT_ID}"
        default_moved = any(str(eid) == DEFAULT_EXPERIMENT_ID and loc != default for eid, loc in rows)
        if not old_roots and not default_moved:
            return 0
        changed = 0
        with engine.begin() as conn:  # one transaction: a store is re-rooted entirely or not at all
            for old in sorted(old_roots):
                for old_form, new_form in ((old.as_uri(), root.as_uri()), (str(old), str(root))):
                    for table, column in _ARTIFACT_COLUMNS:
                        if table in tables:
                            changed += _replace_prefix(conn, table, column, old_form, new_form)
            changed += conn.execute(
                sqlalchemy.text("UPDATE experiments SET artifact_location = :loc WHERE experiment_id = :eid"),
                {"loc": default, "eid": int(DEFAULT_EXPERIMENT_ID)},
            ).rowcount
        logger.info(
            "re-rooted %d artifact location(s) of %s from %s to %s",
            changed,
            database,
            ", ".join(map(str, sorted(old_roots))) or "./mlruns",
            root,
        )
        return changed
    finally:
        engine.dispose()


def _recorded_root(location: str | None) -> Path | None:
    """The `<home>/mlflow/artifacts` a recorded location lies under, or None (e.g. ./mlruns)."""
    if not location:
        return None
    path = location.removeprefix("file://") if location.startswith("file://") else location
    if not path.startswith("/"):
        return None
    index = path.find(_ARTIFACT_ROOT_SUFFIX)
    while index >= 0:
        end = index + len(_ARTIFACT_ROOT_SUFFIX)
        if end == len(path) or path[end] == "/":
            return Path(path[:end])
        index = path.find(_ARTIFACT_ROOT_SUFFIX, index + 1)
    return None


def _replace_prefix(conn: sqlalchemy.Connection, table: str, column: str, old: str, new: str) -> int:
    """Replace `old` by `new` at the start of `column`, only at a path boundary."""
    statement = sqlalchemy.text(
        f"UPDATE {table} SET {column} = :new || substr({column}, :n + 1) "  # table/column: module constants
        f"WHERE substr({column}, 1, :n) = :old AND (length({column}) = :n OR substr({column}, :n + 1, 1) = '/')"
    )
    return int(conn.execute(statement, {"old": old, "new": new, "n": len(old)}).rowcount)


# ---------------------------------------------------------------------- interrupted runs

RUN_PID_TAG = "energy.pid"
RUN_HOST_TAG = "energy.host"
INTERRUPTED_TAG = "energy.interrupted"
_PARENT_RUN_TAG = "mlflow.parentRunId"


def process_tags() -> dict[str, str]:
    """Tags for a run that let a later process tell whether the process writing it still lives."""
    return {RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()}


def mark_interrupted_runs(settings: RegistrySettings, experiment_name: str | None = None) -> list[str]:
    """Mark RUNNING runs whose process is gone as FAILED (with their RUNNING child runs).

    Why: a run killed mid-way (SIGKILL, OOM, a lost machine) stays RUNNING for ever, and readers
    that trust the latest run (the scorecard) or the versions it registered then act on a half
    state. A run counts as interrupted only when it carries `process_tags()`, was started on this
    host and that process no longer exists; a run from another host, or without the tags, is left
    alone because nothing here can tell. Returns the ids marked.
    """
    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name or settings.experiment_name)
    if experiment is None:
        return []
    running = client.search_runs(
        [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=50_000
    )
    gone = {run.info.run_id for run in running if _process_gone(run.data.tags)}
    gone |= {run.info.run_id for run in running if run.data.tags.get(_PARENT_RUN_TAG) in gone}
    for run in running:
        if run.info.run_id not in gone:
            continue
        reason = (
            f"process {run.data.tags.get(RUN_PID_TAG, '?')} on {run.data.tags.get(RUN_HOST_TAG, '?')} ended "
            "without finishing the run; marked FAILED by the next start"
        )
        client.set_tag(run.info.run_id, INTERRUPTED_TAG, reason)
        client.set_terminated(run.info.run_id, status="FAILED")
        logger.warning("run %s (%s): %s", run.info.run_id, run.info.run_name, reason)
    return sorted(gone)


def _process_gone(tags: dict[str, str]) -> bool:
    pid, host = tags.get(RUN_PID_TAG), tags.get(RUN_HOST_TAG)
    if not pid or not pid.isdigit() or host != socket.gethostname() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


__all__ = [
    "INTERRUPTED_TAG",
    "MlflowModelRegistry",
    "mark_interrupted_runs",
    "metrics_from_tags",
    "process_tags",
    "reroot_embedded_store",
    "version_tags",
]
