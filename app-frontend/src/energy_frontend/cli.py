"""`app-frontend --port 8501`: serve the forecast page with Streamlit (energy_core.dashboard.launcher)."""

from __future__ import annotations

from pathlib import Path

from energy_core.dashboard.launcher import Page

PAGE = Page("app-frontend", "Serve the forecast page.", Path(__file__).with_name("app.py"), 8501)
main = PAGE.launch

if __name__ == "__main__":
    raise SystemExit(main())
