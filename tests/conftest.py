"""Settings for the whole test suite.

The tiny CPU models in these tests run fastest single-threaded, and CI's 2 cores are shared with the servers
and worker processes some tests start: with 2 OpenMP threads under load a tiny VAE decode took 2.1 s instead
of 0.07 s and a tiny DiT step 2.4 s instead of 0.05 s (measured). Subprocesses inherit the setting through
OMP_NUM_THREADS.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def signing_data_dir(tmp_path_factory, monkeypatch):
    """Where `kinema generate` keeps the installation's signing key (made on first use, every output being
    signed): a temporary folder, not the working directory."""
    path = tmp_path_factory.getbasetemp() / "kinema-data"
    monkeypatch.setenv("KINEMA_DATA_DIR", str(path))
    return path
