"""Benchmark: naming a model by hub id and loading a single-file transformer, against the plain folder.

Declared scenario: the tests' tiny random-weight Wan 2.1 T2V folder (`tests/backends/tiny_diffusers.py`),
put into a Hugging Face cache in a temporary folder the way huggingface_hub lays it out (blobs, snapshot
symlinks, refs/main; `tests/backends/hub_cache.py`), this process run with HF_HUB_OFFLINE=1 and HF_HOME
there (set before huggingface_hub is imported: the real environment path). fp32, CPU, 1 thread, 48×48×9,
2 steps, seed 1. Reported, median over `--repeats`:
  resolve      `resolve_model(...)`: a folder path vs `org/name` (refs/main → snapshot) vs `org/name@<commit>`
  load + run   `load_backend(...)` + one text→video, same model by folder and by hub id; frames identical?
  single file  the transformer replaced by a ComfyUI-style file (original key names) as .safetensors and as
               .gguf (Q8_0 where rows split into 32-blocks, F32 elsewhere): file bytes, load + run seconds,
               frame difference from the folder's own transformer (levels of 255).

    python benchmarks/bench_hub.py                 # Markdown table
    python benchmarks/bench_hub.py --repeats 7 --json hub.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))  # the tiny builders and cache layout the tests use
TMP = Path(tempfile.mkdtemp(prefix="kinema-bench-hub-"))
os.environ.update(HF_HOME=str(TMP / "hf"), HF_HUB_CACHE=str(TMP / "hf" / "hub"), HF_HUB_OFFLINE="1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ID, COMMIT = "kinema-bench/wan-tiny", "0123456789abcdef0123456789abcdef01234567"


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def load_and_run(name: str | Path, **load) -> tuple[float, np.ndarray]:
    from kinema.backends import GenerationSpec, load_backend

    t = time.perf_counter()
    backend = load_backend(name, **load)
    frames = backend.generate(GenerationSpec(prompt="a red ball", num_inference_steps=2, seed=1)).frames
    return time.perf_counter() - t, frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    import safetensors.torch
    from hub_cache import put_snapshot
    from single_file import original_wan_state, write_gguf
    from tiny_diffusers import wan_folder

    from kinema.backends.hub import resolve_model

    folder = wan_folder(TMP / "wan", "t2v")
    put_snapshot(TMP / "hf" / "hub", REPO_ID, folder, COMMIT)
    rows: list[dict] = []
    for label, name in (("folder", folder), ("hub id", REPO_ID), ("hub id @commit", f"{REPO_ID}@{COMMIT}")):
        rows.append({"measure": f"resolve: {label}", "ms": median_ms(lambda n=name: resolve_model(n), 50)})
    runs: dict[str, list[float]] = {}
    frames: dict[str, np.ndarray] = {}
    state = original_wan_state(
        safetensors.torch.load_file(folder / "transformer" / "diffusion_pytorch_model.safetensors")
    )
    single = TMP / "wan_t2v.safetensors"
    safetensors.torch.save_file(state, single)
    gguf = write_gguf(state, TMP / "wan_t2v_q8_0.gguf")
    cases = {
        "folder": (folder, {}),
        "hub id": (REPO_ID, {}),
        "hub id + .safetensors transformer": (REPO_ID, {"transformer": single}),
        "hub id + .gguf transformer": (REPO_ID, {"transformer": gguf}),
    }
    for _ in range(args.repeats):
        for label, (name, load) in cases.items():
            seconds, frames[label] = load_and_run(name, **load)
            runs.setdefault(label, []).append(seconds)
    sizes = {
        "folder": (folder / "transformer" / "diffusion_pytorch_model.safetensors").stat().st_size,
        "hub id + .safetensors transformer": single.stat().st_size,
        "hub id + .gguf transformer": gguf.stat().st_size,
    }
    for label in cases:
        diff = np.abs(frames[label].astype(int) - frames["folder"])
        rows.append(
            {
                "measure": f"load + run: {label}",
                "s": statistics.median(runs[label]),
                "transformer bytes": sizes.get(label, sizes["folder"]),
                "mean |diff|": float(diff.mean()),
                "max |diff|": int(diff.max()),
            }
        )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, offline cache in {TMP}\n")
    print("| measure | median | transformer bytes | frames vs folder: mean / max |diff| |")
    print("|---|---:|---:|---|")
    for r in rows:
        if "ms" in r:
            print(f"| {r['measure']} | {r['ms']:.2f} ms | | |")
        else:
            print(
                f"| {r['measure']} | {r['s']:.2f} s | {r['transformer bytes']:,} | "
                f"{r['mean |diff|']:.3f} / {r['max |diff|']} |"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
