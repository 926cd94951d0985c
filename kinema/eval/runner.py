"""One runner over a benchmark protocol (`Benchmark`): build the cases, run the model and the ground truth
through the same code, write the report (JSON + Markdown + PNG). `kinema eval <benchmark>` is a thin
wrapper over `run_benchmark(BENCHMARKS[name], ...)`.

Every run also measures the ground-truth oracle: for physics that is the parser floor, for the others it
shows what a perfect model scores under the same measurement (so the metric itself is checked each run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.eval import adherence, camera_accuracy, continuity, physics, trajectory
from kinema.eval.model_under_test import GroundTruthModel, VideoModel, load_model
from kinema.eval.report import (
    plot_bars,
    plot_error_vs_velocity,
    plot_frame_strip,
    run_header,
    write_json,
    write_markdown,
)

FLOOR = "ground-truth"


ModelSpec = str | Callable[[GroundTruthModel], VideoModel]


def _models(
    spec: ModelSpec, oracle: GroundTruthModel, pipeline_options: dict[str, Any], extends: bool = False
) -> dict[str, VideoModel]:
    """The model under test and the oracle (once, if the model *is* the oracle). `spec` is a model folder,
    a reference model's name, or a factory that builds a model over the oracle (for other backends).
    `physics` in the options: "both" = the model in plain and in physics mode side by side; "only" = physics
    mode alone; `physics_candidates` the candidates physics mode draws per clip (one, where the benchmark
    `extends` given frames: an extension is drawn chunk by chunk), checked before the model loads."""
    options = dict(pipeline_options)
    physics = options.pop("physics", None)
    candidates = options.pop("physics_candidates", None)
    if candidates is not None and physics is None:
        raise InvalidInputError("--physics-candidates picks among physics-mode candidates; add --physics.")
    if candidates is not None and candidates > 1 and extends:
        raise InvalidInputError(
            f"--physics-candidates {candidates}: this benchmark continues given frames, and an extension is "
            "drawn chunk by chunk with one candidate; drop --physics-candidates (text → video benchmarks such as "
            "adherence take it)."
        )
    model = spec(oracle) if callable(spec) else load_model(spec, oracle, **options)
    if model is oracle:
        return {model.name: model}
    models: dict[str, VideoModel] = {}
    if physics is not None:
        if not hasattr(model, "with_physics"):
            raise InvalidInputError(f"{model.name} is a reference model; physics mode needs a model folder.")
        if physics == "both":
            models[model.name] = model
        model = model.with_physics(candidates)
    return {**models, model.name: model, FLOOR: oracle}


def _spec_name(spec: ModelSpec, models: dict[str, VideoModel]) -> str:
    return str(spec) if not callable(spec) else next(iter(models))


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's protocol; `run_benchmark` runs any of them the same way."""

    name: str
    title: str
    build_cases: Callable[[Any], list]
    build_oracle: Callable[[list], GroundTruthModel]
    # (model, cases, settings, progress) -> (records, extra): extra = what the figures need (sample videos)
    evaluate: Callable[..., tuple[Any, Any]]
    summarize: Callable[[dict[str, Any]], dict[str, Any]]  # records by model -> summary by model
    settings_json: Callable[[Any], dict[str, Any]]
    # (out_dir, cases, settings, records, extras, models) -> figure file names
    figures: Callable[..., list[str]]
    tables: Callable[[dict[str, Any], dict[str, Any], list[str]], list]  # (summaries, records, models)
    floor_ok: Callable[[dict[str, Any]], bool] = lambda floor: True  # noqa: E731
    floor_size: str = "64"
    extends: bool = False  # asks the model to continue given frames (the `extend` task)


def run_benchmark(
    bench: Benchmark,
    model_spec: ModelSpec,
    settings: Any,
    out_dir: Path,
    pipeline_options: dict[str, Any] | None = None,
    progress: bool = True,
    cases: list | None = None,
) -> dict[str, Any]:
    """Cases → oracle → every model (and the oracle) through the same measurement → JSON + figures + Markdown.
    `cases` (built from `settings`) may be given to skip rebuilding them."""
    options = pipeline_options or {}
    cases = cases if cases is not None else bench.build_cases(settings)
    oracle = bench.build_oracle(cases)
    models = _models(model_spec, oracle, options, bench.extends)
    records, extras = {}, {}
    for name, model in models.items():
        records[name], extras[name] = bench.evaluate(model, cases, settings, progress)
    summaries = bench.summarize(records)
    header = run_header(
        bench.name, _spec_name(model_spec, models), {**bench.settings_json(settings), **options}
    )
    payload = {**header, "summary": summaries, "records": records}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{bench.name}.json", payload)
    figures = bench.figures(out_dir, cases, settings, records, extras, list(models))
    floor = summaries.get(FLOOR) if isinstance(summaries, dict) else None
    notes = _floor_notes(floor is not None and not bench.floor_ok(floor), bench.name, bench.floor_size)
    tables = bench.tables(summaries, records, list(models))
    write_markdown(out_dir / f"{bench.name}.md", bench.title, header, tables, figures, notes)
    return payload


