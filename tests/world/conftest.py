"""The test machine's cores are shared: single-threaded torch avoids OpenMP spinning under load (see
tests/models/conftest.py, where it made tiny models ~30x faster)."""

import torch

torch.set_num_threads(1)
