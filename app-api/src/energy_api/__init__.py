"""app-api: a FastAPI service over the feature store and the model registry.

Read in this order: `app.py` (the factory), `routers/` (one per resource), `queries.py` (store
reads), `cache.py` (versioned response cache), `approval.py` (approve/reject: calls energy_core.lifecycle).
"""

__version__ = "0.1.0"
