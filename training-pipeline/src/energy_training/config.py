"""Model and search-space configuration, read from YAML files (the package's own by default).

Why config files: which models compete, their features and the Optuna search space change more
often than the code; declaring them as data keeps the pipeline code about *how*, not *what*.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

FAMILIES_LIGHTGBM = "lightgbm"
FAMILIES_NEURAL = ("nhits",)
STRATEGIES = ("recursive", "direct")
TARGET_TRANSFORMS = ("log", "diff_24", "standard")
INTERVALS = ("quantile", "conformal")
# Not for models.yaml: a point model with no band (q10 = q90 = point). Tuning trials use it, because
# their objective is the point forecast's WAPE and a band would cost a second fit per trial.
POINT_ONLY = "none"


class ConfigError(ValueError):
    """A configuration file breaks a rule; the message names the file, profile and entry."""


@dataclass(frozen=True)
class ModelConfig:
    """One candidate model: family, features and hyper-parameters."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)
    exog: tuple[str, ...] = ()
    strategy: str = "recursive"
    lags: tuple[int, ...] = ()
    lag_transforms: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Applied in order before the lags; "standard" (per-series scaling) is the default.
    target_transforms: tuple[str, ...] = ("standard",)
    # Training weight of the hours inside the Christmas window (1.0: no down-weighting).
    christmas_window_weight: float = 1.0
    # 80 % interval: LightGBM quantile models, or conformal errors on `calibration_origins` daily
    # origins just before the training cutoff (see forecaster_model.conformal_band).
    intervals: str = "quantile"
    calibration_origins: int = 3
    # An ensemble: the point forecast is the plain mean of these recursive LightGBM configurations
    # (no weights, so nothing is fitted on any origin); its own lags, transforms and params are
    # unused, `exog` is the union of the members'. Resolved from names by `load_profile`.
    members: tuple[ModelConfig, ...] = ()

    def with_params(self, name: str, **params: Any) -> ModelConfig:
        """A copy under a new name with some parameters overridden (tuning's winner)."""
        return replace(self, name=name, params={**self.params, **params})

    def as_dict(self) -> dict[str, Any]:
        """Flat, loggable description (MLflow params, model card)."""
        return {
            "name": self.name,
            "family": self.family,
            "strategy": self.strategy,
            "lags": list(self.lags),
            "lag_transforms": {str(k): list(v) for k, v in self.lag_transforms.items()},
            "exog": list(self.exog),
            "target_transforms": list(self.target_transforms),
            "christmas_window_weight": self.christmas_window_weight,
            "intervals": self.intervals,
            "calibration_origins": self.calibration_origins,
            "params": dict(self.params),
            **({"members": [m.as_dict() for m in self.members]} if self.members else {}),
        }


@dataclass(frozen=True)
class TuningConfig:
    """Optuna over `model`'s search space, on origins before the backtest window.

    `trials` is the bound: a fixed number of seeded trials gives the same winner on an idle and on
    a loaded machine. `time_cap_s` is only a safety cap; when it stops tuning early the run and
    the scorecard say so, because the result then depends on the machine's load. `run_budget_s`
    (optional) is a wall-clock budget for the whole run: the pipeline backtests the other
    candidates first and lowers the cap to what the budget leaves (see pipeline.tuning_cap).
    """

    model: str
    trials: int
    time_cap_s: float
    origins: int
    run_budget_s: float | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    models: tuple[ModelConfig, ...]
    tuning: TuningConfig | None
    search_space: dict[str, dict[str, Any]]
    # Also retrain the current champion's own configuration (read from its registered params)
    # when it is not among `models`: a scheduled retrain must be able to refresh whatever the
    # full model search crowned, not only the few candidates it backtests every day.
    refresh_champion: bool = False

    def model(self, name: str) -> ModelConfig:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"profile {self.name!r} has no model {name!r}; it has {[m.name for m in self.models]}")


