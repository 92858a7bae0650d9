"""The champion: the registry version behind the `champion` alias, loaded once and reused.

Batch prediction never retrains: it loads whatever training promoted and predicts from new data.
Which version is champion is the lifecycle's answer (`energy_core.lifecycle`), as for the API and
the training CLI. The simulation calls `ChampionCache.current()` every hour; the model is reloaded only when the
alias has moved, because loading a pyfunc (unpickling, importing its code) costs seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from energy_batch.exceptions import NoChampion
from energy_core.lifecycle import current_champion, may_serve
from energy_core.registry import CHAMPION, ModelRegistry, ModelVersionInfo, Predictor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Champion:
    """A loaded champion: its registry record (name, version, metrics, lineage) and its model."""

    info: ModelVersionInfo
    model: Predictor

    @property
    def label(self) -> str:
        family = self.info.model_family or "unknown family"
        return f"{self.info.name} v{self.info.version} ({family})"


def champion_info(registry: ModelRegistry) -> ModelVersionInfo:
    """The champion's registry record, as the lifecycle names it; NoChampion (a clear message) when
    there is none, or when the alias was moved by hand onto a version that may never serve."""
    info = current_champion(registry)
    if info is None:
        raise NoChampion(f"the registry has no '{CHAMPION}' model yet; run `training-pipeline run` first")
    if not may_serve(info):
        raise NoChampion(
            f"the '{CHAMPION}' alias points at v{info.version}, which is {info.approval} and may never serve; "
            "run `training-pipeline rollback --to <version>`"
        )
    return info


def load_champion(registry: ModelRegistry) -> Champion:
    """Check the registry answers, then load the champion by version (not by alias, so the record
    and the model cannot disagree if the alias moves in between)."""
    registry.check()
    info = champion_info(registry)
    model = registry.load(version=info.version)
    log.info("loaded champion %s v%d (%s)", info.name, info.version, info.model_family)
    return Champion(info=info, model=model)


class ChampionCache:
    """Holds the loaded champion between hours of a simulation; reloads when the alias moves."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._champion: Champion | None = None

    def current(self) -> Champion:
        info = champion_info(self._registry)
        if self._champion is None or self._champion.info.version != info.version:
            if self._champion is not None:
                log.info("champion moved from v%d to v%d: reloading", self._champion.info.version, info.version)
            self._champion = Champion(info=info, model=self._registry.load(version=info.version))
        elif self._champion.info != info:  # same model, fresher record (tags such as approval)
            self._champion = Champion(info=info, model=self._champion.model)
        return self._champion
