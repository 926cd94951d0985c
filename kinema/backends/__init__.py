"""Backends: the one seam every caller uses. `GenerationSpec` in, `VideoBackend.generate` out.

| file        | what                                                                    |
|-------------|-------------------------------------------------------------------------|
| base.py     | `GenerationSpec`, `VideoBackend` (capabilities as class data), `ModelFacts`, outputs |
| kinema.py   | Kinema's own model folders (kinema.json + vae/ + transformer/)          |
| loader.py   | a model folder → its backend (`read_facts` without torch, `load_backend`, `BackendCache`) |
"""

from kinema.backends.base import (
    OPTIONAL_INPUTS,
    TASKS,
    GenerationResult,
    GenerationSpec,
    ModelFacts,
    Output,
    VideoBackend,
)
from kinema.backends.loader import BackendCache, backend_class, load_backend, read_facts

__all__ = [
    "OPTIONAL_INPUTS",
    "TASKS",
    "BackendCache",
    "GenerationResult",
    "GenerationSpec",
    "ModelFacts",
    "Output",
    "VideoBackend",
    "backend_class",
    "load_backend",
    "read_facts",
]
