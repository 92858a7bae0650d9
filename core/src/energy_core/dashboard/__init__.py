"""What the two Streamlit dashboards share: the typed app-api client, the frames they plot, the
`streamlit run` launcher and, for their tests, a fake app-api.

Why here and not copied into each page: app-frontend and app-monitoring read the same API with the
same failure rules, and two copies drifted (one validated bodies strictly, the other not). Why an
extra: the client needs httpx, which no pipeline does, so it lives behind `energy-core[dashboard]`
and nothing in core's base import (`energy_core`, `energy_core.api_models`, ...) imports this
package. `testing` additionally needs the `dashboard-testing` extra (FastAPI, uvicorn, pytest).
"""
