"""Validate every group's batch before any write; quarantine a rejected batch whole.

The rules are core's (`energy_core.feature_store.relational.validate_batch`, the very function the
store applies on insert), so the pipeline and every backend can never disagree. Validating here as
well is about *order*: a run writes three groups, and a bad batch in any of them must stop the run
before anything reaches the store. The rejected batch and its failures go to
ENERGY_HOME/quarantine/ for a person to inspect; the error (core's FeatureValidationError) names
each broken rule with its column, row and value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from energy_core.feature_store import FeatureValidationError
from energy_core.feature_store.relational import validate_batch
from energy_core.schemas import FeatureGroupSpec
from energy_features.quarantine import quarantine_batch

log = logging.getLogger(__name__)


def validate_or_quarantine(
    batches: Sequence[tuple[FeatureGroupSpec, pd.DataFrame]], quarantine_dir: Path, now: datetime, label: str
) -> None:
    """Return quietly if every batch is valid; else quarantine the first bad one and re-raise."""
    for spec, frame in batches:
        try:
            validate_batch(spec, frame)
        except FeatureValidationError as exc:
            folder = quarantine_batch(quarantine_dir, spec.name, frame, exc.failures, str(exc), now, label)
            log.error("%s batch rejected, nothing written; quarantined in %s\n%s", spec.name, folder, exc)
            raise
