"""The launcher both dashboards' console scripts call: `streamlit run` headless, on the port it is
given, bound where the container wants it, after checking the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_core.dashboard.launcher import Page, launch, parse_args, streamlit_command

PAGE = Page(prog="app-test", description="Serve a test page.", script=Path("/pages/app.py"), default_port=8599)


def test_command_runs_the_page_headless_on_the_given_port() -> None:
    command = streamlit_command(PAGE.script, 8598, "127.0.0.1")
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]) == PAGE.script
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags == {
        "--server.port": "8598",
        "--server.headless": "true",
        "--server.address": "127.0.0.1",
        "--browser.gatherUsageStats": "false",
    }


def test_the_port_defaults_to_the_page_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMLIT_SERVER_ADDRESS", raising=False)
    args = parse_args(PAGE, [])
    assert (args.port, args.address) == (8599, "127.0.0.1")
    assert parse_args(PAGE, ["--port", "9000"]).port == 9000


def test_address_follows_streamlit_server_address_so_containers_listen_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    assert parse_args(PAGE, ["--port", "9000"]).address == "0.0.0.0"


def test_a_bad_setting_exits_2_naming_the_variable_before_streamlit_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """os.execv is replaced by a recorder (mocked), so a wrong branch shows as a call, not a new process."""
    calls: list[list[str]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append(argv))
    monkeypatch.setenv("ENERGY_DASHBOARD_TIMEOUT_S", "-1")
    assert launch(PAGE, []) == 2 and calls == []
    err = capsys.readouterr().err
    assert err.startswith("app-test:") and "ENERGY_DASHBOARD_TIMEOUT_S" in err


def test_good_settings_exec_streamlit_with_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.execv is replaced by a recorder (mocked): the test must not become a Streamlit server."""
    calls: list[list[str]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append(argv))
    monkeypatch.setenv("ENERGY_API_URL", "http://api:8001")
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    launch(PAGE, ["--port", "8597"])
    assert calls == [streamlit_command(PAGE.script, 8597, "0.0.0.0")]


def test_a_page_s_launch_is_the_launcher_for_that_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.execv is replaced by a recorder (mocked), as above."""
    calls: list[list[str]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append(argv))
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "127.0.0.1")
    PAGE.launch([])
    assert calls == [streamlit_command(PAGE.script, 8599, "127.0.0.1")]
