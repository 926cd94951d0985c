"""Exponential moving average of model weights (the weights that get exported).

The shadow copy is fp32 and lives on the parameters' device; under FSDP2 the parameters are DTensor shards
and the shadow holds matching shards, gathered to full tensors only when saved.
"""

from __future__ import annotations

import torch
from torch import nn


def _full(t: torch.Tensor) -> torch.Tensor:
    # DTensor (FSDP2 shard) -> full tensor on every rank; a plain tensor is returned as is.
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        params = dict(model.named_parameters())
        self.shadow = [params[n].detach().clone().float() for n in self.names]

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        # Warm-up as in timm/diffusers EMA: short memory at the start so the average tracks training.
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        params = dict(model.named_parameters())
        d = self.current_decay()
        current = [params[n].detach().float() for n in self.names]
        # shadow <- d * shadow + (1 - d) * param
        torch._foreach_lerp_(self.shadow, current, 1.0 - d)
        self.num_updates += 1

    def full_state_dict(self, strip_prefix: str = "") -> dict[str, torch.Tensor]:
        """Name -> full fp32 tensor on CPU (collective under FSDP: every rank must call it)."""
        out = {}
        for n, t in zip(self.names, self.shadow):
            key = n[len(strip_prefix) :] if strip_prefix and n.startswith(strip_prefix) else n
            out[key] = _full(t).detach().cpu().contiguous()
        return out

    def load_full_state_dict(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        for i, n in enumerate(self.names):
            if n not in state:
                raise KeyError(f"EMA state lacks {n}")
            target = self.shadow[i]
            src = state[n].to(dtype=torch.float32)
            if hasattr(target, "full_tensor"):  # DTensor: take this rank's shard of the full tensor
                from torch.distributed.tensor import distribute_tensor

                self.shadow[i] = distribute_tensor(
                    src.to(target.device), target.device_mesh, target.placements
                )
            else:
                target.copy_(src.to(target.device))
        self.num_updates = num_updates

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        params = dict(model.named_parameters())
        for n, t in zip(self.names, self.shadow):
            params[n].copy_(t.to(params[n].dtype))
