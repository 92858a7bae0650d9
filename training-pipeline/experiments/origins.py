"""What every accuracy experiment here starts from: the scorecard's origins, the 3 tuning origins
before them, and the training frame, built the way `training-pipeline run` builds it.

The experiments import it as a sibling module (`python training-pipeline/experiments/<name>.py`
puts this folder on the path).
"""

from __future__ import annotations

import pandas as pd

from energy_core.feature_store import open_feature_store
from energy_core.settings import BacktestSettings, load
from energy_training import dataset
from energy_training.backtest import known_until
from energy_training.protocol import Protocol, backtest_protocol, tuning_protocol


def scorecard_setup(as_of: str) -> tuple[dict[str, Protocol], pd.DataFrame]:
    """`{"tuning": 3 origins before the backtest, "backtest": the scorecard's 7}` and the frame as of
    `as_of`, read from a new training dataset of the `ENERGY_HOME` store (registers nothing)."""
    settings = load(BacktestSettings)
    backtest = backtest_protocol(as_of, settings)
    protocols = {"tuning": tuning_protocol(backtest, 3, settings), "backtest": backtest}
    store = open_feature_store()
    frame = known_until(dataset.read(store, dataset.create(store, backtest).version).frame, backtest.as_of)
    return protocols, frame
