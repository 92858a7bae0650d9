"""One router per resource; `app.create_app` mounts them all.

Each router carries the full `/api/v1` prefix itself rather than receiving it from
`include_router`: FastAPI then records the full path template on the matched route, which is the
label request metrics use.
"""

API_PREFIX = "/api/v1"
