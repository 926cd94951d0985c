"""A disk cache of encoded training samples, so DiT training need not re-run the frozen VAE / text encoder.

One safetensors file per sample index (`<cache_dir>/<key>/00000042.safetensors`) holding `latents`
(C, t, h, w) (the posterior mode, normalised), `text` (L, D), `text_mask` (L,), `camera` (t, 6) and
`trajectory` (3, t, h, w). Filled lazily the first time an index is drawn, each file written atomically
(temp name + os.replace), so a killed run loses nothing and ranks never see half a file. `<key>` hashes
everything that decides the content (data section, VAE folder and its config, text encoder), so a changed
recipe never reads stale latents.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def cache_key(parts: dict[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class LatentCache:
    def __init__(self, root: str | Path, key_parts: dict[str, Any]):
        self.key = cache_key(key_parts)
        self.dir = Path(root) / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "key.json"
        if not meta.exists():
            tmp = meta.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(key_parts, sort_keys=True, indent=1, default=str))
            os.replace(tmp, meta)

    def path(self, index: int) -> Path:
        return self.dir / f"{index:08d}.safetensors"

    def get(self, index: int) -> dict[str, torch.Tensor] | None:
        path = self.path(index)
        if not path.exists():
            return None
        try:
            return load_file(str(path))
        except Exception:  # a file damaged outside our control: recompute it
            return None

    def put(self, index: int, tensors: dict[str, torch.Tensor]) -> None:
        path = self.path(index)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, path)

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("*.safetensors"))
