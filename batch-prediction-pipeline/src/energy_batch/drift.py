"""Feature drift: the population stability index (PSI) of recent features against the training data.

PSI = Σ (a_i − e_i) · ln(a_i / e_i) over bins cut at the reference's quantiles, where e_i and a_i
are the reference and recent shares. Rule of thumb (and the default thresholds in AlertSettings):
< 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift. Quantile bins make PSI independent of
the feature's scale; empty bins are floored at a small share so the log stays finite.

Only float features of the view are compared (the label and the weather). Calendar columns are
deterministic and seasonal by construction: a December training set always "drifts" from January.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_core.schemas import FeatureViewSpec

MIN_SHARE = 1e-4


def psi(reference: np.ndarray | pd.Series, recent: np.ndarray | pd.Series, bins: int = 10) -> float:
    """PSI of `recent` against `reference` (NaN values ignored). Raises ValueError on empty input."""
    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(recent, dtype="float64")
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        raise ValueError(f"PSI needs values on both sides; got {ref.size} reference and {cur.size} recent")
    inner_edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(inner_edges, ref, side="right"), minlength=inner_edges.size + 1)
    cur_share = np.bincount(np.searchsorted(inner_edges, cur, side="right"), minlength=inner_edges.size + 1)
    e = np.maximum(ref_share / ref.size, MIN_SHARE)
    a = np.maximum(cur_share / cur.size, MIN_SHARE)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_features(view: FeatureViewSpec, frame: pd.DataFrame) -> list[str]:
    """The float columns of the view present in `frame` (label first)."""
    cols = [c for c in view.output_columns() if c in frame.columns and frame[c].dtype == "float64"]
    return sorted(cols, key=lambda c: (c != view.label, c))


@dataclass(frozen=True)
class FeatureDrift:
    """PSI of one feature; the counts are of *distinct* values (see `feature_drift`)."""

    feature: str
    psi: float | None
    reference_count: int
    recent_count: int


def feature_drift(
    view: FeatureViewSpec, reference: pd.DataFrame, recent: pd.DataFrame, min_values: int
) -> list[FeatureDrift]:
    """PSI per float feature; None where either side has fewer than `min_values` distinct values.

    Distinct, not rows: a daily weather observation is repeated on 24 hourly rows and 76 series,
    so a week holds 7 observations per area however many rows carry them, and PSI over a handful
    of observations measures the weather's autocorrelation, not drift (it would alert forever).
    """
    out = []
    for feature in drift_features(view, reference):
        ref = reference[feature].dropna()
        cur = recent[feature].dropna() if feature in recent.columns else pd.Series(dtype="float64")
        n_ref, n_cur = int(ref.nunique()), int(cur.nunique())
        value = psi(ref, cur) if n_ref >= min_values and n_cur >= min_values else None
        out.append(FeatureDrift(feature, value, n_ref, n_cur))
    return out
