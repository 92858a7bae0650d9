"""The optional alert webhook: Slack-compatible JSON (`{"text": ...}`) POSTed with httpx.

A webhook that is down must never fail monitoring: the status rows are already in the store and
are the record of truth, so a failed post is logged and reported back, not raised.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)


def alert_text(status: str, reason: str, as_of: str, champion: str) -> str:
    return f":rotating_light: energy forecasting {status.upper()} as of {as_of} (champion {champion}): {reason}"


def post_alert(url: str, text: str, timeout_s: float, client: httpx.Client | None = None) -> bool:
    """POST `{"text": text}` to `url`; True when the server answered 2xx, False (logged) otherwise."""
    try:
        if client is not None:
            response = client.post(url, json={"text": text}, timeout=timeout_s)
        else:
            with httpx.Client() as own:
                response = own.post(url, json={"text": text}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        # The URL is a secret (Slack embeds the token in it): log the failure's kind, never the URL.
        log.error("alert webhook unreachable (%s); the alert is still recorded in the alerts group", type(exc).__name__)
        return False
    if not response.is_success:
        log.error("alert webhook answered HTTP %d; the alert is still in the alerts group", response.status_code)
        return False
    log.info("alert posted to webhook (HTTP %d)", response.status_code)
    return True
