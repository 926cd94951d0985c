"""The physics world: Kinema's own training and benchmark videos, and the parser that measures videos.

- `spec.py` — `SceneSpec` and its parts (objects, walls, background, camera), validated.
- `paper.py` — the seed paper's uniform / collision / parabola scenes in closed form, with ID/OOD sampling.
- `simulate.py` — pymunk for any `SceneSpec` (states + collision/bounce events).
- `camera.py` — Kling's six camera axes and presets → per-frame homographies and the (T, 6) vector.
- `render.py` — batched soft-edged renderer over flat or textured backgrounds, with ground truth.
- `captions.py` — varied captions stated from the spec.
- `parser.py` — colour-threshold (paper) and shape-aware object tracks from frames or MP4s.
- `vocabulary.py` — the words the prompt reader knows (the captioner's, plus synonyms and glue) as tables.
- `prompt.py` — text prompt → `SceneSpec` (the captioner's words read back), with a report of what it
  did not understand; `state.py` — frames → object states (for image-to-video and extension);
  `grounding.py` — simulate a spec → the dataset's `(K, T, 3)` tracks, and `plan_from_prompt` joining all three.
- `planner.py` — physics mode's motion planner: prompt/frames → simulated tracks for the DiT's trajectory
  map, and the candidate whose parsed tracks follow them best.
- `dataset.py` — `WorldClipDataset` (on the fly); `make.py` — `kinema world make` (MP4 shards + JSONL).
"""
