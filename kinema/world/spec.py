"""Typed, validated descriptions of a physics-world scene.

Coordinates: the world is a rectangle `[0, world_width] x [0, world_height]` in world units, `y` pointing
**up** (physics convention), origin at the bottom-left. The seed paper's world is 10 x 10 (arXiv 2411.02385).
At rest the camera shows exactly that rectangle; pixels are square, so the world's aspect ratio must equal the
frame's (`world_width / world_height == width / height`).

Pixel coordinates (tracks, parser): `x_px` to the right, `y_px` down, and the centre of pixel `(row i, col j)`
is at `(x_px, y_px) = (j, i)` — so a mask's mean index is directly a pixel position.

`SceneSpec.parse(dict)` turns a plain dict (JSON) into a spec and raises `InvalidInputError` naming the field
and its allowed range; building the models directly raises pydantic's `ValidationError` (also a `ValueError`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# CAMERA_PRESETS is re-exported: the world's users (dataset, eval, the physics planner) import it from here.
from kinema.camera_vocab import CAMERA_AXES, CAMERA_RANGE
from kinema.camera_vocab import CAMERA_PRESETS as CAMERA_PRESETS
from kinema.errors import InvalidInputError

Shape = Literal["circle", "square", "triangle", "ring"]
Coordinate = Annotated[float, Field(ge=-1e4, le=1e4)]  # world units
Speed = Annotated[float, Field(ge=-1e3, le=1e3)]  # world units per second
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "ring")


def shape_code(shape: str) -> int:
    """A shape's code in the tracks' eighth column: 1-4 in `SHAPES` order (0 there = not given)."""
    return SHAPES.index(shape) + 1


# Named colours (RGB). Red and blue are the paper's pure (255,0,0) / (0,0,255). The others are chosen far
# apart in RGB so the parser can tell them apart with a nearest-colour rule.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "blue": (0, 0, 255),
    "green": (0, 170, 0),
    "yellow": (235, 200, 0),
    "purple": (130, 0, 170),
    "orange": (255, 120, 0),
    "cyan": (0, 190, 210),
    "black": (20, 20, 20),
}


def color_unit(name: str) -> tuple[float, float, float]:
    """A named world colour as r, g, b in 0-1 (how the trajectory map and the dataset's tracks carry it)."""
    r, g, b = COLORS[name]
    return r / 255.0, g / 255.0, b / 255.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ObjectSpec(_Model):
    """One rigid object. `size` is the circumradius in world units (a circle's radius, the distance from a
    square's or triangle's centre to a corner, a ring's outer radius)."""

    shape: Shape = "circle"
    color: str = Field(default="red", description="a name from COLORS")
    size: float = Field(default=1.0, gt=0.05, le=5.0)
    position: tuple[Coordinate, Coordinate] = (5.0, 5.0)
    velocity: tuple[Speed, Speed] = (0.0, 0.0)
    angle: float = Field(default=0.0, ge=-100.0, le=100.0, description="radians, counter-clockwise")
    angular_velocity: float = Field(default=0.0, ge=-50.0, le=50.0, description="radians per second")
    density: float = Field(default=1.0, gt=0.0, le=100.0, description="mass per unit area")
    restitution: float = Field(default=1.0, ge=0.0, le=1.0)
    friction: float = Field(default=0.0, ge=0.0, le=2.0)
    static: bool = False

    @model_validator(mode="after")
    def _known_color(self) -> ObjectSpec:
        if self.color not in COLORS:
            raise ValueError(f"color {self.color!r} is unknown; use one of {sorted(COLORS)}")
        return self

    @property
    def rgb(self) -> tuple[int, int, int]:
        return COLORS[self.color]


class CameraSpec(_Model):
    """A virtual camera with Kling's six axes (each -10..10; meanings and speeds in `kinema.world.camera`).
    `preset`, when set, overrides the six axes with that preset's documented composition."""

    horizontal: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    vertical: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    pan: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    tilt: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    roll: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    zoom: float = Field(default=0.0, ge=-CAMERA_RANGE, le=CAMERA_RANGE)
    preset: Literal["down_back", "forward_up", "right_turn_forward", "left_turn_forward"] | None = None

    @property
    def is_static(self) -> bool:
        return self.preset is None and all(getattr(self, a) == 0.0 for a in CAMERA_AXES)


class BackgroundSpec(_Model):
    """`flat` is one colour; `checker`, `grid` and `noise` are deterministic textures fixed to the world plane
    (so a moving camera visibly moves them). `cell` is the texture period in world units."""

    kind: Literal["flat", "checker", "grid", "noise"] = "flat"
    color: tuple[int, int, int] = (255, 255, 255)
    color2: tuple[int, int, int] = (200, 200, 200)
    cell: float = Field(default=1.0, gt=0.05, le=50.0)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _rgb_range(self) -> BackgroundSpec:
        for name in ("color", "color2"):
            if any(not 0 <= c <= 255 for c in getattr(self, name)):
                raise ValueError(f"{name} must hold three integers in 0..255, got {getattr(self, name)}")
        return self


class WallsSpec(_Model):
    """Static walls on the world's borders; each one reflects objects with the given restitution."""

    floor: bool = False
    ceiling: bool = False
    left: bool = False
    right: bool = False
    restitution: float = Field(default=1.0, ge=0.0, le=1.0)
    friction: float = Field(default=0.0, ge=0.0, le=2.0)


class SceneSpec(_Model):
    """A whole clip: objects, physics, timing, resolution, background and camera."""

    objects: list[ObjectSpec] = Field(default_factory=list, max_length=16)
    world_size: tuple[float, float] = (10.0, 10.0)
    gravity: tuple[float, float] = (0.0, 0.0)
    walls: WallsSpec = Field(default_factory=WallsSpec)
    num_frames: int = Field(default=32, ge=1, le=2048)
    fps: float = Field(default=10.0, gt=0.0, le=240.0)
    width: int = Field(default=128, ge=8, le=4096)
    height: int = Field(default=128, ge=8, le=4096)
    background: BackgroundSpec = Field(default_factory=BackgroundSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    scenario: str = "custom"
    params: dict[str, Any] = Field(default_factory=dict, description="scenario parameters (e.g. OOD flags)")

    @model_validator(mode="after")
    def _consistent(self) -> SceneSpec:
        ww, wh = self.world_size
        if not (0.5 <= ww <= 1000 and 0.5 <= wh <= 1000):
            raise ValueError(f"world_size must be in 0.5..1000 on each side, got {self.world_size}")
        if abs(ww / wh - self.width / self.height) > 0.01 * (self.width / self.height):
            raise ValueError(
                f"world_size {self.world_size} has aspect {ww / wh:.3f} but the frame {self.width}x{self.height} "
                f"has {self.width / self.height:.3f}; make them equal (pixels are square)"
            )
        if any(abs(g) > 100 for g in self.gravity):
            raise ValueError(f"gravity components must be in -100..100, got {self.gravity}")
        return self

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def pixels_per_unit(self) -> float:
        return self.height / self.world_size[1]

    def object_looks(self, k: int) -> tuple[float, float, float, float, float]:
        """Object k's looks as the trajectory map carries them: r, g, b in 0-1, its radius in pixels
        (without the camera; `grounding.tracks_from_states` measures it through the camera per frame) and
        its shape's code (`shape_code`)."""
        obj = self.objects[k]
        return (*color_unit(obj.color), obj.size * self.pixels_per_unit, float(shape_code(obj.shape)))

    @classmethod
    def parse(cls, data: dict[str, Any] | SceneSpec) -> SceneSpec:
        """Validate a plain dict; errors name the field and say what is allowed."""
        if isinstance(data, SceneSpec):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInputError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "scene"
        msg = err["msg"].removeprefix("Value error, ")
        got = repr(err.get("input"))
        parts.append(f"{field}: {msg} (got {got[:80]})")
    return "invalid scene spec: " + "; ".join(parts) + ". Fix these fields and try again."
