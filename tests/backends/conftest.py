import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # backend_suite.py, shared by every backend's tests


@pytest.fixture(autouse=True)
def signing_data_dir(tmp_path_factory, monkeypatch):
    """Where `kinema generate` keeps the installation's signing key (made on first use, every output being
    signed): a temporary folder, not the working directory."""
    path = tmp_path_factory.getbasetemp() / "kinema-data"
    monkeypatch.setenv("KINEMA_DATA_DIR", str(path))
    return path