def _read_yaml(path: Path | None, default: str) -> tuple[dict[str, Any], str]:
    if path is not None:
        return yaml.safe_load(path.read_text()) or {}, str(path)
    text = resources.files("energy_training").joinpath("config", default).read_text()
    return yaml.safe_load(text) or {}, f"energy_training/config/{default}"


def _flatten(values: Any) -> tuple[str, ...]:
    """YAML aliases inside a list nest lists (`[*calendar, *weather]`); flatten them."""
    out: list[str] = []
    for v in values or ():
        out.extend(_flatten(v) if isinstance(v, list | tuple) else [str(v)])
    return tuple(out)


def _model(raw: dict[str, Any], where: str) -> ModelConfig:
    try:
        name, family = str(raw["name"]), str(raw["family"])
    except KeyError as exc:
        raise ConfigError(f"{where}: every model needs 'name' and 'family' (missing {exc})") from exc
    known = family.startswith("seasonal_naive_") or family == FAMILIES_LIGHTGBM or family in FAMILIES_NEURAL
    if not known:
        raise ConfigError(f"{where}: model {name!r} has unknown family {family!r}")
    strategy = str(raw.get("strategy", "recursive"))
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}: model {name!r} strategy {strategy!r}, expected one of {STRATEGIES}")
    lags = tuple(int(v) for v in raw.get("lags", ()))
    if family == FAMILIES_LIGHTGBM and not lags and not raw.get("members"):
        raise ConfigError(f"{where}: LightGBM model {name!r} needs at least one lag")
    transforms = _flatten(raw.get("target_transforms", ("standard",)))
    unknown = sorted(set(transforms) - set(TARGET_TRANSFORMS))
    if unknown:
        raise ConfigError(f"{where}: model {name!r} target_transforms {unknown} unknown; expected {TARGET_TRANSFORMS}")
    weight = float(raw.get("christmas_window_weight", 1.0))
    if not 0.0 < weight <= 1.0:
        raise ConfigError(f"{where}: model {name!r} christmas_window_weight must be in (0, 1], got {weight}")
    intervals = str(raw.get("intervals", "quantile"))
    calibration_origins = int(raw.get("calibration_origins", 3))
    if intervals not in INTERVALS or calibration_origins < 1:
        raise ConfigError(
            f"{where}: model {name!r} intervals must be one of {INTERVALS} with calibration_origins >= 1, "
            f"got {intervals!r} and {calibration_origins}"
        )
    return ModelConfig(
        name=name,
        family=family,
        params=copy.deepcopy(dict(raw.get("params") or {})),
        exog=_flatten(raw.get("exog")),
        strategy=strategy,
        lags=lags,
        lag_transforms={int(k): _flatten(v) for k, v in (raw.get("lag_transforms") or {}).items()},
        target_transforms=transforms,
        christmas_window_weight=weight,
        intervals=intervals,
        calibration_origins=calibration_origins,
    )


def _ensemble(cfg: ModelConfig, names: tuple[str, ...], models: tuple[ModelConfig, ...], where: str) -> ModelConfig:
    """`cfg` with its member names resolved to the profile's recursive LightGBM candidates."""
    by_name = {m.name: m for m in models}
    unknown = [n for n in names if n not in by_name]
    if unknown or len(set(names)) < 2:
        raise ConfigError(
            f"{where}: ensemble {cfg.name!r} needs at least two distinct members from its profile, got {list(names)}"
            + (f" ({unknown} not in the profile)" if unknown else "")
        )
    resolved = tuple(by_name[n] for n in names)
    bad = [m.name for m in resolved if m.family != FAMILIES_LIGHTGBM or m.strategy != "recursive" or m.members]
    if cfg.family != FAMILIES_LIGHTGBM or cfg.strategy != "recursive" or bad:
        raise ConfigError(
            f"{where}: ensemble {cfg.name!r} must be a recursive LightGBM of recursive LightGBM members; "
            f"{bad or [cfg.name]} is not"
        )
    if cfg.intervals != "conformal":
        raise ConfigError(f"{where}: ensemble {cfg.name!r} needs `intervals: conformal` (members fit no quantiles)")
    exog = tuple(dict.fromkeys(c for m in resolved for c in m.exog))
    return replace(cfg, members=resolved, exog=exog)


