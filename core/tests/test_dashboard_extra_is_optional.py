"""httpx and Streamlit belong to the `dashboard` extra: core's base import must not pull them in,
so a pipeline image built without the extra still imports everything it uses."""

from __future__ import annotations

import subprocess
import sys

BASE_MODULES = ("energy_core", "energy_core.api_models", "energy_core.settings", "energy_core.schemas")
DASHBOARD_ONLY = ("httpx", "streamlit", "fastapi", "uvicorn")


def test_core_base_modules_import_no_dashboard_dependency() -> None:
    """A fresh interpreter, because this test process has long imported httpx through other tests."""
    script = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in BASE_MODULES)
        + f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(DASHBOARD_ONLY)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", f"core's base import pulled in {result.stdout.strip()}"


def test_the_client_needs_only_httpx_among_them() -> None:
    script = (
        "import sys, energy_core.dashboard.client, energy_core.dashboard.frames, energy_core.dashboard.launcher\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(DASHBOARD_ONLY)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['httpx']"
