"""Camera accuracy: does the generated background move the way the camera control asked?

For each of Kling's six axes (both signs) and the four presets, the model makes a clip of a scene over a
textured background; `kinema.eval.motion` measures the global motion of the result (patch phase correlation
+ similarity fit: x / y translation, zoom, roll). The *expected* motion comes from the world camera's true
per-frame homographies (`kinema.world.camera.camera_homographies`), reduced to the same four numbers by the
same fit, so expected and measured are in one unit (edge displacement per frame, see `motion.py`).

Per clip:
- `kind_correct`: the strongest measured motion kind (x, y, zoom, roll) is the strongest expected one
  (horizontal and tilt both slide the image sideways; vertical and pan slide it up/down);
- `sign_correct`: that, and the sign of that kind agrees; `all_signs_correct`: every kind with at least a
  quarter of the strongest expected motion has the right sign (what matters for the mixed presets);
- `magnitude_error`: |measured − expected| on the expected kind, and `relative_error` over |expected|.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from kinema.eval.model_under_test import CameraRequest, GroundTruthModel, VideoModel
from kinema.eval.motion import MOTION_KINDS, expected_video_motion, video_motion
from kinema.eval.report import Table, nanmean
from kinema.world import camera as world_camera
from kinema.world.spec import CAMERA_AXES, CAMERA_PRESETS, BackgroundSpec, CameraSpec, ObjectSpec, SceneSpec


@dataclass(frozen=True)
class CameraSettings:
    """Everything that decides a camera-accuracy run (saved in the report)."""

    size: int = 64
    num_frames: int = 17
    value: float = 10.0  # |Kling value| for the single-axis clips
    stride: int = 2  # measure motion between frames this far apart
    presets: bool = True
    seed: int = 0


@dataclass
class CameraCase:
    name: str  # "pan+10", "zoom-10", "preset:down_back"
    request: CameraRequest
    spec: SceneSpec
    prompt: str


def camera_cases(settings: CameraSettings) -> list[CameraCase]:
    """One clip per axis and sign, plus one per preset, each on a textured background."""
    rng = np.random.default_rng(settings.seed)
    requests: list[tuple[str, CameraRequest, CameraSpec]] = []
    for axis in CAMERA_AXES:
        for sign in (1.0, -1.0):
            value = sign * settings.value
            requests.append(
                (f"{axis}{value:+g}", CameraRequest("simple", ((axis, value),)), CameraSpec(**{axis: value}))
            )
    if settings.presets:
        for preset in CAMERA_PRESETS:
            requests.append((f"preset:{preset}", CameraRequest(preset), CameraSpec(preset=preset)))
    cases = []
    for name, request, cam in requests:
        spec = SceneSpec(
            objects=[ObjectSpec(shape="circle", color="red", size=1.0, position=(5.0, 5.0))],
            width=settings.size,
            height=settings.size,
            num_frames=settings.num_frames,
            background=BackgroundSpec(kind="noise", cell=0.5, seed=int(rng.integers(0, 2**31 - 1))),
            camera=cam,
            scenario="camera",
        )
        cases.append(CameraCase(name, request, spec, _caption(spec, rng)))
    return cases


def _caption(spec: SceneSpec, rng: np.random.Generator) -> str:
    from kinema.world.captions import caption

    return caption(spec, rng)


def render_ground_truth(case: CameraCase) -> np.ndarray:
    """The world renderer's clip for a case: (T, H, W, 3) uint8."""
    from kinema.eval.physics import render_spec

    return render_spec(case.spec)


def expected_motion(spec: SceneSpec, stride: int) -> np.ndarray:
    """(N, 4) expected per-frame edge displacement for the spec's camera."""
    hs = world_camera.camera_homographies(
        spec.camera, spec.num_frames, spec.fps, spec.world_size, spec.width, spec.height
    )
    return expected_video_motion(hs, spec.width, spec.height, stride)


def score_motion(measured: np.ndarray, expected: np.ndarray) -> dict[str, Any]:
    """Compare mean measured and expected motion (4,) each: kind, sign and magnitude."""
    m, e = measured.mean(0), expected.mean(0)
    k_exp, k_meas = int(np.argmax(np.abs(e))), int(np.argmax(np.abs(m)))
    kind_ok = k_exp == k_meas
    return {
        "expected": e.tolist(),
        "measured": m.tolist(),
        "expected_kind": MOTION_KINDS[k_exp],
        "measured_kind": MOTION_KINDS[k_meas],
        "kind_correct": bool(kind_ok),
        "sign_correct": bool(kind_ok and np.sign(m[k_exp]) == np.sign(e[k_exp])),
        # presets mix kinds: every kind with at least a quarter of the strongest expected motion must agree
        "all_signs_correct": bool(
            all(np.sign(m[k]) == np.sign(e[k]) for k in np.flatnonzero(np.abs(e) >= 0.25 * np.abs(e).max()))
        ),
        "magnitude_error": float(abs(m[k_exp] - e[k_exp])),
        "relative_error": float(abs(m[k_exp] - e[k_exp]) / max(abs(e[k_exp]), 1e-9)),
    }


def build_oracle(cases: list[CameraCase], oracle: GroundTruthModel | None = None) -> GroundTruthModel:
    oracle = oracle or GroundTruthModel()
    for case in cases:
        oracle.add_clip(render_ground_truth(case), prompt=case.prompt, camera=case.request)
    return oracle


def evaluate_camera(
    model: VideoModel, cases: list[CameraCase], settings: CameraSettings, progress: bool = True
) -> list[dict[str, Any]]:
    records = []
    for i, case in enumerate(tqdm(cases, desc=f"camera [{model.name}]", disable=not progress)):
        video = model.camera_video(
            case.prompt,
            case.request,
            settings.num_frames,
            settings.size,
            settings.size,
            seed=settings.seed + i,
        )
        scores = score_motion(
            video_motion(video, stride=settings.stride), expected_motion(case.spec, settings.stride)
        )
        records.append(
            {
                "case": case.name,
                "seed": settings.seed + i,
                "prompt": case.prompt,
                "camera": case.request.as_dict(),
                **scores,
            }
        )
    return records


def summary_table(records_by_model: dict[str, list[dict[str, Any]]]) -> Table:
    table = Table(
        "Camera accuracy (edge displacement per frame)",
        [
            "model",
            "case",
            "expected kind",
            "measured kind",
            "kind ok",
            "sign ok",
            "expected",
            "measured",
            "|error|",
        ],
    )
    for model, records in records_by_model.items():
        for r in records:
            k = MOTION_KINDS.index(r["expected_kind"])
            table.rows.append(
                [
                    model,
                    r["case"],
                    r["expected_kind"],
                    r["measured_kind"],
                    "yes" if r["kind_correct"] else "no",
                    "yes" if r["sign_correct"] else "no",
                    float(r["expected"][k]),
                    float(r["measured"][k]),
                    float(r["magnitude_error"]),
                ]
            )
        table.rows.append(
            [
                model,
                "**all**",
                "",
                "",
                f"{nanmean(float(r['kind_correct']) for r in records):.0%}",
                f"{nanmean(float(r['sign_correct']) for r in records):.0%}",
                "",
                "",
                nanmean(r["magnitude_error"] for r in records),
            ]
        )
    return table