def _tuning(raw: dict[str, Any], where: str) -> TuningConfig:
    retired = sorted({"budget_s", "max_trials"} & set(raw))
    if retired:
        raise ConfigError(
            f"{where}: tuning keys {retired} are retired; tuning is bounded by `trials` (a count) and only "
            "capped by `time_cap_s` (seconds), so results do not depend on the machine's load"
        )
    try:
        tuning = TuningConfig(
            model=str(raw["model"]),
            trials=int(raw["trials"]),
            time_cap_s=float(raw.get("time_cap_s", 3600)),
            origins=int(raw.get("origins", 3)),
            run_budget_s=float(raw["run_budget_s"]) if raw.get("run_budget_s") is not None else None,
        )
    except KeyError as exc:
        raise ConfigError(f"{where}: tuning needs {exc} (the model to tune and the number of trials)") from exc
    budget_ok = tuning.run_budget_s is None or tuning.run_budget_s > 0
    if tuning.trials < 1 or tuning.time_cap_s <= 0 or tuning.origins < 1 or not budget_ok:
        raise ConfigError(
            f"{where}: tuning needs trials >= 1, time_cap_s > 0, origins >= 1 and run_budget_s > 0 when set, got "
            f"trials={tuning.trials}, time_cap_s={tuning.time_cap_s}, origins={tuning.origins}, "
            f"run_budget_s={tuning.run_budget_s}"
        )
    return tuning


def load_profile(name: str = "full", models_path: Path | None = None, search_space_path: Path | None = None) -> Profile:
    """The named profile from models.yaml, with the search space from search_space.yaml."""
    raw, where = _read_yaml(models_path, "models.yaml")
    profiles = raw.get("profiles") or {}
    if name not in profiles:
        raise ConfigError(f"{where}: no profile {name!r}; known profiles: {sorted(profiles)}")
    entry = profiles[name]
    models = tuple(_model(m, f"{where} profile {name!r}") for m in entry.get("models") or ())
    if not models:
        raise ConfigError(f"{where}: profile {name!r} declares no models")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: profile {name!r} repeats a model name: {names}")
    members = {str(m["name"]): _flatten(m["members"]) for m in entry["models"] if m.get("members")}
    models = tuple(
        _ensemble(m, members[m.name], models, f"{where} profile {name!r}") if m.name in members else m for m in models
    )
    tuning = None
    if entry.get("tuning"):
        tuning = _tuning(entry["tuning"], f"{where} profile {name!r}")
        if tuning.model not in names:
            raise ConfigError(f"{where}: profile {name!r} tunes unknown model {tuning.model!r}")
    space, _ = _read_yaml(search_space_path, "search_space.yaml")
    refresh = entry.get("refresh_champion", False)
    if not isinstance(refresh, bool):
        raise ConfigError(f"{where}: profile {name!r} refresh_champion must be true or false, got {refresh!r}")
    return Profile(name, str(entry.get("description", "")), models, tuning, space, refresh)


def config_from_params(name: str, params: dict[str, str]) -> ModelConfig:
    """The ModelConfig a registered version was trained with, from its logged `<name>.<field>`
    params (JSON values of `ModelConfig.as_dict`), checked like a models.yaml entry.

    Why from the params and not from models.yaml by name: a tuned winner exists in no profile, and
    one name can mean different settings in two profiles (`smoke` has its own `lightgbm_recursive`).
    """
    prefix = f"{name}."
    raw = {k.removeprefix(prefix): json.loads(v) for k, v in params.items() if k.startswith(prefix)}
    where = f"registered params of {name!r}"
    if "family" not in raw:
        raise ConfigError(f"{where}: no '{prefix}family' param; the version was not registered by this pipeline")
    raw["name"] = name
    cfg = _model(raw, where)
    members = raw.get("members") or []
    if not members:
        return cfg
    resolved = tuple(_model(m, where) for m in members)
    return _ensemble(cfg, tuple(m.name for m in resolved), resolved, where)
