"""Training Kinema's models: `kinema train vae|dit --config configs/<recipe>.yaml`.

- `config.py`       every hyperparameter and default (typed dataclasses), strict YAML/JSON + `--set` loading
- `engine.py`       the `Trainer`: torchrun DDP / FSDP2, bf16 autocast on CUDA, accumulation, clipping, EMA,
                    LR schedule, atomic checkpoints with exact auto-resume, SIGTERM, export
- `train_vae.py`    the VAE job: L1 + KL (+ 3D patch GAN), held-out PSNR, latent normalisation on export
- `train_dit.py`    the DiT job: frozen VAE + text encoder, task mixing, model-folder export
- `conditioning.py` task mixing (t2v / first frame / continuation / keyframes, CFG, camera, trajectories)
- `streams.py`      batch streams whose position is saved in checkpoints
- `latent_cache.py` per-sample disk cache of latents and text embeddings
- `checkpoint.py`, `ema.py`, `logging.py` (JSONL / TensorBoard, tokens/s, MFU), `runner.py`
"""
