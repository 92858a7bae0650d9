"""Benchmark: how the platform's costs grow from 100 to 10,000 series (issue 13, item 4).

The data are SYNTHETIC, generated here (never the snapshot): N leaf series x 90 days of hours,
each a level (log-uniform, 50 kWh to 50 MWh per hour) times a daily profile (peak in the
evening) and a weekly one (weekends lower), times 3 % Gaussian noise. Keys follow core's patterns
(`schemas.AREA_PATTERN`, `CONSUMER_TYPE_PATTERN`): 100 leaves per area `SYN000`, `SYN001`, ...,
consumer types `c00000` ... . There is no weather group (as for DK1 offline: the view's weather
columns are null); the calendar group is the feature pipeline's own transform.

Per size it measures, each step through the project's own code:
- feature insert: `EmbeddedFeatureStore.insert(energy_consumption)` of all N x 2,160 rows into an
  empty store (validation, sort, one Delta commit);
- training-dataset read: `create_training_dataset` + `read_training_dataset` of the view;
- LightGBM training: `energy_training.models.fit_model` with the `retrain` profile's
  `lightgbm_recursive` (the scheduled-retrain model: 3 x 300 trees, 13 lags, 6 rolling features),
  2 threads, on the local engine (or `--engine dask`);
- one hour of batch prediction: `energy_batch.pipeline.predict` (catalogue, plan, model input from
  the view, the fitted model's `forecast`, the contract check, one insert of N x 24 rows) with the
  trained model standing in for the registry's champion (no MLflow round trip);
- an API forecast read: GET /api/v1/forecasts/{area}/{consumer_type} through the real app
  (`create_app`, Starlette's TestClient, in process) for up to --api-series distinct series, each
  asked twice in a row: `cold` is the first request (a cache miss: store reads and serialisation;
  the first one also builds the series catalogue), `warm` the second (a cache hit).

Each size runs in its own process (a fresh temporary ENERGY_HOME) watched by this one: its peak
resident memory is reported, and a size whose RSS passes --max-rss-gb is stopped and reported with
the step it was in, rather than let it take the shared machine down. Every timing is the median of
--repeats repetitions (--large-repeats for sizes >= --large-from, 10,000 by default, where one
repetition takes minutes). With --large-train-series K, large sizes skip the training measurement
(at 10,000 series it would need ~35 GB, see docs/performance.md) and fit the
model, untimed, on K of the series; the table says so.
Growth: the exponent b of a least-squares fit log(cost) = log(a) + b log(n) over the sizes that ran.

    .venv/bin/python bench/bench_scale.py [--sizes 100,1000,10000] [--days 90] [--repeats 3]
        [--large-from 10000] [--large-repeats 1] [--large-train-series 0] [--api-series 200] [--max-rss-gb 8]
        [--engine local|dask] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # as the training CLI (energy_training/cli.py)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2024-03-31T23:00Z")  # last known hour of the synthetic history
LEAVES_PER_AREA = 100
HORIZON = 24
STEPS = ("insert", "dataset_read", "train", "predict_hour", "api_cold_p50", "api_cold_p99", "api_warm_p50",
         "api_warm_p99")  # fmt: skip
MARK = "STEP "


# ---------------------------------------------------------------------------------- synthetic data
def synthetic_consumption(n_series: int, days: int, seed: int = 13) -> pd.DataFrame:
    """SYNTHETIC `energy_consumption` rows: level x daily x weekly profile x (1 + 3 % noise)."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(end=AS_OF, periods=24 * days, freq="h").as_unit("us")
    local = hours.tz_convert("Europe/Copenhagen")
    hour, weekend = np.asarray(local.hour), np.asarray(local.weekday >= 5)
    daily = 1 + 0.25 * np.sin(2 * np.pi * (hour - 11) / 24) + 0.1 * np.exp(-((hour - 18) ** 2) / 4)
    weekly = np.where(weekend, 0.85, 1.0)
    level = np.exp(rng.uniform(np.log(50.0), np.log(50_000.0), n_series))
    phase = rng.uniform(-0.05, 0.05, n_series)
    values = level[:, None] * (daily * weekly)[None, :] * (1 + phase[:, None])
    values *= 1 + rng.normal(0, 0.03, values.shape)
    # One Python str per key, repeated by reference: 8 bytes a row instead of a string per row.
    areas = np.array([f"SYN{i // LEAVES_PER_AREA:03d}" for i in range(n_series)], dtype=object)
    types = np.array([f"c{i:05d}" for i in range(n_series)], dtype=object)
    return pd.DataFrame(
        {
            "datetime_utc": np.tile(hours.to_numpy(), n_series),
            "area": pd.array(np.repeat(areas, len(hours)), dtype="string"),
            "consumer_type": pd.array(np.repeat(types, len(hours)), dtype="string"),
            "energy_consumption_kwh": np.clip(values.ravel(), 0.0, None),
        }
    ).astype({"datetime_utc": "datetime64[us, UTC]"})


