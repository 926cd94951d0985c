import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # backend_suite.py, shared by every backend's tests

from hub_cache import hf_cache  # noqa: E402, F401 (a fixture: a Hugging Face cache laid out offline)
