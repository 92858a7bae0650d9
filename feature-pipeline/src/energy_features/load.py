"""Load: one all-or-nothing, idempotent insert per feature group.

The store skips rows whose key already holds identical values, so loading the same window twice
leaves every table at the same version. Empty batches are not sent (nothing to say).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from energy_core.feature_store import FeatureStore, InsertResult, ValidatedBatch

log = logging.getLogger(__name__)


def load_batches(store: FeatureStore, batches: Sequence[ValidatedBatch], context: str) -> list[InsertResult]:
    """Insert each validated batch (in order) into its group; the store does not validate it again."""
    results = []
    for batch in batches:
        spec = batch.group
        if batch.frame.empty:
            log.info("%s: %s has no rows in this window, nothing to load", context, spec.name)
            continue
        result = store.insert(spec, batch)
        skipped = result.rows_in_batch - result.rows_inserted - result.rows_updated
        log.info(
            "%s: %s table version %d: %d rows in batch, %d inserted, %d updated, %d unchanged",
            context, spec.table_name, result.table_version, result.rows_in_batch,
            result.rows_inserted, result.rows_updated, skipped,
        )  # fmt: skip
        results.append(result)
    return results
