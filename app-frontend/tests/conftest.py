"""The fake app-api both dashboards test against (energy_core.dashboard.testing, which says why a
fake): `full_api`, `empty_api` (not ready, and empty lists) and `closed_port_url` (the API down)."""

from energy_core.dashboard.testing import closed_port_url, empty_api, full_api

__all__ = ["closed_port_url", "empty_api", "full_api"]
