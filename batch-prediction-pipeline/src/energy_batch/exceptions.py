"""Failures batch prediction reports by name, so the CLI can print one clear line for each."""

from __future__ import annotations


class BatchError(RuntimeError):
    """Base class: a batch job refused to run or could not finish; nothing was written."""


class NoChampion(BatchError):
    """The registry answers but no version carries the `champion` alias."""


class NoDataAtAsOf(BatchError):
    """The feature store has no consumption rows for the as-of hour, so no forecast can start there."""


class ModelOutputError(BatchError):
    """The champion returned a frame that breaks the forecast contract."""


class StepFailed(BatchError):
    """A subprocess step of the simulation (feature or training pipeline) exited non-zero."""
