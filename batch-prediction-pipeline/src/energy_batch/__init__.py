"""energy_batch: champion forecasts every hour into `predictions`; actuals → `monitoring`; drift and alerts.

Read in this order: `pipeline.py` (the two jobs as named steps), then `model_input.py`,
`forecast.py`, `forecast_errors.py`, `aggregates.py`, `drift.py`, `alerts.py`, `simulation.py`.
"""

__version__ = "0.1.0"
