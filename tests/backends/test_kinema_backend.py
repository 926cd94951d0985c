"""Kinema's own model folders through the shared backend suite, and what is particular to them."""

from __future__ import annotations

import pytest
from backend_suite import BackendSuite

from kinema.backends import GenerationSpec, load_backend, read_facts
from kinema.backends.kinema import KinemaBackend
from kinema.errors import InvalidInputError, ModelNotFoundError
from kinema.pipelines.model_folder import create_random_model_folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return create_random_model_folder(tmp_path_factory.mktemp("kinema") / "tiny", preset="tiny", seed=0)


@pytest.fixture(scope="module")
def backend(model_dir):
    return load_backend(model_dir)


@pytest.fixture
def fast():
    return {"num_inference_steps": 2}


class TestKinemaBackend(BackendSuite):
    pass


def test_worker_extension_streams_into_the_job_file_with_flat_memory(model_dir, backend, tmp_path):
    """The server's path: a stored extend job → the worker's spec → the backend writes the job's MP4 as it
    goes; peak Python memory for 10 chunks stays within 1.2x of one chunk (it held every frame before)."""
    import gc
    import tracemalloc
    from types import SimpleNamespace

    from backend_suite import clip

    from kinema.io import read_video, write_video
    from kinema.serving.registry import ModelRegistry
    from kinema.serving.settings import ServeSettings
    from kinema.serving.storage import Storage
    from kinema.serving.worker import Worker

    storage = Storage(tmp_path)
    registry = ModelRegistry.discover(None, [model_dir])
    worker = Worker(None, storage, registry, None, ServeSettings(data_dir=tmp_path))
    f = backend.facts

    def run(job_id: str, add: int) -> int:
        write_video(
            storage.input_path(job_id, "source.mp4"), clip(f.num_frames, f.height, f.width), fps=f.fps
        )
        params = {"width": f.width, "height": f.height, "num_frames": add, "fps": int(f.fps),
                  "num_inference_steps": 1, "source_video": "source.mp4"}  # fmt: skip
        job = SimpleNamespace(id=job_id, model=registry.default, task="extend", prompt="", params=params)
        spec, _ = worker.build_spec(job, lambda *a: True)
        gc.collect()
        tracemalloc.start()
        try:
            backend.generate(spec)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    run("video_warm", f.num_frames)
    short = run("video_short", f.num_frames)
    long = run("video_long", 10 * f.num_frames)
    assert long <= 1.2 * short, (short, long)
    frames, _ = read_video(storage.output_path("video_long", "video"))
    assert len(frames) == 11 * f.num_frames  # the source, then ten chunks' worth


def test_facts_are_read_without_torch(model_dir):
    import subprocess
    import sys

    code = (
        "import sys; from kinema.backends import read_facts; "
        f"f = read_facts({str(model_dir)!r}); "
        "print(f.width, f.height, f.num_frames, f.size_multiple, f.temporal_compression, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["32", "32", "9", "8", "4", "False"]  # the tiny VAE is 4x4 in space, 2x2 patches


def test_every_mode_shares_one_load(model_dir):
    backend = load_backend(model_dir)
    backend.generate(GenerationSpec(prompt="a", num_inference_steps=1))
    backend.generate(GenerationSpec(task="t2i", prompt="a", num_inference_steps=1))
    pipes = backend._pipes
    assert set(pipes) == {"t2v", "t2i"} and pipes["t2v"].transformer is pipes["t2i"].transformer


def test_physics_is_refused_until_the_backend_honours_it(model_dir):
    backend = load_backend(model_dir)
    if "physics" in backend.options:
        pytest.skip("the Kinema backend honours physics")
    with pytest.raises(InvalidInputError, match="does not support physics"):
        backend.generate(GenerationSpec(prompt="a red ball", physics=True))


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no kinema.json"):
        read_facts(tmp_path)
    with pytest.raises(ModelNotFoundError, match="No model folder"):
        load_backend(tmp_path / "missing")


def test_image_output_only_for_text_to_image(model_dir, tmp_path):
    backend = load_backend(model_dir)
    with pytest.raises(InvalidInputError, match="only text → image writes images"):
        backend.generate(GenerationSpec(prompt="a", output_path=tmp_path / "x.png"))
    with pytest.raises(InvalidInputError, match=r"use an \.mp4"):
        backend.generate(GenerationSpec(prompt="a", output_path=tmp_path / "x.gif"))
    assert not list(tmp_path.iterdir())
    assert isinstance(backend, KinemaBackend) and backend.facts.rules.native_width == 32
