"""An in-memory stand-in for the hopsworks/hsml calls HopsworksModelRegistry makes.

Mock boundary: no Hopsworks cluster is reachable from the build machines, so the registry
contract suite runs the real Hopsworks mapping (`energy_core.registry.hopsworks_registry`)
against this fake of exactly these calls: `hopsworks.login`, `Project.get_model_registry /
get_feature_store`, `ModelRegistry.get_model / get_models`, `mr.python.create_model` and
`Model.save / download / add_tag / get_tags / delete_tag` with the properties `name, version,
created, description, training_metrics, training_dataset_version`. Like Hopsworks it numbers
versions 1, 2, ... per name, returns None for an unknown version, stores the saved directory's
files (and hands back a copy on download), keeps tag values as JSON (a value JSON cannot hold
fails here as it would there) and reports `created` as epoch milliseconds. Feature-store calls
go to `fake_hsfs.FakeHopsworksFeatureStore`. `test_fake_hopsworks_signatures.py` checks every
faked method against hopsworks 5.2's real signatures, so the fake cannot drift from the client.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

FakeFeatureView = Any  # fake_hsfs.FakeFeatureView; loaded by path, see `_fake_hsfs`


def _fake_hsfs() -> ModuleType:
    """fake_hsfs.py beside this file, by path: other services' tests load this fake by path too."""
    if "fake_hsfs" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fake_hsfs", Path(__file__).with_name("fake_hsfs.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_hsfs"] = module
        spec.loader.exec_module(module)
    return sys.modules["fake_hsfs"]


class FakeModel:
    def __init__(
        self,
        registry: FakeModelRegistry,
        name: str,
        version: int | None,
        metrics: dict[str, Any] | None,
        description: str | None,
        feature_view: FakeFeatureView | None,
        training_dataset_version: int | None,
        tags: list[dict[str, Any]] | None,
    ) -> None:
        self._registry = registry
        self._name, self._version = name, version
        self._description = "A collection of models for " + name if description is None else description
        self._training_metrics = dict(metrics or {})
        self._feature_view = feature_view
        self._training_dataset_version = training_dataset_version
        self._pending_tags = {t["name"]: t["value"] for t in tags or []}
        self._created: int | None = None
        self.files: Path | None = None

    # -- the properties HopsworksModelRegistry reads
    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def created(self) -> int | None:
        return self._created

    @property
    def description(self) -> str:
        return self._description

    @property
    def training_metrics(self) -> dict[str, Any]:
        return self._training_metrics

    @property
    def training_dataset_version(self) -> int | None:
        return self._training_dataset_version

    @property
    def feature_view(self) -> FakeFeatureView | None:
        """Not an hsml property (hsml resolves it through provenance): lets tests see the link."""
        return self._feature_view

    # -- the calls
    def save(
        self,
        model_path: str,
        await_registration: int = 480,
        keep_original_files: bool = False,
        upload_configuration: dict[str, Any] | None = None,
    ) -> FakeModel:
        self._registry._check_up()
        source = Path(model_path)
        if not source.is_dir():
            raise FileNotFoundError(f"model path {model_path} does not exist")
        for metric, value in self._training_metrics.items():
            if not isinstance(value, int | float):
                raise ValueError(f"metric {metric!r} must be a number, got {value!r}")
        self._registry._store(self, source)
        return self

    def download(self, local_path: str | None = None) -> str:
        self._registry._check_up()
        assert self.files is not None, "download of a model that was never saved"
        target = Path(local_path) if local_path else self._registry.cache / self._name / str(self._version)
        shutil.copytree(self.files, target, dirs_exist_ok=True)
        return str(target.resolve())

    def add_tag(self, name: str, value: Any) -> None:
        self._registry._check_up()
        self._registry.tags[(self._name, self._version)][name] = json.loads(json.dumps(value))

    def get_tags(self) -> dict[str, Any]:
        self._registry._check_up()
        return json.loads(json.dumps(self._registry.tags[(self._name, self._version)]))

    def delete_tag(self, name: str) -> None:
        self._registry._check_up()
        self._registry.tags[(self._name, self._version)].pop(name, None)


class FakePythonModels:
    """`mr.python`: hsml's `python.signature` module, bound to one registry."""

    def __init__(self, registry: FakeModelRegistry) -> None:
        self._registry = registry

    def create_model(
        self,
        name: str,
        version: int | None = None,
        metrics: dict[str, Any] | None = None,
        description: str | None = None,
        input_example: Any = None,
        model_schema: Any = None,
        feature_view: FakeFeatureView | None = None,
        training_dataset_version: int | None = None,
        tags: list[dict[str, Any]] | None = None,
    ) -> FakeModel:
        return FakeModel(
            self._registry, name, version, metrics, description, feature_view, training_dataset_version, tags
        )


class FakeModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache = root / "download-cache"
        self.models: dict[tuple[str, int], FakeModel] = {}
        self.tags: dict[tuple[str, int | None], dict[str, Any]] = {}
        self.python = FakePythonModels(self)
        self.down = False  # set True to answer like an unreachable cluster
        self._clock = itertools.count(int(time.time() * 1000))

    def get_model(self, name: str, version: int | None = None) -> FakeModel | None:
        self._check_up()
        return self.models.get((name, version if version is not None else 1))

    def get_models(self, name: str) -> list[FakeModel]:
        self._check_up()
        return [m for (n, _), m in sorted(self.models.items()) if n == name]

    def _store(self, model: FakeModel, source: Path) -> None:
        existing = [v for (n, v) in self.models if n == model.name]
        version = model.version if model.version is not None else max(existing, default=0) + 1
        if (model.name, version) in self.models:
            raise RuntimeError(f"model {model.name} version {version} already exists (409)")
        model._version, model._created = version, next(self._clock)
        model.files = self.root / "models" / model.name / str(version)
        shutil.copytree(source, model.files)
        self.tags[(model.name, version)] = json.loads(json.dumps(model._pending_tags))
        self.models[(model.name, version)] = model

    def _check_up(self) -> None:
        if self.down:
            raise ConnectionError("Hopsworks is unreachable (fake outage)")


class FakeProject:
    def __init__(self, root: Path | None = None, feature_store: Any | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="fake-hopsworks-"))
        self.model_registry = FakeModelRegistry(self.root)
        self.feature_store = feature_store or _fake_hsfs().FakeHopsworksFeatureStore()
        self.logins: list[dict[str, Any]] = []

    def get_model_registry(self) -> FakeModelRegistry:
        return self.model_registry

    def get_feature_store(self, name: str | None = None) -> Any:
        return self.feature_store

    def login(
        self,
        host: str | None = None,
        port: int = 443,
        project: str | None = None,
        api_key_value: str | None = None,
    ) -> FakeProject:
        """Stands in for `hopsworks.login`; refuses what would make the real one prompt."""
        if not host or not api_key_value:
            raise AssertionError("hopsworks.login called without host and api key: it would prompt")
        self.logins.append({"host": host, "port": port, "project": project})
        return self
