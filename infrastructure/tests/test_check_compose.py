"""Specification of the compose structure check used where `docker compose config` is unavailable."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHECKER = Path(__file__).resolve().parents[1] / "compose" / "check_compose.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_compose", CHECKER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compose(**services: dict[str, Any]) -> dict[str, Any]:
    return {"services": services, "volumes": {"energy-home": None}}


def _api(dockerfile: str = "app-api/Dockerfile") -> dict[str, Any]:
    return {
        "build": {"context": ".", "dockerfile": dockerfile},
        "volumes": ["energy-home:/data/energy"],
        "ports": ["127.0.0.1:8001:8001"],
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "app-api").mkdir()
    (tmp_path / "app-api" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    return tmp_path


def test_a_consistent_file_has_no_problems(checker: ModuleType, root: Path) -> None:
    assert checker.problems(_compose(api=_api()), root) == []


def test_missing_dockerfile_is_named_with_its_service(checker: ModuleType, root: Path) -> None:
    found = checker.problems(_compose(api=_api("app-api/Dockerfile.prod")), root)
    assert found == ["api: build.dockerfile app-api/Dockerfile.prod does not exist"]


def test_depends_on_an_unknown_service_is_reported(checker: ModuleType, root: Path) -> None:
    service = _api() | {"depends_on": {"mlflow": {"condition": "service_healthy"}}}
    assert checker.problems(_compose(api=service), root) == ["api: depends_on names unknown service 'mlflow'"]


def test_undeclared_named_volume_is_reported(checker: ModuleType, root: Path) -> None:
    service = _api() | {"volumes": ["model-cache:/cache"]}
    found = checker.problems(_compose(api=service), root)
    assert found == ["api: volume 'model-cache' is not declared under top-level volumes"]


def test_a_host_port_published_twice_is_reported(checker: ModuleType, root: Path) -> None:
    found = checker.problems(_compose(api=_api(), api2=_api()), root)
    assert found == ["host port 127.0.0.1:8001 is published by 2 services"]


def test_every_named_volume_and_dependency_of_the_real_file_resolves(checker: ModuleType) -> None:
    """Dockerfiles are owned by the services; only the compose file's own wiring is checked here."""
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    wiring = [p for p in checker.problems(compose, REPO) if "build.dockerfile" not in p]
    assert wiring == []
