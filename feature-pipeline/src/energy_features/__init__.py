"""energy_features: raw sources into the validated feature groups energy_consumption, weather, calendar.

Read in this order: `pipeline.py` (the data flow), `windows.py` (which hours a run touches),
`extract/`, `transform/`, `validate.py`, `load.py`, `watermarks.py`, then `cli.py`.
"""

__version__ = "0.1.0"
