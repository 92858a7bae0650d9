"""The workers' JSON-lines protocol: ready first, one reply per request, bad lines answered, stop."""

from __future__ import annotations

import io
import json
from typing import Any

from energy_core.worker_protocol import serve


def test_ready_then_one_reply_per_request_until_stop_and_bad_lines_are_answered() -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"ok": True, "echo": request["n"]}

    lines = ['{"command": "x", "n": 1}', "", "not json", "[1, 2]", '{"command": "x", "n": 2}',
             '{"command": "stop"}', '{"command": "x", "n": 3}']  # fmt: skip
    out = io.StringIO()
    served = serve(lines, out, answer)

    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert served == 2 and [r["n"] for r in seen] == [1, 2]  # nothing after stop
    assert replies[0]["ready"] is True and isinstance(replies[0]["pid"], int)
    assert replies[1] == {"ok": True, "echo": 1} and replies[4] == {"ok": True, "echo": 2}
    assert not replies[2]["ok"] and "unreadable request 'not json'" in replies[2]["error"]
    assert not replies[3]["ok"] and "expected a JSON object, got list" in replies[3]["error"]
    assert len(replies) == 5
