"""`app-api` command line: defaults come from ApiSettings, flags override them."""

from __future__ import annotations

from energy_api.cli import parse_args
from energy_core.settings import ApiSettings


def test_defaults_are_the_settings_host_and_port() -> None:
    settings = ApiSettings(ENERGY_API_HOST="10.0.0.5", ENERGY_API_PORT=8555)  # type: ignore[call-arg]
    args = parse_args([], settings)
    assert (args.host, args.port) == ("10.0.0.5", 8555)


def test_flags_override_the_settings() -> None:
    settings = ApiSettings(ENERGY_API_PORT=9000)  # type: ignore[call-arg]
    args = parse_args(["--host", "0.0.0.0", "--port", "8123"], settings)
    assert (args.host, args.port) == ("0.0.0.0", 8123)
