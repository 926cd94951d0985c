"""The test machine's CPU is shared: with two OpenMP threads on a loaded machine a tiny DiT step takes
seconds instead of milliseconds (measured 2.4 s vs 0.05 s), so the training tests run single-threaded."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
