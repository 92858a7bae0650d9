"""The Hopsworks backend of the ModelRegistry: hopsworks 5.2's model registry (hsml).

How the interface maps onto what Hopsworks offers:
- A version is one `mr.python.create_model(...)` saved with `model.save(<dir>)`. The directory is
  the very MLflow pyfunc format the MLflow backend logs (`mlflow.pyfunc.save_model`), plus a
  `README.md` model card and the extra files, so `load` is `model.download()` then
  `mlflow.pyfunc.load_model`: batch prediction's contract does not depend on the backend.
- Metrics are Hopsworks' own training metrics; the description is the model's description.
- Lineage is Hopsworks-native where the project has it: the feature view (looked up by the
  lineage's name and version) and the training-dataset version are passed to `create_model`, so
  Hopsworks shows feature groups → feature view → training dataset → model. The full `Lineage`
  (git commit, data hash, as-of) also travels in a tag, so it reads the same in both backends
  even when the feature store is the embedded one.
- Hopsworks has no aliases and its tag names are cluster-wide schemas an admin creates, so all
  of our state lives in four tags per version (created with the version, in the same request):
  `energy_tags` (caller tags), `energy_lineage`, `energy_run` (MLflow run id and params) and
  `energy_aliases` ({alias: when it was set}). An alias is resolved over all versions; should a
  move be interrupted between its two writes, the most recent claim wins, so readers never see
  two champions.
- Hopsworks has no compare-and-set, so the transition lock is injected: `open_registry` passes
  the MLflow mirror's lock (a file lock, or a lease on an MLflow server, shared by every host);
  standalone it is an OS file lock in ENERGY_HOME.

Only this module imports `hopsworks`, and only when the backend is selected. `project` is
injectable so tests run against a fake of the hsml calls (core/tests/fake_hsml.py).
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, cast

import mlflow.pyfunc

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
from energy_core.registry.mlflow_registry import _require_local_files, _signature, file_transition_lock
from energy_core.settings import RegistrySettings

logger = logging.getLogger(__name__)

TAGS_TAG = "energy_tags"
LINEAGE_TAG = "energy_lineage"
RUN_TAG = "energy_run"
ALIASES_TAG = "energy_aliases"
HOPSWORKS_TAG_NAMES = (TAGS_TAG, LINEAGE_TAG, RUN_TAG, ALIASES_TAG)
EXTRA_FILES_DIR = "extra_files"
MODEL_CARD = "README.md"

TransitionLock = Callable[[float], AbstractContextManager[None]]


class HopsworksModelRegistry(ModelRegistry):
    """ModelRegistry on a Hopsworks project's model registry (see the module docstring)."""

    def __init__(
        self,
        settings: RegistrySettings,
        project: Any | None = None,
        transition_lock: TransitionLock | None = None,
    ) -> None:
        self._settings = settings
        self._name = settings.model_name
        self._project_handle = project
        self._lock = transition_lock or functools.partial(
            file_transition_lock,
            settings.path("registry", f"hopsworks-{settings.hopsworks_project}-{self._name}.transitions.lock"),
        )
        self._depth = threading.local()

    def __repr__(self) -> str:
        return f"HopsworksModelRegistry(model={self._name!r}, project={self._settings.hopsworks_project!r})"

    # ------------------------------------------------------------------ connection

    def _project(self) -> Any:
        if self._project_handle is None:
            s = self._settings
            try:
                import hopsworks

                self._project_handle = hopsworks.login(
                    host=s.hopsworks_host,
                    port=s.hopsworks_port,
                    project=s.hopsworks_project,
                    api_key_value=s.hopsworks_api_key.get_secret_value() if s.hopsworks_api_key else None,
                )
            except Exception as exc:  # any login failure is "unavailable" to callers
                raise RegistryUnavailable(
                    f"cannot reach Hopsworks project {s.hopsworks_project!r} at {s.hopsworks_host}:{s.hopsworks_port} "
                    f"to open its model registry: {type(exc).__name__}: {exc}. Check HOPSWORKS_HOST, "
                    "HOPSWORKS_PROJECT and HOPSWORKS_API_KEY."
                ) from exc
        return self._project_handle

    def _registry(self) -> Any:
        with self._backend_errors("opening the model registry"):
            return self._project().get_model_registry()

    # ------------------------------------------------------------------ writes

    def register(self, model: ModelToRegister, run_id: str | None = None) -> ModelVersionInfo:
        _require_local_files(model)
        mr = self._registry()
        with tempfile.TemporaryDirectory(prefix="energy-hopsworks-") as staging:
            model_dir = Path(staging, "model")
            _save_pyfunc(model, model_dir)
            with self._backend_errors("registering a new version"):
                feature_view = self._feature_view(model.lineage)
                created = mr.python.create_model(
                    name=self._name,
                    metrics={name: float(value) for name, value in model.metrics.items()},
                    description=model.description,
                    feature_view=feature_view,
                    training_dataset_version=model.lineage.training_dataset_version if feature_view else None,
                    tags=[{"name": name, "value": value} for name, value in _initial_tags(model, run_id).items()],
                )
                saved = created.save(str(model_dir))
        version = int(saved.version)
        logger.info(
            "registered %s version %d in Hopsworks project %s (run %s, lineage %s@v%d td#%d%s)",
            self._name,
            version,
            self._settings.hopsworks_project,
            run_id,
            model.lineage.feature_view,
            model.lineage.feature_view_version,
            model.lineage.training_dataset_version,
            "" if feature_view else ", feature view not in this project: lineage kept in tags only",
        )
        return self.get(version=version)

    def set_alias(self, alias: str, version: int) -> None:
        with self._backend_errors(f"pointing alias {alias!r} at version {version}"):
            target = self._require(version)
            claims = self._claims()
            latest = max((at for by_alias in claims.values() for a, at in by_alias.items() if a == alias), default=None)
            # Strictly after every earlier claim, so the move wins even against a skewed clock.
            now = datetime.now(UTC)
            set_at = now if latest is None or now > latest else latest + timedelta(microseconds=1)
            mine = {a: at.isoformat() for a, at in claims.get(version, {}).items()}
            target.add_tag(ALIASES_TAG, {**mine, alias: set_at.isoformat()})
            for other, by_alias in claims.items():  # then release the old claims
                if other != version and alias in by_alias:
                    self._write_aliases(other, {a: at for a, at in by_alias.items() if a != alias})
        logger.info("alias %r of %s now points at version %d (Hopsworks)", alias, self._name, version)

    def delete_alias(self, alias: str) -> None:
        with self._backend_errors(f"deleting alias {alias!r}"):
            for version, by_alias in self._claims().items():
                if alias in by_alias:
                    self._write_aliases(version, {a: at for a, at in by_alias.items() if a != alias})

    def set_tags(self, version: int, tags: dict[str, str]) -> None:
        with self._backend_errors(f"tagging version {version}"):
            found = self._require(version)
            current = _tag_dict(_tags_of(found).get(TAGS_TAG))
            found.add_tag(TAGS_TAG, {**current, **{key: str(value) for key, value in tags.items()}})

    # ------------------------------------------------------------------ reads

    def get(self, version: int | None = None, alias: str | None = None) -> ModelVersionInfo:
        wanted = _reference(version, alias)
        with self._backend_errors(f"reading {wanted}"):
            if alias is not None:
                versions = self._versions()
                aliases = _resolve_aliases({v: _aliases(_tags_of(m)) for v, m in versions.items()})
                if alias not in aliases:
                    raise self._not_found(wanted, sorted(versions))
                version = aliases[alias]
                found = versions[version]
            else:
                found = self._find(cast(int, version))
                if found is None:
                    raise self._not_found(wanted)
                aliases = self._aliases_by_alias()
            return _to_info(found, _tags_of(found), [a for a, v in sorted(aliases.items()) if v == found.version])

    def list_versions(self) -> list[ModelVersionInfo]:
        with self._backend_errors("listing versions"):
            versions = self._versions()
            tags = {v: _tags_of(m) for v, m in versions.items()}
            aliases = _resolve_aliases({v: _aliases(t) for v, t in tags.items()})
            return [
                _to_info(versions[v], tags[v], [a for a, at in sorted(aliases.items()) if at == v])
                for v in sorted(versions, reverse=True)
            ]

    def load(self, version: int | None = None, alias: str | None = None) -> Predictor:
        info = self.get(version=version, alias=alias)
        local_path = self.download(info.version)
        try:
            loaded = mlflow.pyfunc.load_model(str(local_path))
        except Exception as exc:  # unpickling runs the model's own code: any error is possible
            raise RegistryError(
                f"version {info.version} of {self._name!r} was found in Hopsworks but could not be loaded from "
                f"{local_path}: {type(exc).__name__}: {exc}. Check that its pip_requirements are installed "
                "and its code was shipped with code_paths."
            ) from exc
        logger.info("loaded %s version %d from Hopsworks (%s)", self._name, info.version, local_path)
        return cast(Predictor, loaded)

    def download(self, version: int, local_path: Path | None = None) -> Path:
        """The version's model directory (MLflow pyfunc format), downloaded from Hopsworks.

        Without `local_path`, hsml's own cache is used (reused across processes)."""
        with self._backend_errors(f"downloading version {version}"):
            found = self._require(version)
            return Path(found.download(str(local_path) if local_path is not None else None))

    def check(self) -> None:
        with self._backend_errors("checking the connection"):
            self._registry().get_models(self._name)

    @contextmanager
    def transition_lock(self, timeout_s: float = TRANSITION_LOCK_TIMEOUT_S) -> Iterator[None]:
        depth: int = getattr(self._depth, "value", 0)
        if depth:
            self._depth.value = depth + 1
            try:
                yield
            finally:
                self._depth.value = depth
            return
        with self._lock(timeout_s):
            self._depth.value = 1
            try:
                yield
            finally:
                self._depth.value = 0

    # ------------------------------------------------------------------ internals

    def _find(self, version: int) -> Any | None:
        return self._registry().get_model(self._name, version=version)

    def _require(self, version: int) -> Any:
        found = self._find(version)
        if found is None:
            raise self._not_found(f"version {version}")
        return found

    def _versions(self) -> dict[int, Any]:
        return {int(m.version): m for m in self._registry().get_models(self._name) or []}

    def _claims(self) -> dict[int, dict[str, datetime]]:
        return {v: _aliases(_tags_of(m)) for v, m in self._versions().items()}

    def _aliases_by_alias(self) -> dict[str, int]:
        return _resolve_aliases(self._claims())

    def _write_aliases(self, version: int, aliases: dict[str, datetime]) -> None:
        found = self._require(version)
        found.add_tag(ALIASES_TAG, {a: at.isoformat() for a, at in aliases.items()})

    def _feature_view(self, lineage: Lineage) -> Any | None:
        """The project's feature view named by the lineage, or None (e.g. the embedded store was used)."""
        try:
            return self._project().get_feature_store().get_feature_view(
                lineage.feature_view, version=lineage.feature_view_version
            )
        except RegistryError:
            raise
        except Exception as exc:  # hsfs raises for a missing view; lineage then lives in the tag only
            logger.warning(
                "feature view %s v%d not found in Hopsworks project %s (%s: %s); the model is registered "
                "without a native feature-view link",
                lineage.feature_view,
                lineage.feature_view_version,
                self._settings.hopsworks_project,
                type(exc).__name__,
                exc,
            )
            return None

    def _not_found(self, wanted: str, existing: list[int] | None = None) -> ModelNotFound:
        if existing is None:
            try:
                existing = sorted(self._versions())
            except Exception:  # the message is best effort; the not-found is what matters
                existing = []
        suffix = "" if existing else f" (model {self._name!r} is not registered yet)"
        return ModelNotFound(
            f"no model version with {wanted} for model {self._name!r}; registered versions: {existing}{suffix}"
        )

    @contextmanager
    def _backend_errors(self, action: str) -> Iterator[None]:
        """Turn hsml/transport failures into RegistryUnavailable/RegistryError naming the project."""
        try:
            yield
        except RegistryError:
            raise
        except OSError as exc:  # requests' connection errors are OSErrors
            raise RegistryUnavailable(self._message(action, exc, unavailable=True)) from exc
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            unavailable = isinstance(status, int) and status >= 500
            error = RegistryUnavailable if unavailable else RegistryError
            raise error(self._message(action, exc, unavailable)) from exc

    def _message(self, action: str, exc: BaseException, unavailable: bool) -> str:
        where = f"Hopsworks project {self._settings.hopsworks_project!r} at {self._settings.hopsworks_host}"
        text = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
        if unavailable:
            return f"model registry of {where} is unavailable ({action}): {type(exc).__name__}: {text}"
        return f"Hopsworks refused {action} for model {self._name!r} in {where}: {type(exc).__name__}: {text}"


