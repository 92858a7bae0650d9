"""`app-frontend` runs the page headless on 127.0.0.1 with the port it is given."""

from __future__ import annotations

from pathlib import Path

from energy_frontend.cli import APP_SCRIPT, parse_args, streamlit_command


def test_command_runs_the_page_headless_on_the_given_port() -> None:
    command = streamlit_command(8599, "127.0.0.1")
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]) == APP_SCRIPT
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags == {
        "--server.port": "8599",
        "--server.headless": "true",
        "--server.address": "127.0.0.1",
        "--browser.gatherUsageStats": "false",
    }


def test_default_port_is_8501_and_the_page_script_exists() -> None:
    assert parse_args([]).port == 8501
    assert APP_SCRIPT.is_file()


def test_address_follows_streamlit_server_address_so_containers_listen_outside(monkeypatch) -> None:
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    assert parse_args(["--port", "9000"]).address == "0.0.0.0"
    monkeypatch.delenv("STREAMLIT_SERVER_ADDRESS")
    assert parse_args([]).address == "127.0.0.1"
