"""`kinema eval`: measure a video model.

    kinema eval physics    --model PATH --scenario uniform|collision|parabola|all --split id|ood|all --n N
    kinema eval adherence  --model PATH --n N
    kinema eval camera     --model PATH
    kinema eval continuity --model PATH --chunks K
    kinema eval codec      --model PATH [--size 64] [--n 8] [--quick]

`kinema eval codec` measures a model's VAE alone (encode -> decode): the paper's parser on the round trip
against the floor, every colour x shape x size kept or lost, PSNR, encode/decode time (`kinema.eval.codec`).

`--model` is a Kinema model folder, or one of the reference models `ground-truth`, `frozen`, `reversed`,
`wrong-colour` (no weights needed; they show what a perfect and a broken model score). Every run also
measures the ground truth through the same code (for physics: the parser floor) and writes
`<benchmark>.json`, `<benchmark>.md` and PNG figures to `--out`. `--quick` runs a small seeded subset;
`--from-json REPORT` reruns a report's exact settings and seeds.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from kinema.errors import InvalidInputError

BENCHMARKS = ("physics", "adherence", "camera", "continuity")


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "eval", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    bench = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")

    def common(p: argparse.ArgumentParser, size: int, n: int | None, what: str = "clips") -> None:
        p.add_argument(
            "--model",
            help="model folder, or ground-truth | frozen | reversed | wrong-colour, or codec:<model or VAE "
            "folder> (the ground truth through that codec: the codec's own share of the error)",
        )
        p.add_argument(
            "--size", type=int, default=None, help=f"frame width and height in pixels (default {size})"
        )
        if n is not None:
            p.add_argument(
                "--n", type=int, default=None, help=f"number of clips (default {n}; --quick: fewer)"
            )
        p.add_argument(
            "--seed", type=int, default=None, help="seed of the test cases and the model (default 0)"
        )
        p.add_argument(
            "--quick", action="store_true", help="a small seeded subset that runs in minutes on a CPU"
        )
        p.add_argument(
            "--out", type=Path, default=None, help="output folder (default eval-results/<benchmark>-<model>)"
        )
        p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
        p.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
        p.add_argument("--device", default=None, help="torch device for a model folder (default cpu)")
        p.add_argument(
            "--from-json", type=Path, default=None, help="rerun the settings and seeds of a report"
        )
        p.add_argument(
            "--physics",
            nargs="?",
            const="both",
            choices=("both", "only"),
            help="physics-grounded mode (the simulator decides the motion): 'both' (default) measures the model "
            "plain and in physics mode side by side, 'only' physics mode alone",
        )
        p.add_argument(
            "--physics-candidates",
            type=int,
            default=None,
            help="physics mode: draw N candidates per clip and keep the one closest to the simulation",
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = bench.add_parser("physics", help="physical-law benchmark (phyworld protocol) with the parser floor")
    common(p, 128, 32, "clips per scenario and split")
    p.add_argument("--scenario", default="all", help="uniform | collision | parabola | all (default all)")
    p.add_argument("--split", default="all", help="id | ood | all (default all)")
    p.add_argument(
        "--cond-frames",
        type=int,
        default=None,
        help="frames given to the model (default 3, the paper's; a Kinema model conditions on the last 1 + 4k "
        "of them, so 5 gives it motion to continue)",
    )
    p = bench.add_parser("adherence", help="prompt adherence: colour, shape, count, direction")
    common(p, 64, 24)
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 17)")
    p = bench.add_parser("camera", help="camera accuracy: axis, sign and magnitude of background motion")
    common(p, 64, None)
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 17)")
    p.add_argument(
        "--value", type=float, default=None, help="|Kling value| of the single-axis clips (default 10)"
    )
    p = bench.add_parser("continuity", help="extension continuity: velocity at chunk joins, objects kept")
    common(p, 64, 4)
    p.add_argument("--chunks", type=int, default=None, help="extension calls per clip (default 4)")
    p.add_argument("--chunk-frames", type=int, default=None, help="frames per call (default 17)")
    p = bench.add_parser(
        "trajectory", help="trajectory following: distance from the asked path per speed band (motion brush)"
    )
    common(p, 64, 8, "cases per speed band")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 33)")
    p = bench.add_parser(
        "codec", help="the VAE alone: parser error of its round trip vs the floor, colours/shapes/sizes kept"
    )
    p.add_argument("--model", help="model folder, VAE folder (Kinema or diffusers), ground-truth or blur")
    p.add_argument("--size", type=int, default=None, help="frame width and height in pixels (default 64)")
    p.add_argument("--n", type=int, default=None, help="paper clips per scenario and split (default 8)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip, 1 + 4k (default 33)")
    p.add_argument("--seed", type=int, default=None, help="seed of the clips (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer paper clips and three object sizes")
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default eval-results/codec-<model>)"
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--from-json", type=Path, default=None, help="rerun the settings of a codec report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, _parser=parser)


# What --quick changes (small, seeded subsets; everything else stays the paper's protocol).
QUICK: dict[str, dict[str, Any]] = {
    "physics": {"n": 2},
    "adherence": {"n": 4},
    "camera": {"presets": False, "num_frames": 9},
    "continuity": {"n": 1, "chunks": 3},
    "trajectory": {"n": 2},
}


PIPELINE_OPTIONS = ("num_inference_steps", "guidance_scale", "device", "physics", "physics_candidates")


def _settings(args: argparse.Namespace) -> tuple[str, Any, dict[str, Any]]:
    """(model spec, settings dataclass, pipeline options) from a report (--from-json) or the flags."""
    from kinema.eval import adherence, camera_accuracy, continuity, physics, trajectory

    classes = {
        "physics": physics.PhysicsSettings,
        "adherence": adherence.AdherenceSettings,
        "camera": camera_accuracy.CameraSettings,
        "continuity": continuity.ContinuitySettings,
        "trajectory": trajectory.TrajectorySettings,
    }
    cls = classes[args.benchmark]
    names = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    model = args.model
    if args.from_json is not None:
        report = read_report(args.from_json, args.benchmark)
        values = {
            k: tuple(v) if isinstance(v, list) else v for k, v in report["settings"].items() if k in names
        }
        options = {k: v for k, v in report["settings"].items() if k in PIPELINE_OPTIONS}
        model = model or report["model"]
    elif args.quick:
        values.update(QUICK[args.benchmark])
    flag_map = {
        "size": "size",
        "n": "n",
        "seed": "seed",
        "cond_frames": "cond_frames",
        "frames": "num_frames",
        "value": "value",
        "chunks": "chunks",
        "chunk_frames": "chunk_frames",
    }
    for flag, name in flag_map.items():
        if getattr(args, flag, None) is not None:
            values[name] = getattr(args, flag)
    if args.benchmark == "physics" and args.from_json is None:
        values["scenarios"] = _choice(args.scenario, physics.SCENARIOS, "--scenario")
        values["splits"] = _choice(args.split, physics.SPLITS, "--split")
    if not model:
        raise InvalidInputError(
            "give --model: a Kinema model folder or ground-truth | frozen | reversed | wrong-colour"
        )
    for flag, name in (
        ("steps", "num_inference_steps"),
        ("guidance", "guidance_scale"),
        ("device", "device"),
        ("physics", "physics"),
        ("physics_candidates", "physics_candidates"),
    ):
        if getattr(args, flag) is not None:
            options[name] = getattr(args, flag)
    return model, cls(**values), options


def read_report(path: Path, benchmark: str) -> dict[str, Any]:
    """A report JSON of `benchmark` (for --from-json); a clear error for anything else."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the report {path}: {exc}; give a report JSON") from None
    if not isinstance(report, dict) or report.get("benchmark") != benchmark:
        found = report.get("benchmark") if isinstance(report, dict) else None
        raise InvalidInputError(f"{path} is a {found!r} report; use `kinema eval {found}`")
    return report


