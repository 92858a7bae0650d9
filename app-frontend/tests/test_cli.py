"""`app-frontend` serves this package's page on 8501 (the launcher itself: core/tests/test_dashboard_launcher.py)."""

from __future__ import annotations

from energy_core.dashboard.launcher import parse_args
from energy_frontend.cli import PAGE


def test_app_frontend_serves_its_own_page_on_8501() -> None:
    assert (PAGE.prog, PAGE.script.name, parse_args(PAGE, []).port) == ("app-frontend", "app.py", 8501)
    assert PAGE.script.is_file() and PAGE.script.parent.name == "energy_frontend"
