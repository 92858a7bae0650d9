"""`app-frontend --port 8501`: serve the forecast page with Streamlit.

The API's URL is not a flag: it comes from the settings (ENERGY_API_URL), which the page reads
itself, so the command line and the page can never disagree. The process is replaced by
Streamlit's (exec), so signals from a supervisor or `docker stop` reach the server directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from energy_core.settings import DashboardSettings, SettingsError, load

APP_SCRIPT = Path(__file__).with_name("app.py")


def streamlit_command(port: int, address: str) -> list[str]:
    """The `streamlit run` invocation: headless, bound to `address`, no usage statistics."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.address", address,
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app-frontend", description="Serve the forecast page.")
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument(
        "--address",
        default=os.environ.get("STREAMLIT_SERVER_ADDRESS", "127.0.0.1"),
        help="address to bind (default $STREAMLIT_SERVER_ADDRESS or 127.0.0.1; containers set 0.0.0.0)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load(DashboardSettings)
    except SettingsError as exc:
        print(f"app-frontend: {exc}", file=sys.stderr)
        return 2
    print(f"app-frontend: http://{args.address}:{args.port} (API: {settings.api_url})", file=sys.stderr)
    command = streamlit_command(args.port, args.address)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    raise SystemExit(main())
