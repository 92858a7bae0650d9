"""`app-monitoring --port 8502`: serve the monitoring page with Streamlit (energy_core.dashboard.launcher)."""

from __future__ import annotations

from pathlib import Path

from energy_core.dashboard.launcher import Page

PAGE = Page("app-monitoring", "Serve the monitoring page.", Path(__file__).with_name("app.py"), 8502)
main = PAGE.launch

if __name__ == "__main__":
    raise SystemExit(main())
