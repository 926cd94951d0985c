"""pymunk path: walls, bounces, events, rotation, determinism."""

import numpy as np

from kinema.world.simulate import polygon_vertices, simulate
from kinema.world.spec import ObjectSpec, SceneSpec, WallsSpec


def test_ball_bounces_off_the_floor_and_keeps_its_energy():
    spec = SceneSpec(
        objects=[ObjectSpec(size=0.5, position=(5, 3), velocity=(0, -4))],
        walls=WallsSpec(floor=True, restitution=1.0),
        num_frames=20,
        fps=10,
    )
    r = simulate(spec)
    y, vy = r.states[:, 0, 1], r.states[:, 0, 3]
    assert [(e.kind, e.wall) for e in r.events] == [("bounce", "floor")]
    assert y.min() >= 0.5 - 0.02  # never sinks into the floor
    assert vy[-1] > 3.9  # came back up with (almost) the same speed
    assert 5 <= r.events[0].frame <= 7  # reaches the floor after 2.5 units at 4 units/s = 0.625 s


def test_gravity_spin_and_polygon_colliders():
    spec = SceneSpec(
        objects=[
            ObjectSpec(shape="triangle", size=1.0, position=(5, 8), angular_velocity=2.0, restitution=0.5)
        ],
        gravity=(0, -2.5),
        walls=WallsSpec(floor=True),
        num_frames=12,
        fps=10,
    )
    s = simulate(spec).states
    np.testing.assert_allclose(s[:5, 0, 1], 8 - 1.25 * (np.arange(5) * 0.1) ** 2, atol=0.01)
    np.testing.assert_allclose(s[:5, 0, 4], 2.0 * np.arange(5) * 0.1, atol=1e-9)
    verts = np.array(polygon_vertices(spec.objects[0]))
    np.testing.assert_allclose(np.linalg.norm(verts, axis=1), 1.0)  # circumradius = size
    np.testing.assert_allclose(verts.mean(0), 0.0, atol=1e-12)  # centroid at the body origin


def test_simulation_is_deterministic():
    spec = SceneSpec(
        objects=[
            ObjectSpec(shape="square", size=0.8, position=(3, 5), velocity=(2, 0.5), color="green"),
            ObjectSpec(shape="circle", size=0.8, position=(7, 5.3), velocity=(-2, 0), color="blue"),
        ],
        walls=WallsSpec(floor=True, ceiling=True, left=True, right=True),
        num_frames=30,
    )
    a, b = simulate(spec), simulate(spec)
    assert a.states.tobytes() == b.states.tobytes()
    assert any(e.kind == "collision" and (e.a, e.b) == (0, 1) for e in a.events)