# ---------------------------------------------------------------------- pure helpers


def _initial_tags(model: ModelToRegister, run_id: str | None) -> dict[str, Any]:
    lineage = {k.removeprefix("lineage."): v for k, v in model.lineage.to_tags().items()}
    return {
        TAGS_TAG: {key: str(value) for key, value in model.tags.items()},
        LINEAGE_TAG: lineage,
        RUN_TAG: {"run_id": run_id, "params": {key: str(value) for key, value in model.params.items()}},
        ALIASES_TAG: {},
    }


def _tags_of(found: Any) -> dict[str, Any]:
    return {name: _decoded(value) for name, value in (found.get_tags() or {}).items()}


def _decoded(value: Any) -> Any:
    """A tag value as JSON: Hopsworks may hand back the JSON text of an object-typed tag."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _tag_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _aliases(tags: dict[str, Any]) -> dict[str, datetime]:
    raw = tags.get(ALIASES_TAG)
    claims: dict[str, datetime] = {}
    for alias, at in (raw.items() if isinstance(raw, dict) else []):
        try:
            claims[str(alias)] = datetime.fromisoformat(str(at))
        except ValueError:
            logger.warning("ignoring alias %r with an unreadable time %r", alias, at)
    return claims


def _resolve_aliases(claims: dict[int, dict[str, datetime]]) -> dict[str, int]:
    """alias → version; an alias claimed twice (an interrupted move) goes to the latest claim."""
    best: dict[str, tuple[datetime, int]] = {}
    for version, by_alias in claims.items():
        for alias, at in by_alias.items():
            if alias not in best or (at, version) > best[alias]:
                best[alias] = (at, version)
    return {alias: version for alias, (_, version) in best.items()}


def _to_info(found: Any, tags: dict[str, Any], aliases: list[str]) -> ModelVersionInfo:
    raw_run = tags.get(RUN_TAG)
    run: dict[str, Any] = raw_run if isinstance(raw_run, dict) else {}
    lineage = _tag_dict(tags.get(LINEAGE_TAG))
    return ModelVersionInfo(
        name=str(found.name),
        version=int(found.version),
        aliases=aliases,
        created_at=_created_at(found.created),
        run_id=run.get("run_id") or None,
        params=_tag_dict(run.get("params")),
        metrics={str(k): float(v) for k, v in (found.training_metrics or {}).items()},
        tags=_tag_dict(tags.get(TAGS_TAG)),
        lineage=Lineage.from_tags({f"lineage.{k}": v for k, v in lineage.items()}),
        description=found.description or "",
    )


def _created_at(created: Any) -> datetime:
    """Hopsworks reports creation as epoch milliseconds; accept ISO text and datetimes too."""
    if isinstance(created, datetime):
        return created if created.tzinfo else created.replace(tzinfo=UTC)
    if isinstance(created, int | float):
        return datetime.fromtimestamp(created / 1000, tz=UTC)
    if isinstance(created, str):
        if created.isdigit():
            return datetime.fromtimestamp(int(created) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(created.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise RegistryError(f"Hopsworks returned an unreadable creation time {created!r}")


def _reference(version: int | None, alias: str | None) -> str:
    if (version is None) == (alias is None):
        raise ValueError(f"give exactly one of version or alias, got version={version!r}, alias={alias!r}")
    return f"alias {alias!r}" if alias is not None else f"version {version}"


def _save_pyfunc(model: ModelToRegister, model_dir: Path) -> None:
    """The MLflow pyfunc directory the MLflow backend would log, plus extra files and a model card."""
    mlflow.pyfunc.save_model(
        path=str(model_dir),
        python_model=model.python_model,
        artifacts=model.artifacts or None,
        code_paths=model.code_paths or None,
        input_example=model.input_example,
        signature=_signature(model),
        pip_requirements=model.pip_requirements,
    )
    for name, source in model.extra_files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise RegistryError(f"extra file name {name!r} must be a relative path without '..'")
        target = model_dir.joinpath(EXTRA_FILES_DIR, *relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (model_dir / MODEL_CARD).write_text(model_card(model))


def model_card(model: ModelToRegister) -> str:
    """The README Hopsworks shows beside the model: what it is, how it scored, where it came from."""
    lineage = model.lineage
    lines = [
        f"# {model.tags.get('model_family', 'forecaster')}",
        "",
        model.description or "Hourly energy-consumption forecaster (MLflow pyfunc; see the forecast contract).",
        "",
        "## Backtest metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| `{name}` | {value:.6g} |" for name, value in sorted(model.metrics.items())),
        "",
        "## Lineage",
        "",
        f"- feature view: `{lineage.feature_view}` v{lineage.feature_view_version}",
        f"- training dataset version: {lineage.training_dataset_version}",
        f"- data sha256: `{lineage.data_sha256}`",
        f"- git commit: `{lineage.git_commit}`",
        f"- as of: {lineage.as_of.isoformat() if lineage.as_of else 'latest'}",
        "",
        "Load with `mlflow.pyfunc.load_model(model.download())`.",
    ]
    return "\n".join(lines) + "\n"


__all__ = ["HOPSWORKS_TAG_NAMES", "HopsworksModelRegistry", "model_card"]
