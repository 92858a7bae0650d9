"""Training pipeline: training dataset → backtest → tune → track → registry (see README.md)."""