def _per_model(summarize: Callable[[Any], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A per-model summary function from a benchmark's summary of one model's records."""
    return lambda records: {name: summarize(rs) for name, rs in records.items()}


# ---- physics ---------------------------------------------------------------------------------------------
def _physics_figures(out_dir, cases, settings, records, samples, models) -> list[str]:
    """Error against initial velocity (ID band shaded); sample frames with parsed tracks."""
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for scenario in settings.scenarios:
        series[scenario] = {}
        for name in models:
            label = "parser floor (ground truth)" if name == FLOOR else name
            rs = [r for r in records[name] if r["scenario"] == scenario]
            series[scenario][label] = (
                np.array([r["initial_speed"] for r in rs]),
                np.array([r["velocity_error"] for r in rs], dtype=float),
            )
    plot_error_vs_velocity(out_dir / "physics_error_vs_velocity.png", series)
    model_name = models[0]
    rows = []
    for index, (video, parsed) in samples[model_name].items():
        case = cases[index]
        rows.append(
            (f"{case.scenario} truth", case.video, physics.parse_tracks(case.video, case.spec).pixels)
        )
        if model_name != FLOOR:
            rows.append((f"{case.scenario} {model_name}", video, parsed.pixels))
    t = settings.num_frames
    frame_ids = sorted({0, settings.cond_frames - 1, t // 4, t // 2, 3 * t // 4, t - 1})
    plot_frame_strip(out_dir / "physics_samples.png", rows, frame_ids)
    return ["physics_error_vs_velocity.png", "physics_samples.png"]


def _physics_tables(summaries, records, models) -> list:
    floor = summaries.get(FLOOR, summaries[models[0]])
    tables = [physics.summary_table(summaries[name], floor, name) for name in models if name != FLOOR]
    return tables or [physics.summary_table(floor, floor, models[0])]


PHYSICS = Benchmark(
    name="physics",
    title="Physical-law benchmark",
    build_cases=physics.build_cases,
    build_oracle=physics.build_oracle,
    evaluate=physics.evaluate_physics,
    summarize=_per_model(physics.summarize),
    settings_json=lambda s: s.to_json(),
    figures=_physics_figures,
    tables=_physics_tables,
    extends=True,
)


# ---- prompt adherence ------------------------------------------------------------------------------------
def _adherence_figures(out_dir, cases, settings, records, extras, models) -> list[str]:
    summaries = {name: adherence.summarize(rs) for name, rs in records.items()}
    plot_bars(
        out_dir / "adherence.png",
        "Prompt adherence",
        list(adherence.CHECKS),
        {name: [s[c] for c in adherence.CHECKS] for name, s in summaries.items()},
        "share of videos",
    )
    return ["adherence.png"]


ADHERENCE = Benchmark(
    name="adherence",
    title="Prompt adherence",
    build_cases=adherence.build_cases,
    build_oracle=adherence.build_oracle,
    evaluate=lambda m, cases, settings, progress: (
        adherence.evaluate_adherence(m, cases, settings, progress),
        None,
    ),
    summarize=_per_model(adherence.summarize),
    settings_json=lambda s: s.to_json(),
    figures=_adherence_figures,
    tables=lambda summaries, records, models: [adherence.summary_table(summaries)],
    floor_ok=lambda floor: floor.get("all_ok", 1.0) >= 1.0,
)


# ---- camera accuracy -------------------------------------------------------------------------------------
def _camera_summary(records: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "kind_accuracy": float(np.mean([r["kind_correct"] for r in rs])),
            "sign_accuracy": float(np.mean([r["sign_correct"] for r in rs])),
            "magnitude_error": float(np.mean([r["magnitude_error"] for r in rs])),
        }
        for name, rs in records.items()
    }


def _camera_figures(out_dir, cases, settings, records, extras, models) -> list[str]:
    first = next(iter(records.values()))
    values = {"expected": [r["expected"][_kind(r)] for r in first]}
    values.update({name: [r["measured"][_kind(r)] for r in rs] for name, rs in records.items()})
    plot_bars(
        out_dir / "camera.png",
        "Camera motion on the expected kind",
        [r["case"] for r in first],
        values,
        "edge displacement / frame",
    )
    return ["camera.png"]


CAMERA = Benchmark(
    name="camera",
    title="Camera accuracy",
    build_cases=camera_accuracy.camera_cases,
    build_oracle=camera_accuracy.build_oracle,
    evaluate=lambda m, cases, settings, progress: (
        camera_accuracy.evaluate_camera(m, cases, settings, progress),
        None,
    ),
    summarize=_camera_summary,
    settings_json=asdict,
    figures=_camera_figures,
    tables=lambda summaries, records, models: [camera_accuracy.summary_table(records)],
    floor_ok=lambda floor: floor.get("sign_accuracy", 1.0) >= 1.0,
    floor_size="48",
)


def _floor_notes(failed: bool, benchmark: str, size: str) -> list[str]:
    """A warning when the ground truth itself does not score perfectly: the measurement is unreliable."""
    if not failed:
        return []
    return [
        f"the ground truth itself does not score 100% here, so the {benchmark} measurement is unreliable at "
        f"these settings (too few pixels to parse); use --size {size} or more."
    ]


def _kind(record: dict[str, Any]) -> int:
    from kinema.eval.motion import MOTION_KINDS

    return MOTION_KINDS.index(record["expected_kind"])


# ---- extension continuity -------------------------------------------------------------------------------
def _continuity_figures(out_dir, cases, settings, records, videos, models) -> list[str]:
    joins = settings.join_frames()
    frame_ids = sorted({0, *[j - 1 for j in joins], *joins, settings.total_frames - 1})
    plot_frame_strip(
        out_dir / "continuity_samples.png", [(name, v[0], None) for name, v in videos.items()], frame_ids
    )
    return ["continuity_samples.png"]


CONTINUITY = Benchmark(
    name="continuity",
    title="Extension continuity",
    build_cases=continuity.build_cases,
    build_oracle=continuity.build_oracle,
    evaluate=continuity.evaluate_continuity,
    summarize=_per_model(continuity.summarize),
    settings_json=lambda s: s.to_json(),
    figures=_continuity_figures,
    tables=lambda summaries, records, models: [continuity.summary_table(summaries)],
    floor_ok=lambda floor: floor.get("all_present_at_end", 1.0) >= 1.0,
    extends=True,
)


# ---- trajectory following -------------------------------------------------------------------------------
def _trajectory_figures(out_dir, cases, settings, records, samples, models) -> list[str]:
    """Distance per speed band for every model; sample frames with the asked path drawn over them."""
    summaries = {name: trajectory.summarize(rs) for name, rs in records.items()}
    bands = [b for b in settings.bands if b in next(iter(summaries.values()))]
    plot_bars(
        out_dir / "trajectory.png",
        "Trajectory following",
        bands,
        {name: [s[b]["mean_distance_px"] for b in bands] for name, s in summaries.items()},
        "mean distance, px",
    )
    rows = []
    for index, video in samples[models[0]].items():
        rows.append((f"{cases[index].band} {models[0]}", video, cases[index].tracks()))
    t = settings.num_frames
    plot_frame_strip(out_dir / "trajectory_samples.png", rows, sorted({0, t // 4, t // 2, 3 * t // 4, t - 1}))
    return ["trajectory.png", "trajectory_samples.png"]


TRAJECTORY = Benchmark(
    name="trajectory",
    title="Trajectory following",
    build_cases=trajectory.build_cases,
    build_oracle=trajectory.build_oracle,
    evaluate=trajectory.evaluate_trajectory,
    summarize=_per_model(trajectory.summarize),
    settings_json=lambda s: s.to_json(),
    figures=_trajectory_figures,
    tables=lambda summaries, records, models: [
        trajectory.summary_table(summaries),
        trajectory.shape_table(records),
    ],
    floor_ok=lambda floor: floor.get("all", {}).get("mean_distance_px", 0.0) <= 0.5,
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (PHYSICS, ADHERENCE, CAMERA, CONTINUITY, TRAJECTORY)}


def run_physics(
    model_spec: ModelSpec, settings: Any, out_dir: Path, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    return run_benchmark(PHYSICS, model_spec, settings, out_dir, *args, **kwargs)


def run_adherence(
    model_spec: ModelSpec, settings: Any, out_dir: Path, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    return run_benchmark(ADHERENCE, model_spec, settings, out_dir, *args, **kwargs)


def run_camera(
    model_spec: ModelSpec, settings: Any, out_dir: Path, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    return run_benchmark(CAMERA, model_spec, settings, out_dir, *args, **kwargs)


def run_continuity(
    model_spec: ModelSpec, settings: Any, out_dir: Path, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    return run_benchmark(CONTINUITY, model_spec, settings, out_dir, *args, **kwargs)
