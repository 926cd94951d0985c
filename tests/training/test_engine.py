"""The engine on a deterministic toy job: DDP equivalence, FSDP, exact resume, resume after SIGKILL."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import torch

from kinema.training import checkpoint as ckpt
from kinema.training.engine import lr_factor

sys.path.insert(0, str(Path(__file__).parent))
from toy_train import ToyNet, run_toy  # noqa: E402
from toy_train import main as toy_main  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, argv: list[str], env: dict[str, str]) -> None:
    os.environ.update(env)
    if world_size > 1:
        os.environ.update(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world_size),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
    toy_main(argv)


def _run_ranks(
    run_dir: Path, world_size: int, *overrides: str, env: dict | None = None, timeout: float = 120
) -> None:
    """Start `world_size` processes the way torchrun does (RANK / WORLD_SIZE / MASTER_* in the env).

    Forked from the test process (torch is already imported there: a fresh interpreter spends ~10 s
    importing torch on a loaded CPU); each rank sets the torchrun variables, then joins the group."""
    ctx = multiprocessing.get_context("fork")
    port = _free_port()
    procs = [
        ctx.Process(target=_rank_main, args=(r, world_size, port, [str(run_dir), *overrides], env or {}))
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    for p in procs:
        if p.is_alive():
            p.kill()
        assert p.exitcode == 0, f"rank exited with {p.exitcode}"


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _close(a: dict, b: dict, **tol) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **tol)


def test_ddp_and_fsdp_two_processes_match_one_process_with_double_batch(tmp_path):
    # One launch of two ranks runs a DDP job, then an FSDP2 job, each with batch 4 per rank.
    _run_ranks(tmp_path / "two", 2, "train.batch_size=4", "train.steps=4", env={"TOY_MODES": "ddp,fsdp"})
    one = run_toy(tmp_path / "one", ["train.batch_size=8", "train.steps=4"])
    ddp = torch.load(tmp_path / "two" / "ddp" / "final_params.pt")
    fsdp = torch.load(tmp_path / "two" / "fsdp" / "final_params.pt")
    _close(one, ddp, rtol=1e-5, atol=1e-6)
    _close(one, fsdp, rtol=1e-4, atol=1e-5)
    # Same global batches -> same (all-reduced) loss curve; and training moved the weights.
    assert _losses(tmp_path / "one") == pytest.approx(_losses(tmp_path / "two" / "ddp"), rel=1e-5)
    assert ckpt.latest_checkpoint(tmp_path / "two" / "fsdp").name == "step_00000004"
    assert not torch.allclose(ToyNet().head.weight, one["head.weight"])
    # FSDP checkpoints and EMA exports hold full (unsharded) tensors.
    exported = torch.load(tmp_path / "two" / "fsdp" / "export" / "weights.pt")
    assert exported["blocks.0.weight"].shape == (16, 8)


def test_grad_accumulation_matches_bigger_batch(tmp_path):
    big = run_toy(tmp_path / "big", ["train.batch_size=8"])
    acc = run_toy(tmp_path / "acc", ["train.batch_size=4", "train.grad_accum=2"])
    _close(big, acc, rtol=1e-5, atol=1e-6)


def test_resume_reproduces_uninterrupted_loss_curve_exactly(tmp_path):
    full = run_toy(tmp_path / "full", ["train.steps=8"], noise=True)  # the loss draws from the step generator
    run_toy(tmp_path / "cut", ["train.steps=8", "train.ckpt_every=3"], noise=True)
    for step, path in ckpt.list_checkpoints(tmp_path / "cut"):
        if step > 3:  # as if the run had died right after its step-3 checkpoint
            shutil.rmtree(path)
    assert ckpt.latest_checkpoint(tmp_path / "cut").name == "step_00000003"
    cut = run_toy(tmp_path / "cut", ["train.steps=8", "train.ckpt_every=3"], noise=True)
    assert _losses(tmp_path / "cut") == _losses(tmp_path / "full")  # exact, not approximately
    for k in full:
        assert torch.equal(full[k], cut[k])
    # EMA weights (the export) are restored too.
    e1 = torch.load(tmp_path / "full" / "export" / "weights.pt")
    e2 = torch.load(tmp_path / "cut" / "export" / "weights.pt")
    for k in e1:
        assert torch.equal(e1[k], e2[k])


def test_sigkill_mid_run_then_resume_finishes(tmp_path):
    run_dir = tmp_path / "killed"
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(
        target=_rank_main,
        args=(0, 1, 0, [str(run_dir), "train.steps=40", "train.ckpt_every=2"], {"TOY_SLEEP": "0.05"}),
    )
    proc.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            found = ckpt.list_checkpoints(run_dir)
            if found and found[-1][0] >= 4:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == -signal.SIGKILL
    killed_at = ckpt.list_checkpoints(run_dir)[-1][0]
    assert 4 <= killed_at < 40
    run_toy(run_dir, ["train.steps=40", "train.ckpt_every=2"])
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 41))  # each step logged once, no gap, no duplicate
    assert ckpt.latest_checkpoint(run_dir).name == "step_00000040"
    assert len(ckpt.list_checkpoints(run_dir)) == 3  # keep_last
    assert not list((run_dir / "checkpoints").glob(".tmp_*"))


def test_sigterm_saves_checkpoint_and_stops(tmp_path):
    # The job sends itself SIGTERM during step 5 (as torchrun / a scheduler would): the step finishes,
    # a checkpoint is written, fit() returns early, and a rerun continues from there.
    run_toy(tmp_path / "term", ["train.steps=40", "train.ckpt_every=0"], term_at_step=4)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "term")] == [5]
    run_toy(tmp_path / "term", ["train.steps=8", "train.ckpt_every=0"])
    assert ckpt.latest_checkpoint(tmp_path / "term").name == "step_00000008"


def test_non_finite_step_is_skipped_and_a_run_of_them_stops_with_advice(tmp_path):
    from toy_train import ToyTask, toy_config

    from kinema.training.engine import MAX_BAD_STEPS, Trainer

    task = ToyTask()
    task.nan_steps = {2}
    trainer = Trainer(toy_config(tmp_path / "a", train={"steps": 3, "ckpt_every": 0}), task)
    trainer.fit()
    first = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert all(torch.isfinite(v).all() for v in first.values())
    assert trainer.ema.num_updates == 2  # the skipped step left weights and EMA alone

    task = ToyTask()
    task.nan_steps = set(range(100))
    trainer = Trainer(toy_config(tmp_path / "b", train={"steps": 50, "ckpt_every": 0}), task)
    with pytest.raises(FloatingPointError, match="lower optim.lr"):
        trainer.fit()
    assert trainer.step == MAX_BAD_STEPS - 1


def test_fresh_run_refuses_a_run_dir_with_checkpoints(tmp_path):
    from kinema.errors import InvalidInputError

    run_toy(tmp_path / "r", ["train.steps=2"])
    with pytest.raises(InvalidInputError, match="already holds checkpoints"):
        run_toy(tmp_path / "r", ["train.steps=2", "train.resume=never"])


def test_lr_schedule_warmup_then_cosine_to_floor():
    f = [lr_factor(s, 10, 2, "cosine", 0.1) for s in range(10)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(1.0)
    assert f[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[2:], f[3:]))
    assert lr_factor(10, 10, 2, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(7, 10, 0, "constant", 0.1) == 1.0