def _choice(value: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    if value == "all":
        return allowed
    if value not in allowed:
        raise InvalidInputError(f"{flag} {value!r} is unknown; use one of {', '.join(allowed)} or all")
    return (value,)


def run(args: argparse.Namespace) -> int:
    from kinema.eval import runner

    if not getattr(args, "benchmark", None):
        args._parser.print_help()
        return 2
    if args.benchmark == "codec":
        return run_codec(args)
    model, settings, options = _settings(args)
    out = args.out or Path("eval-results") / f"{args.benchmark}-{Path(model).name}"
    payload = runner.run_benchmark(
        runner.BENCHMARKS[args.benchmark], model, settings, out, options, progress=not args.no_progress
    )
    print(f"kinema eval {args.benchmark}: wrote {out}/{args.benchmark}.json, .md and figures")
    for name, summary in payload["summary"].items():
        print(f"  {name}: {json.dumps(summary, default=str)[:400]}")
    return 0


def run_codec(args: argparse.Namespace) -> int:
    from kinema.eval import codec

    model, values = args.model, {}
    if args.from_json is not None:
        report = read_report(args.from_json, "codec")
        values = codec.CodecSettings.from_json(report["settings"]).to_json()
        model = model or report["model"]
    elif args.quick:
        values.update(codec.QUICK)
    for flag, name in (("size", "size"), ("n", "n"), ("frames", "num_frames"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            values[name] = getattr(args, flag)
    if not model:
        raise InvalidInputError("give --model: a model folder, a VAE folder, ground-truth or blur")
    settings = codec.CodecSettings.from_json(values)
    out = args.out or Path("eval-results") / f"codec-{Path(model).name}"
    payload = codec.run_codec(model, settings, out, device=args.device, progress=not args.no_progress)
    print(f"kinema eval codec: wrote {out}/codec.json and codec.md")
    for row in payload["summary"]["paper"]:
        print(
            f"  {row['scenario']} {row['split']}: velocity error {row['velocity_error']:.4f} "
            f"(floor {row['floor_velocity_error']:.4f}, {row['ratio']:.2f}x), PSNR {row['psnr']:.1f} dB"
        )
    t = payload["summary"]["targets"]
    print(
        f"  objects: {t['cells_met']} of {t['cells']} colour x shape x size cells kept (worst survival "
        f"{100 * t['survival_min']:.0f} %, worst centre error {t['centre_error_max_px']:.2f} px); "
        f"PSNR plain {payload['summary']['psnr']['plain']:.1f} dB, textured {payload['summary']['psnr']['textured']:.1f} dB"
    )
    return 0
