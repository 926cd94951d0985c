"""Shared, session-scoped test cases: building them renders clips, so each set is built once."""

from __future__ import annotations

import pytest

from kinema.eval import physics


@pytest.fixture(scope="session")
def physics_settings() -> physics.PhysicsSettings:
    # 64 px keeps the parser floor well below the wrong models' errors at a fraction of 128 px's cost.
    return physics.PhysicsSettings(n=1, size=64, seed=3)


@pytest.fixture(scope="session")
def physics_cases(physics_settings):
    return physics.build_cases(physics_settings)


@pytest.fixture(scope="session")
def physics_oracle(physics_cases):
    return physics.build_oracle(physics_cases)
