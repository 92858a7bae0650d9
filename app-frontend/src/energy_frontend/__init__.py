"""energy_frontend: the Streamlit forecast page.

It reads everything from app-api over HTTP (docs/api-contract.md) and never touches the feature
store or the registry itself, so it can run anywhere the API is reachable.
"""

__version__ = "0.1.0"
