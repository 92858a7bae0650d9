"""`app-api`: serve the API with uvicorn. Settings come from the environment (ENERGY_API_*)."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from energy_api.app import create_app
from energy_core.settings import ApiSettings, SettingsError, load


def parse_args(argv: list[str] | None, settings: ApiSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app-api", description="Serve the energy forecasting API (FastAPI).")
    parser.add_argument("--host", default=settings.host, help=f"interface to bind (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off: it costs latency)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Exit 2 with one line naming the bad variable on a configuration error (not a traceback)."""
    try:
        settings = load(ApiSettings)
        args = parse_args(argv, settings)
        app = create_app(settings)
    except SettingsError as exc:
        print(f"app-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
