"""One function per benchmark: build the cases, run the model and the ground truth through the same code,
write the report (JSON + Markdown + PNG). `kinema eval <benchmark>` is a thin wrapper over these.

Every run also measures the ground-truth oracle: for physics that is the parser floor, for the others it
shows what a perfect model scores under the same measurement (so the metric itself is checked each run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.eval import adherence, camera_accuracy, continuity, physics
from kinema.eval.models import GroundTruthModel, VideoModel, load_model
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
    spec: ModelSpec, oracle: GroundTruthModel, pipeline_options: dict[str, Any]
) -> dict[str, VideoModel]:
    """The model under test and the oracle (once, if the model *is* the oracle). `spec` is a model folder,
    a reference model's name, or a factory that builds a model over the oracle (for other backends).
    `physics` in the options: "both" = the model in plain and in physics mode side by side; "only" = physics
    mode alone."""
    options = dict(pipeline_options)
    physics = options.pop("physics", None)
    model = spec(oracle) if callable(spec) else load_model(spec, oracle, **options)
    if model is oracle:
        return {model.name: model}
    models: dict[str, VideoModel] = {}
    if physics is not None:
        if not hasattr(model, "with_physics"):
            raise InvalidInputError(f"{model.name} is a reference model; physics mode needs a model folder.")
        if physics == "both":
            models[model.name] = model
        model = model.with_physics()
    return {**models, model.name: model, FLOOR: oracle}


def _spec_name(spec: ModelSpec, models: dict[str, VideoModel]) -> str:
    return str(spec) if not callable(spec) else next(iter(models))


def run_physics(
    model_spec: ModelSpec,
    settings: physics.PhysicsSettings,
    out_dir: Path,
    pipeline_options: dict[str, Any] | None = None,
    progress: bool = True,
    cases: list[physics.PhysicsCase] | None = None,
) -> dict[str, Any]:
    """`cases` (built from `settings`) may be given to skip rebuilding them."""
    cases = cases if cases is not None else physics.build_cases(settings)
    oracle = physics.build_oracle(cases)
    models = _models(model_spec, oracle, pipeline_options or {})
    records, summaries, samples = {}, {}, {}
    for name, model in models.items():
        records[name], samples[name] = physics.evaluate_physics(model, cases, settings, progress)
        summaries[name] = physics.summarize(records[name])
    model_name = next(iter(models))
    header = run_header(
        "physics", _spec_name(model_spec, models), {**settings.to_json(), **(pipeline_options or {})}
    )
    payload = {**header, "summary": summaries, "records": records}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "physics.json", payload)
    # figures: error against initial velocity (ID band shaded), sample frames with parsed tracks
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
    floor = summaries.get(FLOOR, summaries[model_name])
    tables = [physics.summary_table(summaries[name], floor, name) for name in models if name != FLOOR]
    tables = tables or [physics.summary_table(floor, floor, model_name)]
    write_markdown(
        out_dir / "physics.md",
        "Physical-law benchmark",
        header,
        tables,
        ["physics_error_vs_velocity.png", "physics_samples.png"],
    )
    return payload


def run_adherence(
    model_spec: ModelSpec,
    settings: adherence.AdherenceSettings,
    out_dir: Path,
    pipeline_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    cases = adherence.build_cases(settings)
    oracle = adherence.build_oracle(cases)
    models = _models(model_spec, oracle, pipeline_options or {})
    records = {name: adherence.evaluate_adherence(m, cases, settings, progress) for name, m in models.items()}
    summaries = {name: adherence.summarize(rs) for name, rs in records.items()}
    header = run_header(
        "adherence", _spec_name(model_spec, models), {**settings.to_json(), **(pipeline_options or {})}
    )
    payload = {**header, "summary": summaries, "records": records}
    write_json(out_dir / "adherence.json", payload)
    plot_bars(
        out_dir / "adherence.png",
        "Prompt adherence",
        list(adherence.CHECKS),
        {name: [s[c] for c in adherence.CHECKS] for name, s in summaries.items()},
        "share of videos",
    )
    notes = _floor_notes(summaries.get(FLOOR, {}).get("all_ok", 1.0) < 1.0, "adherence", "64")
    write_markdown(
        out_dir / "adherence.md",
        "Prompt adherence",
        header,
        [adherence.summary_table(summaries)],
        ["adherence.png"],
        notes,
    )
    return payload


def run_camera(
    model_spec: ModelSpec,
    settings: camera_accuracy.CameraSettings,
    out_dir: Path,
    pipeline_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    cases = camera_accuracy.camera_cases(settings)
    oracle = camera_accuracy.build_oracle(cases)
    models = _models(model_spec, oracle, pipeline_options or {})
    records = {
        name: camera_accuracy.evaluate_camera(m, cases, settings, progress) for name, m in models.items()
    }
    header = run_header(
        "camera", _spec_name(model_spec, models), {**asdict(settings), **(pipeline_options or {})}
    )
    summary = {
        name: {
            "kind_accuracy": float(np.mean([r["kind_correct"] for r in rs])),
            "sign_accuracy": float(np.mean([r["sign_correct"] for r in rs])),
            "magnitude_error": float(np.mean([r["magnitude_error"] for r in rs])),
        }
        for name, rs in records.items()
    }
    payload = {**header, "summary": summary, "records": records}
    write_json(out_dir / "camera.json", payload)
    labels = [r["case"] for r in next(iter(records.values()))]
    values = {"expected": [r["expected"][_kind(r)] for r in next(iter(records.values()))]}
    values.update({name: [r["measured"][_kind(r)] for r in rs] for name, rs in records.items()})
    plot_bars(
        out_dir / "camera.png",
        "Camera motion on the expected kind",
        labels,
        values,
        "edge displacement / frame",
    )
    notes = _floor_notes(summary.get(FLOOR, {}).get("sign_accuracy", 1.0) < 1.0, "camera", "48")
    write_markdown(
        out_dir / "camera.md",
        "Camera accuracy",
        header,
        [camera_accuracy.summary_table(records)],
        ["camera.png"],
        notes,
    )
    return payload


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


def run_continuity(
    model_spec: ModelSpec,
    settings: continuity.ContinuitySettings,
    out_dir: Path,
    pipeline_options: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    cases = continuity.build_cases(settings)
    oracle = continuity.build_oracle(cases)
    models = _models(model_spec, oracle, pipeline_options or {})
    records, videos = {}, {}
    for name, model in models.items():
        records[name], videos[name] = continuity.evaluate_continuity(model, cases, settings, progress)
    summaries = {name: continuity.summarize(rs) for name, rs in records.items()}
    header = run_header(
        "continuity", _spec_name(model_spec, models), {**settings.to_json(), **(pipeline_options or {})}
    )
    payload = {**header, "summary": summaries, "records": records}
    write_json(out_dir / "continuity.json", payload)
    joins = settings.join_frames()
    frame_ids = sorted({0, *[j - 1 for j in joins], *joins, settings.total_frames - 1})
    plot_frame_strip(
        out_dir / "continuity_samples.png", [(name, v[0], None) for name, v in videos.items()], frame_ids
    )
    notes = _floor_notes(summaries.get(FLOOR, {}).get("all_present_at_end", 1.0) < 1.0, "continuity", "64")
    write_markdown(
        out_dir / "continuity.md",
        "Extension continuity",
        header,
        [continuity.summary_table(summaries)],
        ["continuity_samples.png"],
        notes,
    )
    return payload
