"""Tiny CPU models run fastest single-threaded, and the test machine's cores are shared: with 2 threads
under load, OpenMP spinning made the tiny VAE ~30x slower (measured 2.1 s vs 0.07 s per decode)."""

import torch

torch.set_num_threads(1)
