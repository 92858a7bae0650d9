"""The rule of the house, checked on the source: services never import each other.

Services share only `energy_core` and meet in the feature store and the model registry; the two
dashboards go further and reach data only through app-api over HTTP, so they may not open the store
or the registry themselves. One test over every package's source (code and tests) keeps the rule in
one place for every service, present and future.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# folder -> the package it owns
SERVICES = {
    "feature-pipeline": "energy_features",
    "training-pipeline": "energy_training",
    "batch-prediction-pipeline": "energy_batch",
    "app-api": "energy_api",
    "app-frontend": "energy_frontend",
    "app-monitoring": "energy_monitoring_app",
}
DASHBOARDS = ("app-frontend", "app-monitoring")
DASHBOARD_FORBIDDEN = ("energy_core.feature_store", "energy_core.registry")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in a file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def python_files(folder: str) -> list[Path]:
    return [p for p in (REPO / folder).rglob("*.py") if ".egg-info" not in p.parts and "build" not in p.parts]


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_service_folder_is_known() -> None:
    """A new service must be added to SERVICES, or this test would silently not guard it."""
    with_pyproject = {p.parent.name for p in REPO.glob("*/pyproject.toml")} - {"core"}
    assert with_pyproject == set(SERVICES)


@pytest.mark.parametrize("folder", ["core", *SERVICES])
def test_no_package_imports_a_service_it_does_not_own(folder: str) -> None:
    own = SERVICES.get(folder)
    violations = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in python_files(folder)
        for line, module in imported_modules(path)
        for package in SERVICES.values()
        if package != own and is_within(module, package)
    ]
    assert not violations, "services meet only in the feature store and the registry:\n" + "\n".join(violations)


@pytest.mark.parametrize("folder", DASHBOARDS)
def test_dashboards_reach_data_only_through_the_api(folder: str) -> None:
    violations = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in python_files(folder)
        for line, module in imported_modules(path)
        if any(is_within(module, forbidden) for forbidden in DASHBOARD_FORBIDDEN)
    ]
    assert not violations, "dashboards talk only to app-api over HTTP:\n" + "\n".join(violations)
