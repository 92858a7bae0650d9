"""energy_core: the small shared spine (settings, schemas, feature store, model registry and the
app-api response models in `api_models`, the contract between app-api and the dashboards).

Conventions every service follows:
- "as of T" means every hour whose start is <= T is known (T is the last known hour); a forecast
  made as of T covers the hours T+1h ... T+24h (`hours_ahead` 1 ... 24).
- Times are timezone-aware UTC; Danish local time exists only as calendar features.
"""

__version__ = "0.1.0"
