"""Closed-form paper scenes: physics invariants, parameter ranges, determinism, agreement with pymunk."""

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.world import paper
from kinema.world.simulate import simulate


def _in(values, intervals):
    values = np.asarray(values).ravel()
    return np.array([any(lo - 1e-12 <= v <= hi + 1e-12 for lo, hi in intervals) for v in values])


@pytest.mark.parametrize("split", ["id", "ood"])
def test_collision_conserves_momentum_and_energy(split):
    p = paper.sample_paper_params("collision", split, 200, generator=0)
    states = paper.simulate_paper(p)  # (n, T, 2, 6)
    m = p.radius**2  # (n, 2): mass ∝ r² (2D discs)
    v0, v1 = states[:, 0, :, 2], states[:, -1, :, 2]  # (n, 2) x-velocities before / after
    assert np.all(p.collision_time < 3.1)
    mom0, mom1 = (m * v0).sum(1), (m * v1).sum(1)
    ke0, ke1 = (m * v0**2).sum(1), (m * v1**2).sum(1)
    scale = (m * np.abs(v0)).sum(1) + 1e-9
    assert np.max(np.abs(mom1 - mom0) / scale) <= 1e-3
    moving = ke0 > 1e-9
    assert np.max(np.abs(ke1 - ke0)[moving] / ke0[moving]) <= 1e-3
    # the balls really exchanged momentum (not a no-op): red's velocity changed in most clips
    assert np.mean(np.abs(v1[:, 0] - v0[:, 0]) > 1e-6) > 0.9


def test_collision_touches_at_contact_time_and_never_overlaps():
    p = paper.sample_paper_params("collision", "id", 50, generator=1)
    states = paper.simulate_paper(p, num_frames=321, dt=0.01)
    gap = states[:, :, 1, 0] - states[:, :, 0, 0] - p.radius.sum(1)[:, None]  # (n, T)
    assert gap.min() > -0.06  # at most one 0.01-s step of penetration (closed form is exact at tc)
    tc = p.collision_time
    x1 = p.position[:, 0, 0] + p.velocity[:, 0, 0] * tc
    x2 = p.position[:, 1, 0] + p.velocity[:, 1, 0] * tc
    np.testing.assert_allclose(x2 - x1, p.radius.sum(1), atol=1e-9)
    assert np.all(tc >= 0.35 - 1e-12)  # after the three conditioning frames


def test_parabola_fitted_acceleration_is_gravity():
    p = paper.sample_paper_params("parabola", "ood", 20, generator=2)
    states = paper.simulate_paper(p)
    t = np.arange(32) * 0.1
    for i in range(20):
        ay = 2 * np.polyfit(t, states[i, :, 0, 1], 2)[0]
        ax = 2 * np.polyfit(t, states[i, :, 0, 0], 2)[0]
        assert ay == pytest.approx(-2.5, abs=1e-9)
        assert ax == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(states[:, :, 0, 3], np.broadcast_to(-2.5 * t, (20, 32)), atol=1e-12)


def test_uniform_is_horizontal_constant_velocity():
    p = paper.sample_paper_params("uniform", "id", 20, generator=3)
    s = paper.simulate_paper(p)
    assert np.all(s[:, :, 0, 1] == s[:, :1, 0, 1])
    np.testing.assert_allclose(
        np.diff(s[:, :, 0, 0], axis=1), 0.1 * p.velocity[:, :, 0].repeat(31, 1), atol=1e-12
    )


def test_id_and_ood_ranges_and_levels():
    idp = paper.sample_paper_params("collision", "id", 300, generator=4)
    assert _in(idp.radius, paper.ID_RADIUS).all()
    assert _in(np.abs(idp.velocity[..., 0]), paper.ID_SPEED).all()
    assert (idp.ood_level == 0).all()
    ood = paper.sample_paper_params("collision", "ood", 300, generator=4)
    assert (ood.ood_level >= 1).all() and set(ood.ood_level.tolist()) == {1, 2, 3, 4}
    names = paper.PARAM_NAMES["collision"]
    values = {
        "r1": ood.radius[:, 0],
        "r2": ood.radius[:, 1],
        "v1": ood.velocity[:, 0, 0],
        "v2": -ood.velocity[:, 1, 0],
    }
    for j, name in enumerate(names):
        rng_ood = paper.OOD_RADIUS if name[0] == "r" else paper.OOD_SPEED
        rng_id = paper.ID_RADIUS if name[0] == "r" else paper.ID_SPEED
        flag = ood.ood[:, j]
        assert _in(values[name][flag], rng_ood).all()
        assert _in(values[name][~flag], rng_id).all()
    clip = ood.clip(0)
    assert clip["ood_level"] == len(clip["ood_params"]) and set(clip["ood_params"]) <= set(names)
    fixed = paper.sample_paper_params("collision", "ood", 50, generator=5, ood_params=["v2"])
    assert (fixed.ood_level == 1).all() and _in(-fixed.velocity[:, 1, 0], paper.OOD_SPEED).all()
    with pytest.raises(InvalidInputError, match="ood_params"):
        paper.sample_paper_params("collision", "ood", 2, generator=5, ood_params=["speed"])
    with pytest.raises(InvalidInputError, match="scenario"):
        paper.sample_paper_params("spiral", "id", 2)


def test_sampling_is_deterministic():
    a = paper.sample_paper_params("parabola", "ood", 8, generator=9)
    b = paper.sample_paper_params("parabola", "ood", 8, seed=9)
    c = paper.sample_paper_params("parabola", "ood", 8, generator=torch.Generator().manual_seed(9))
    d = paper.sample_paper_params("parabola", "ood", 8, generator=torch.Generator().manual_seed(9))
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(c.velocity, d.velocity)
    assert not np.array_equal(
        a.velocity, paper.sample_paper_params("parabola", "ood", 8, generator=10).velocity
    )


@pytest.mark.parametrize("scenario", paper.SCENARIOS)
@pytest.mark.parametrize("split", ["id", "ood"])
def test_closed_form_agrees_with_pymunk(scenario, split):
    p = paper.sample_paper_params(scenario, split, 3, generator=11 if split == "id" else 3)
    closed = paper.simulate_paper(p)
    for i in range(3):
        result = simulate(paper.paper_spec(p, i))
        # pymunk finds the contact up to one 1/600-s substep late: closing speed (≤ 12 units/s OOD) × step
        atol = 0.02 if split == "id" else 0.05
        np.testing.assert_allclose(result.states[..., :2], closed[i, ..., :2], atol=atol)
        np.testing.assert_allclose(result.states[..., 2:4], closed[i, ..., 2:4], atol=0.02)
        if scenario == "collision":
            assert [e.kind for e in result.events] == ["collision"]
            assert abs(result.events[0].frame - p.collision_time[i] / 0.1) <= 1.0
