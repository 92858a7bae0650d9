"""`app-monitoring` serves this package's page on 8502 (the launcher itself: core/tests/test_dashboard_launcher.py)."""

from __future__ import annotations

from energy_core.dashboard.launcher import parse_args
from energy_monitoring_app.cli import PAGE


def test_app_monitoring_serves_its_own_page_on_8502() -> None:
    assert (PAGE.prog, PAGE.script.name, parse_args(PAGE, []).port) == ("app-monitoring", "app.py", 8502)
    assert PAGE.script.is_file() and PAGE.script.parent.name == "energy_monitoring_app"
