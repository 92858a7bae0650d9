"""`app-frontend --port 8501` / `app-monitoring --port 8502`: serve a page with `streamlit run`.

The API's URL is not a flag: it comes from the settings (ENERGY_API_URL), which the page reads
itself, so the command line and the page can never disagree. The process is replaced by
Streamlit's (exec), so signals from a supervisor or `docker stop` reach the server directly.
Streamlit is not imported here, only run: the launcher needs the page's own dependencies, no more.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from energy_core.settings import DashboardSettings, SettingsError, load


@dataclass(frozen=True)
class Page:
    """One dashboard: its console script's name, what it serves, its Streamlit script and port."""

    prog: str
    description: str
    script: Path
    default_port: int

    def launch(self, argv: list[str] | None = None) -> int:
        """The console script's `main`: `app-frontend = "energy_frontend.cli:main"` with `main = PAGE.launch`."""
        return launch(self, argv)


def streamlit_command(script: Path, port: int, address: str) -> list[str]:
    """The `streamlit run` invocation: headless, bound to `address`, no usage statistics."""
    return [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.address", address,
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def parse_args(page: Page, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=page.prog, description=page.description)
    parser.add_argument(
        "--port", type=int, default=page.default_port, help=f"port to listen on (default {page.default_port})"
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("STREAMLIT_SERVER_ADDRESS", "127.0.0.1"),
        help="address to bind (default $STREAMLIT_SERVER_ADDRESS or 127.0.0.1; containers set 0.0.0.0)",
    )
    return parser.parse_args(argv)


def launch(page: Page, argv: list[str] | None = None) -> int:
    """Check the settings (exit 2 naming the bad variable), then become `streamlit run`."""
    args = parse_args(page, argv)
    try:
        settings = load(DashboardSettings)
    except SettingsError as exc:
        print(f"{page.prog}: {exc}", file=sys.stderr)
        return 2
    print(f"{page.prog}: http://{args.address}:{args.port} (API: {settings.api_url})", file=sys.stderr)
    command = streamlit_command(page.script, args.port, args.address)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return