def catalogue_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The `series` catalogue for the synthetic leaves (source `synthetic:bench_scale`)."""
    from energy_core.series import SeriesInfo, catalogue_update, empty_catalogue

    keys = frame[["area", "consumer_type"]].drop_duplicates()
    infos = [
        SeriesInfo(str(a), str(c), f"Synthetic {a} {c}", "synthetic:bench_scale")
        for a, c in keys.itertuples(index=False)
    ]
    spans = frame.groupby(["area", "consumer_type"], observed=True)["datetime_utc"].agg(["min", "max"])
    seen = pd.concat(
        [spans["min"].rename("datetime_utc").reset_index(), spans["max"].rename("datetime_utc").reset_index()]
    )
    rows, _ = catalogue_update(empty_catalogue(), infos, seen, datetime.now(UTC))
    return rows


# ---------------------------------------------------------------------------------- one size (child)
def step(name: str) -> None:
    """Tell the watching parent which step runs now (so a memory stop names it)."""
    print(f"{MARK}{name}", flush=True)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class ForecasterAsChampion:
    """The trained model behind the registry's Predictor protocol (what `registry.load` returns
    wraps the same `forecast` function), so batch prediction runs without an MLflow round trip."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted

    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        from energy_training.forecaster_model import forecast

        return forecast(self.fitted, data)


def read_training_frame(store: Any) -> pd.DataFrame:
    """Pin a training dataset of the view up to the as-of hour and read it back, as training does."""
    from energy_core.schemas import ENERGY_FORECASTING_VIEW

    meta = store.create_training_dataset(ENERGY_FORECASTING_VIEW, end=(AS_OF + pd.Timedelta(hours=1)).to_pydatetime())
    return store.read_training_dataset(ENERGY_FORECASTING_VIEW, meta.version).all


