"""Schemathesis over the OpenAPI schema on the synthetic store: generated requests (valid and
invalid parameters) never get a 5xx and every response conforms to the documented schema for its
status code. Examples per operation are bounded and derandomised: fast, and a failure reproduces.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import AppFactory
from .fuzzing import fuzz_app


def test_no_request_gets_a_server_error_or_an_undocumented_response(make_app: AppFactory, filled_home: Path) -> None:
    assert fuzz_app(make_app(filled_home), max_examples=30) == 20  # every endpoint of the contract
