"""energy_monitoring_app: the Streamlit monitoring page.

It reads forecast error, alerts and the model history from app-api over HTTP
(docs/api-contract.md) and never touches the feature store or the registry itself.
"""

__version__ = "0.1.0"