def measure_size(
    n_series: int, days: int, repeats: int, api_series: int, engine: str, train_series: int, home: Path
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from energy_api.app import create_app
    from energy_batch.champion import Champion
    from energy_batch.pipeline import predict
    from energy_batch.settings import BatchSettings
    from energy_core.feature_store.embedded import EmbeddedFeatureStore
    from energy_core.registry import ModelVersionInfo
    from energy_core.schemas import CALENDAR, ENERGY_CONSUMPTION, ENERGY_FORECASTING_VIEW, SERIES
    from energy_core.settings import ApiSettings
    from energy_features.transform.calendar import calendar_features
    from energy_features.windows import Window
    from energy_training.config import load_profile
    from energy_training.models import fit_model

    times: dict[str, list[float]] = {s: [] for s in STEPS}
    rss: dict[str, float] = {}
    os.environ["ENERGY_HOME"] = str(home)
    step("generate")
    frame = synthetic_consumption(n_series, days)
    calendar = calendar_features(
        Window(frame["datetime_utc"].min().to_pydatetime(), (AS_OF + pd.Timedelta(hours=HORIZON + 1)).to_pydatetime())
    )
    catalogue = catalogue_rows(frame)
    rss["generate"] = peak_rss_gb()

    step("insert")
    store: EmbeddedFeatureStore | None = None
    for r in range(repeats):  # each repetition into an empty store: a backfill's first commit
        candidate = EmbeddedFeatureStore(home / f"store{r}")
        elapsed, _ = timed(partial(candidate.insert, ENERGY_CONSUMPTION, frame))
        times["insert"].append(elapsed)
        if store is not None:
            shutil.rmtree(store.root, ignore_errors=True)
        store = candidate
    assert store is not None
    store.insert(CALENDAR, calendar)
    store.insert(SERIES, catalogue)
    del frame
    rss["insert"] = peak_rss_gb()

    def report() -> None:  # what is measured so far survives a memory stop of a later step
        print("PARTIAL " + json.dumps({"times": times, "rss": rss, "rows": rows}), flush=True)

    rows = n_series * 24 * days
    report()
    os.environ["ENERGY_TRAINING_ENGINE"] = engine
    cfg = load_profile("retrain").model("lightgbm_recursive")
    subset_only = 0 < train_series < n_series
    if not subset_only:
        step("dataset_read")
        training = pd.DataFrame()
        for _ in range(repeats):
            elapsed, training = timed(partial(read_training_frame, store))
            times["dataset_read"].append(elapsed)
        rss["dataset_read"] = peak_rss_gb()
        report()
        step("train")
        for _ in range(repeats):
            elapsed, fitted = timed(partial(fit_model, cfg, training, HORIZON, 42, threads=2))
            times["train"].append(elapsed)
        del training
    else:
        # Training on every series not measured (--large-train-series): fit once, untimed, on the
        # first `train_series` series read through the view; a global model forecasts any series
        # from the history it is given, so prediction and the API still cover all n_series.
        step("train")
        keys = [f"c{i:05d}" for i in range(train_series)]
        spine = store.read(
            ENERGY_CONSUMPTION,
            end=(AS_OF + pd.Timedelta(hours=1)).to_pydatetime(),
            filters={"consumer_type": keys},
            columns=["area", "consumer_type", "datetime_utc", "energy_consumption_kwh"],
        )
        fitted = fit_model(cfg, store.read_view(ENERGY_FORECASTING_VIEW, spine=spine), HORIZON, 42, threads=2)
    rss["train"] = peak_rss_gb()
    report()

    step("predict_hour")
    described = cfg.as_dict()
    info = ModelVersionInfo(
        name="bench-scale",
        version=1,
        aliases=["champion"],
        created_at=datetime.now(UTC),
        run_id=None,
        params={f"{cfg.name}.{k}": json.dumps(described[k]) for k in ("lags", "lag_transforms", "params")},
        tags={"model_family": "lightgbm", "model_config": cfg.name},
    )
    champion = Champion(info=info, model=ForecasterAsChampion(fitted))
    settings = BatchSettings()
    for r in range(repeats):  # successive as-of hours, so every repetition writes new forecasts
        as_of = AS_OF - pd.Timedelta(hours=repeats - 1 - r)
        elapsed, result = timed(partial(predict, store, champion, as_of, settings))
        if result.series != n_series:
            raise RuntimeError(f"predict as of {as_of} forecast {result.series} of {n_series} series")
        times["predict_hour"].append(elapsed)
    rss["predict_hour"] = peak_rss_gb()
    report()

    step("api")
    keys = catalogue[["area", "consumer_type"]].to_numpy()
    picked = keys[np.random.default_rng(5).choice(len(keys), size=min(api_series, len(keys)), replace=False)]
    paths = [f"/api/v1/forecasts/{a}/{c}" for a, c in picked]
    for _ in range(repeats):
        app = create_app(ApiSettings(), store_factory=lambda: store)  # a fresh app: an empty cache
        latencies: dict[str, list[float]] = {"cold": [], "warm": []}
        with TestClient(app) as client:
            for path in paths:  # each series twice in a row: a cache miss, then a hit (within the TTL)
                for phase in ("cold", "warm"):
                    start = time.perf_counter()
                    response = client.get(path)
                    latencies[phase].append(time.perf_counter() - start)
                    if response.status_code != 200 or not response.json()["forecast"]:
                        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        for phase, values in latencies.items():
            times[f"api_{phase}_p50"].append(float(np.percentile(values, 50)))
            times[f"api_{phase}_p99"].append(float(np.percentile(values, 99)))
    rss["api"] = peak_rss_gb()
    report()
    if subset_only:  # last, because at 10,000 series it may pass the memory bound
        step("dataset_read")
        for _ in range(repeats):
            elapsed, _ = timed(partial(read_training_frame, store))
            times["dataset_read"].append(elapsed)
        rss["dataset_read"] = peak_rss_gb()
    return {
        "series": n_series,
        "rows": rows,
        "repeats": repeats,
        "median_s": {k: statistics.median(v) if v else None for k, v in times.items()},
        "trained_on_series": train_series if 0 < train_series < n_series else n_series,
        "all_s": times,
        "peak_rss_gb_after": rss,
        "engine": engine,
    }


# ---------------------------------------------------------------------------------- parent
def run_size(args: argparse.Namespace, n_series: int) -> dict[str, Any]:
    """Run one size in a child process, polling its RSS; stop it past the memory bound."""
    import psutil

    home = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n_series}-"))  # removed here, even if the child is stopped
    large = n_series >= args.large_from
    repeats = args.large_repeats if large else args.repeats
    cmd = [sys.executable, __file__, "--child", str(n_series), "--days", str(args.days), "--repeats", str(repeats),
           "--api-series", str(args.api_series), "--engine", args.engine,
           "--train-series", str(args.large_train_series if large else 0), "--home", str(home)]  # fmt: skip
    log_path = Path(tempfile.mkstemp(prefix=f"bench-scale-{n_series}-", suffix=".log")[1])
    with log_path.open("w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc = psutil.Process(child.pid)
    peak, stopped = 0.0, False

    def watch() -> None:
        nonlocal peak, stopped
        while child.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 1024**3
            except psutil.Error:
                break
            peak = max(peak, rss)
            if rss > args.max_rss_gb:
                stopped = True
                child.kill()
                break
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    child.wait()
    watcher.join()
    shutil.rmtree(home, ignore_errors=True)
    log = log_path.read_text()
    log_path.unlink()
    steps = [line[len(MARK) :] for line in log.splitlines() if line.startswith(MARK)]
    results = [line[len("RESULT ") :] for line in log.splitlines() if line.startswith("RESULT ")]
    if child.returncode == 0 and results:
        result: dict[str, Any] = json.loads(results[-1])
        result["peak_rss_gb"] = peak
        result["wall_s"] = time.perf_counter() - started
        return result
    reason = (
        f"stopped in step {steps[-1] if steps else '?'}: RSS {peak:.1f} GB passed --max-rss-gb {args.max_rss_gb}"
        if stopped
        else f"failed in step {steps[-1] if steps else '?'} (exit {child.returncode}): {log[-1500:]}"
    )
    failed: dict[str, Any] = {"series": n_series, "failed": reason, "peak_rss_gb": peak, "steps_done": steps[:-1]}
    partial_lines = [line[len("PARTIAL ") :] for line in log.splitlines() if line.startswith("PARTIAL ")]
    if partial_lines:  # the steps measured before the stop
        last = json.loads(partial_lines[-1])
        failed["rows"] = last["rows"]
        failed["repeats"] = repeats
        failed["median_s"] = {k: statistics.median(v) if v else None for k, v in last["times"].items()}
        failed["peak_rss_gb_after"] = last["rss"]
    return failed


def growth_exponent(sizes: list[int], costs: list[float]) -> float | None:
    """b in cost = a * n^b, least squares on logs (None with fewer than two sizes)."""
    if len(sizes) < 2:
        return None
    slope, _ = np.polyfit(np.log(sizes), np.log(costs), 1)
    return float(slope)


LABELS = {
    "insert": "feature insert (s)",
    "dataset_read": "training-dataset create + read (s)",
    "train": "LightGBM training, 3 x 300 trees (s)",
    "predict_hour": "one hour of batch prediction (s)",
    "api_cold_p50": "API forecast read, cold p50 (ms)",
    "api_cold_p99": "API forecast read, cold p99 (ms)",
    "api_warm_p50": "API forecast read, warm p50 (ms)",
    "api_warm_p99": "API forecast read, warm p99 (ms)",
}


def table(results: list[dict[str, Any]]) -> str:
    done = [r for r in results if "median_s" in r]
    head = "| cost | " + " | ".join(f"{r['series']:,} series" for r in results) + " | growth exponent b |"
    lines = [head, "|---|" + "---:|" * (len(results) + 1)]
    for key, label in LABELS.items():
        scale = 1000.0 if key.startswith("api") else 1.0
        cells = []
        for r in results:
            value = r.get("median_s", {}).get(key)
            cells.append("not run" if value is None else f"{value * scale:,.{1 if scale > 1 else 2}f}")
        measured = [r for r in done if r["median_s"][key] is not None]
        b = growth_exponent([r["series"] for r in measured], [r["median_s"][key] for r in measured])
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {'n/a' if b is None else f'{b:.2f}'} |")
    lines.append("| rows (series x hours) | " + " | ".join(f"{r.get('rows', 0):,}" for r in results) + " | |")
    lines.append("| peak RSS of the run (GB) | " + " | ".join(f"{r['peak_rss_gb']:.2f}" for r in results) + " | |")
    lines.append("| repetitions (median of) | " + " | ".join(str(r.get("repeats", "-")) for r in results) + " | |")
    notes = [f"- {r['series']:,} series: {r['failed']}" for r in results if "failed" in r]
    notes += [
        f"- {r['series']:,} series: training not run (--large-train-series); prediction and API used a model "
        f"trained on {r['trained_on_series']:,} of the series"
        for r in done
        if r.get("trained_on_series", r["series"]) < r["series"]
    ]
    return "\n".join(lines + (["", *notes] if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-from", type=int, default=10_000, help="sizes from here on are 'large'")
    parser.add_argument("--large-repeats", type=int, default=1, help="repetitions for large sizes")
    parser.add_argument(
        "--large-train-series",
        type=int,
        default=0,
        help="large sizes: skip timing training, fit on this many series instead (0: train on all)",
    )
    parser.add_argument("--api-series", type=int, default=200)
    parser.add_argument("--max-rss-gb", type=float, default=8.0)
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train-series", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        home = args.home or Path(tempfile.mkdtemp(prefix=f"bench-scale-{args.child}-"))
        result = measure_size(
            args.child, args.days, args.repeats, args.api_series, args.engine, args.train_series, home
        )
        print("RESULT " + json.dumps(result), flush=True)
        return
    print(f"SYNTHETIC data (see the module docstring), {args.days} days per series, {os.cpu_count()} CPUs, "
          f"engine {args.engine}", flush=True)  # fmt: skip
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        result = run_size(args, n)
        results.append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "all_s"}), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
